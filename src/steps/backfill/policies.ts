/**
 * Compression policies and compressed chunks on the target hypertables.
 *
 * A compression job running during the backfill would compress chunks we are about to clear and
 * refill. So we pause the tables' compression jobs, remembering in `_migrate.paused_job` whether
 * each was scheduled before (a job the operator had switched off stays off), and restore exactly
 * that when the backfill ends, fails, or, after a crash, on the next run or `migrate resume`.
 * The remembered state is written in the same transaction as the pause, and a second pause never
 * overwrites it, so a crash between the two cannot lose it.
 */
import { withTransaction, type Client } from '../../core/db.js';
import { displayName, quoteIdent, type QualifiedName } from '../../core/identifiers.js';
import { isIntegerTimeType, type TimeType } from '../../core/time-values.js';
import { ledgerExists } from './ledger.js';

export interface PausedJob { jobId: number; hypertable: string; wasScheduled: boolean }

/** The schema timescaledb's API lives in, or undefined when the extension is not installed. */
export async function timescaleSchema(client: Client): Promise<string | undefined> {
  const { rows } = await client.query<{ schema: string }>(
    "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'timescaledb'");
  return rows[0]?.schema;
}

const JOBS_SQL = `SELECT job_id, scheduled FROM timescaledb_information.jobs
   WHERE proc_name = 'policy_compression' AND hypertable_schema = $1 AND hypertable_name = $2 ORDER BY job_id`;

function alterJobSql(schema: string): string {
  // extnamespace::regnamespace::text is already quoted where needed.
  return `SELECT ${schema}.alter_job($1, scheduled => $2)`;
}

/** Pause the compression jobs of these tables; returns what was paused (with the state to restore). */
export async function pauseCompressionPolicies(client: Client, tables: QualifiedName[], by: string): Promise<PausedJob[]> {
  const schema = await timescaleSchema(client);
  if (!schema) return [];
  const paused: PausedJob[] = [];
  for (const table of tables) {
    const { rows } = await client.query<{ job_id: number; scheduled: boolean }>(JOBS_SQL, [table.schema, table.table]);
    for (const job of rows) {
      await withTransaction(client, async () => {
        // A crashed run may have paused it already: keep the state it recorded (the original one).
        await client.query(
          `INSERT INTO _migrate.paused_job (job_id, hypertable_schema, hypertable_name, was_scheduled, paused_by)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING`, [job.job_id, table.schema, table.table, job.scheduled, by]);
        if (job.scheduled) await client.query(alterJobSql(schema), [job.job_id, false]);
      });
      const { rows: recorded } = await client.query<{ was_scheduled: boolean }>(
        'SELECT was_scheduled FROM _migrate.paused_job WHERE job_id = $1', [job.job_id]);
      paused.push({ jobId: job.job_id, hypertable: displayName(table), wasScheduled: recorded[0]?.was_scheduled ?? job.scheduled });
    }
  }
  return paused;
}

/**
 * Put every paused job back the way it was and forget it. Callers make sure no other backfill is
 * running (RUN_LOCK), or it would lose its pause.
 */
export async function restoreRecordedPolicies(client: Client): Promise<PausedJob[]> {
  if (!(await ledgerExists(client))) return [];
  const schema = await timescaleSchema(client);
  const { rows } = await client.query<{ job_id: number; schema: string; table: string; was_scheduled: boolean }>(
    `SELECT job_id, hypertable_schema AS schema, hypertable_name AS table, was_scheduled FROM _migrate.paused_job ORDER BY job_id`);
  const restored: PausedJob[] = [];
  for (const row of rows) {
    await withTransaction(client, async () => {
      const exists = schema !== undefined && (await client.query('SELECT 1 FROM timescaledb_information.jobs WHERE job_id = $1',
        [row.job_id])).rowCount !== 0;
      // A job dropped meanwhile (remove_compression_policy) has nothing to restore.
      if (exists) await client.query(alterJobSql(schema as string), [row.job_id, row.was_scheduled]);
      await client.query('DELETE FROM _migrate.paused_job WHERE job_id = $1', [row.job_id]);
    });
    restored.push({ jobId: row.job_id, hypertable: displayName(row), wasScheduled: row.was_scheduled });
  }
  return restored;
}

export async function countPausedJobs(client: Client): Promise<number> {
  if (!(await ledgerExists(client))) return 0;
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM _migrate.paused_job');
  return Number(rows[0]?.n ?? 0);
}

/** Compressed chunks of the hypertable that overlap [from, until). */
export async function compressedChunks(client: Client, table: QualifiedName, type: TimeType, from: string, until: string):
  Promise<QualifiedName[]> {
  if (!(await timescaleSchema(client))) return [];
  const [lo, hi] = isIntegerTimeType(type)
    ? ['range_start_integer', 'range_end_integer'] : ['range_start', 'range_end'];
  const cast = isIntegerTimeType(type) ? 'bigint' : 'timestamptz';
  // -infinity / the integer minimum need no cast trouble: both are valid values of the cast type.
  const { rows } = await client.query<QualifiedName>(
    `SELECT chunk_schema AS schema, chunk_name AS table FROM timescaledb_information.chunks
      WHERE hypertable_schema = $1 AND hypertable_name = $2 AND is_compressed
        AND ${hi} > $3::${cast} AND ${lo} < $4::${cast} ORDER BY ${lo}`, [table.schema, table.table, from, until]);
  return rows;
}

/** Decompress chunks, each in its own transaction (so a failure keeps the work done). */
export async function decompressChunks(client: Client, chunks: QualifiedName[]): Promise<void> {
  const schema = await timescaleSchema(client);
  if (!schema) return;
  for (const chunk of chunks) {
    await client.query(`SELECT ${schema}.decompress_chunk($1::regclass, if_compressed => true)`,
      [`${quoteIdent(chunk.schema)}.${quoteIdent(chunk.table)}`]);
  }
}
