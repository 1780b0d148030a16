/**
 * `migrate schema` from a TimescaleDB source: the script psql runs inside the load's transaction,
 * after the dump and before timescaledb_post_restore(), that pauses every background job (id >= 1000)
 * and records it in the ledger with the tables the backfill must fill (backfill/schema-load-pause.ts
 * has the rule that brings the jobs back).
 *
 * Why there: post_restore restarts the job scheduler, and the scheduler sees only committed rows. With
 * the pause in the load's transaction the jobs arrive paused: no job can run between the load and the
 * pause, and a load that fails or is interrupted rolls the pause and its record back with everything
 * else. So no crash leaves a loaded schema with jobs running and unrecorded: there is no such state to
 * repair. (alter_job works while timescaledb.restoring is on: the dump has loaded the job catalog.)
 * Values travel as psql variables, which psql quotes (`:'name'`), never spliced into the SQL.
 */
import type { Client } from '../core/db.js';
import { displayName, quoteIdent, type QualifiedName } from '../core/identifiers.js';
import { LEDGER_SCRIPT, SCHEMA_LOAD_PAUSE } from './backfill/ledger.js';
import { jobLabel, jobsToPause, type PausedJob } from './backfill/policies.js';
import { readJobPause } from './backfill/schema-load-pause.js';
import type { AfterLoad } from './schema-commands.js';

/** The script's file in the migration directory, next to dump.sql. */
export const PAUSE_JOBS_FILE = 'pause-jobs.sql';

/** The SQL of the script; `extensionSchema` is where TimescaleDB's API lives (the dump set search_path to ''). */
export function pauseJobsScript(extensionSchema: string): string {
  return `-- migrate schema: pause every background job until the backfill of every table left empty is complete.
${LEDGER_SCRIPT.trim()}
INSERT INTO _migrate.expected_backfill (schema_name, table_name)
  SELECT t.schema_name, t.table_name
    FROM pg_catalog.json_to_recordset(:'migrate_expected'::pg_catalog.json) AS t(schema_name text, table_name text)
  ON CONFLICT DO NOTHING;
-- The first record of a job holds its original state: one a backfill recorded keeps it, now waiting as well.
INSERT INTO _migrate.paused_job (job_id, hypertable_schema, hypertable_name, was_scheduled, paused_by)
  SELECT job_id, coalesce(hypertable_schema, ''), coalesce(hypertable_name, ''), scheduled, :'migrate_paused_by'
    FROM timescaledb_information.jobs WHERE job_id >= 1000
  ON CONFLICT (job_id) DO UPDATE SET paused_by = excluded.paused_by;
SELECT ${quoteIdent(extensionSchema)}.alter_job(job_id, scheduled => false)
  FROM timescaledb_information.jobs WHERE job_id >= 1000 AND scheduled;
`;
}

/** The script as the load runs it: its file and the psql variables it reads. */
export function pauseJobsLoad(file: string, expected: QualifiedName[]): AfterLoad {
  return {
    file,
    variables: {
      migrate_expected: JSON.stringify(expected.map((t) => ({ schema_name: t.schema, table_name: t.table }))),
      migrate_paused_by: SCHEMA_LOAD_PAUSE,
    },
  };
}

export interface SchemaJobPause {
  /** Each job with the state it comes back to (under --dry-run: the jobs the load would pause). */
  jobs: PausedJob[];
  /** The tables whose backfill the jobs wait for. */
  expectedBackfill: QualifiedName[];
}

/** --dry-run: the source's jobs (the dump brings them, ids and all) and any already in the target. */
export async function previewJobPause(source: Client, target: Client, expected: QualifiedName[]): Promise<SchemaJobPause> {
  const found = [...await jobsToPause(source, [], 'all'), ...await jobsToPause(target, [], 'all')];
  const jobs = found.sort((a, b) => a.jobId - b.jobId).map((j) => ({ jobId: j.jobId,
    hypertable: j.hypertable ? displayName(j.hypertable) : '', wasScheduled: j.scheduled }));
  return { jobs, expectedBackfill: expected };
}

/** After the load: the jobs it paused, as the ledger recorded them. */
export async function recordedJobPause(target: Client, expected: QualifiedName[]): Promise<SchemaJobPause> {
  return { jobs: (await readJobPause(target)).sinceSchemaLoad, expectedBackfill: expected };
}

/** The message and its detail lines, for the run and for --dry-run. */
export function describeJobPause(pause: SchemaJobPause, dryRun: boolean): { message: string; detail: string[] } {
  const n = pause.jobs.length;
  const jobs = `${n} background job${n === 1 ? '' : 's'} (id >= 1000)`;
  const message = n === 0
    ? `${dryRun ? 'Would record' : 'Recorded'} the tables to backfill in the target's ledger (_migrate.expected_backfill); ` +
      'no background job to pause.'
    : `${dryRun ? 'Would pause' : 'Paused'} ${jobs} in the load's transaction, before timescaledb_post_restore() ` +
      `${dryRun ? 'restarts' : 'restarted'} the job scheduler (recorded in _migrate.paused_job). Each comes back as it is on ` +
      'the source once every table the dump left empty is completely backfilled:';
  const detail = pause.jobs.map((j) => `${jobLabel(j)}: ${j.wasScheduled ? 'scheduled, paused' : 'not scheduled, stays so'}`);
  detail.push(`tables to backfill: ${pause.expectedBackfill.map(displayName).join(', ') || '(none)'}`);
  return { message, detail };
}
