/**
 * Background jobs (policies) and compressed chunks on the target during the backfill.
 *
 * Which jobs are paused:
 * - from a TimescaleDB source, or when a continuous aggregate reads a backfilled hypertable: every
 *   job with id >= 1000 (DESIGN.md §2: policies of all kinds and user jobs; the caggs are refreshed
 *   over the backfilled range before the jobs come back, see continuous-aggregates.ts);
 * - otherwise the policy jobs of the backfilled hypertables: compression (it would compress chunks
 *   we are about to clear and refill), retention (it would drop chunks just copied: the copied
 *   range is old data by nature) and reorder (it rewrites chunks under an exclusive lock).
 * We remember in `_migrate.paused_job` whether each was scheduled before (a job the operator had
 * switched off stays off), and restore exactly that when the backfill ends, fails, or, after a
 * crash, on the next run or `migrate resume`. The remembered state is written in the same
 * transaction as the pause, and a second pause never overwrites it, so a crash between the two
 * cannot lose it. Jobs without a hypertable are recorded with an empty hypertable name.
 * From a TimescaleDB source, `migrate schema` has paused and recorded every job already, in its
 * load's transaction; those come back only once every table it left empty is backfilled
 * (schema-load-pause.ts), and a backfill's own pause of them keeps that first record.
 */
import { withTransaction, type Client } from '../../core/db.js';
import { displayName, quoteIdent, type QualifiedName } from '../../core/identifiers.js';
import { isIntegerTimeType, type TimeType } from '../../core/time-values.js';
import { hasContinuousAggregates } from './continuous-aggregates.js';
import { SCHEMA_LOAD_PAUSE, ledgerExists } from './ledger.js';

/** `hypertable` is '' for a job that belongs to no hypertable (a user-defined job). */
export interface PausedJob { jobId: number; hypertable: string; wasScheduled: boolean }

/** 'all': every job with id >= 1000; 'tables': the policy jobs of the backfilled hypertables. */
export type PauseScope = 'all' | 'tables';

export interface TargetJob { jobId: number; scheduled: boolean; hypertable: QualifiedName | undefined }

export function jobLabel(job: { jobId: number; hypertable: string }): string {
  return job.hypertable ? `job ${job.jobId} on ${job.hypertable}` : `job ${job.jobId}`;
}

/** The schema timescaledb's API lives in, or undefined when the extension is not installed. */
export async function timescaleSchema(client: Client): Promise<string | undefined> {
  const { rows } = await client.query<{ schema: string }>(
    "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'timescaledb'");
  return rows[0]?.schema;
}

/** Table policies we pause when not pausing everything (see the header). */
const TABLE_POLICIES = ['policy_compression', 'policy_retention', 'policy_reorder'];

function alterJobSql(schema: string): string {
  // extnamespace::regnamespace::text is already quoted where needed.
  return `SELECT ${schema}.alter_job($1, scheduled => $2)`;
}

/** 'all' from a TimescaleDB source or when a continuous aggregate reads one of the tables (DESIGN.md §2). */
export async function pauseScope(target: Client, tables: QualifiedName[], sourceIsTimescale: boolean): Promise<PauseScope> {
  if (sourceIsTimescale) return 'all';
  if (!(await timescaleSchema(target))) return 'tables';
  return (await hasContinuousAggregates(target, tables)) ? 'all' : 'tables';
}

/** The jobs a backfill of these tables pauses, with their current `scheduled`. */
export async function jobsToPause(client: Client, tables: QualifiedName[], scope: PauseScope): Promise<TargetJob[]> {
  if (!(await timescaleSchema(client))) return [];
  const { rows } = await client.query<{ job_id: number; scheduled: boolean; schema: string | null; table: string | null }>(
    `SELECT job_id, scheduled, hypertable_schema AS schema, hypertable_name AS table FROM timescaledb_information.jobs
      WHERE job_id >= 1000 AND ($1 OR (proc_name = ANY($2::text[])
        AND (hypertable_schema, hypertable_name) IN (SELECT * FROM unnest($3::text[], $4::text[]))))
      ORDER BY job_id`,
    [scope === 'all', TABLE_POLICIES, tables.map((t) => t.schema), tables.map((t) => t.table)]);
  return rows.map((r) => ({ jobId: r.job_id, scheduled: r.scheduled,
    hypertable: r.schema !== null && r.table !== null ? { schema: r.schema, table: r.table } : undefined }));
}

/** Pause these jobs; returns what was paused (with the state to restore). */
export async function pauseJobs(client: Client, jobs: TargetJob[], by: string): Promise<PausedJob[]> {
  const schema = await timescaleSchema(client);
  if (!schema) return [];
  const paused: PausedJob[] = [];
  for (const job of jobs) {
    await withTransaction(client, async () => {
      // A crashed run may have paused it already: keep the state it recorded (the original one).
      await client.query(
        `INSERT INTO _migrate.paused_job (job_id, hypertable_schema, hypertable_name, was_scheduled, paused_by)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING`,
        [job.jobId, job.hypertable?.schema ?? '', job.hypertable?.table ?? '', job.scheduled, by]);
      if (job.scheduled) await client.query(alterJobSql(schema), [job.jobId, false]);
    });
    const { rows: recorded } = await client.query<{ was_scheduled: boolean }>(
      'SELECT was_scheduled FROM _migrate.paused_job WHERE job_id = $1', [job.jobId]);
    paused.push({ jobId: job.jobId, hypertable: job.hypertable ? displayName(job.hypertable) : '',
      wasScheduled: recorded[0]?.was_scheduled ?? job.scheduled });
  }
  return paused;
}

/**
 * Put every paused job back the way it was and forget it; with keepSchemaLoad, all but those the
 * schema load paused (they wait for every expected table, schema-load-pause.ts). Callers make sure no
 * other backfill is running (RUN_LOCK), or it would lose its pause.
 */
export async function restoreRecordedPolicies(client: Client, { keepSchemaLoad = false } = {}): Promise<PausedJob[]> {
  if (!(await ledgerExists(client))) return [];
  const schema = await timescaleSchema(client);
  const { rows } = await client.query<{ job_id: number; schema: string; table: string; was_scheduled: boolean }>(
    `SELECT job_id, hypertable_schema AS schema, hypertable_name AS table, was_scheduled FROM _migrate.paused_job
      WHERE NOT $1 OR paused_by <> $2 ORDER BY job_id`, [keepSchemaLoad, SCHEMA_LOAD_PAUSE]);
  const restored: PausedJob[] = [];
  for (const row of rows) {
    await withTransaction(client, async () => {
      const exists = schema !== undefined && (await client.query('SELECT 1 FROM timescaledb_information.jobs WHERE job_id = $1',
        [row.job_id])).rowCount !== 0;
      // A job dropped meanwhile (remove_compression_policy, delete_job) has nothing to restore.
      if (exists) await client.query(alterJobSql(schema as string), [row.job_id, row.was_scheduled]);
      await client.query('DELETE FROM _migrate.paused_job WHERE job_id = $1', [row.job_id]);
    });
    restored.push({ jobId: row.job_id, hypertable: row.table === '' ? '' : displayName(row), wasScheduled: row.was_scheduled });
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
