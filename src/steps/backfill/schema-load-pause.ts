/**
 * Background jobs paused by `migrate schema` for a TimescaleDB source (issue #9, item 4).
 *
 * timescaledb_post_restore() restarts the job scheduler, and the target's jobs would then run over
 * tables the backfill has not filled yet: refresh policies materialize aggregates from dual-written
 * rows alone, retention and compression work on half-empty hypertables, user jobs write into tables.
 * So the load pauses every job (id >= 1000) in its own transaction, before post_restore, and records
 * each one in `_migrate.paused_job` (paused_by = SCHEMA_LOAD_PAUSE) with the tables the dump left
 * empty in `_migrate.expected_backfill` (schema-jobs.ts writes that script).
 *
 * The rule for bringing them back: a job paused by the schema load is restored (to its recorded,
 * i.e. source-side, state) only when every expected table has a plan in the ledger with every slice
 * done and no backfill is running (the restorer holds RUN_LOCK exclusively, restore.ts). Not when the
 * first of several per-table backfills ends. Jobs a backfill paused itself keep that backfill's rule,
 * unless the schema load recorded them first: the first record holds the original state, and its
 * paused_by decides. `migrate clean --force` restores all of them regardless.
 */
import type { Client } from '../../core/db.js';
import { displayName, type QualifiedName } from '../../core/identifiers.js';
import { SCHEMA_LOAD_PAUSE, ledgerExists } from './ledger.js';
import type { PausedJob } from './policies.js';

/**
 * Expected tables whose backfill is not complete: no plan yet, or a slice still pending. Empty when
 * the ledger has no expected tables (a plain source, or a ledger older than this rule).
 */
export async function tablesAwaitingBackfill(client: Client): Promise<QualifiedName[]> {
  const { rows: [found] } = await client.query<{ t: string | null }>("SELECT to_regclass('_migrate.expected_backfill')::text AS t");
  if (found?.t == null) return [];
  const { rows } = await client.query<QualifiedName>(
    `SELECT e.schema_name AS schema, e.table_name AS table FROM _migrate.expected_backfill e
      WHERE NOT EXISTS (SELECT 1 FROM _migrate.backfill_plan p WHERE p.schema_name = e.schema_name AND p.table_name = e.table_name)
         OR EXISTS (SELECT 1 FROM _migrate.backfill_slice s WHERE s.schema_name = e.schema_name AND s.table_name = e.table_name
                       AND s.status = 'pending')
      ORDER BY 1, 2`);
  return rows;
}

export interface JobPause {
  /** Paused by the schema load: they wait for `waitingFor`. */
  sinceSchemaLoad: PausedJob[];
  /** Paused by a backfill that is running or was cut off: the last backfill to leave restores them. */
  byBackfill: PausedJob[];
  /** Expected tables not completely backfilled yet; empty when no job waits for them. */
  waitingFor: QualifiedName[];
}

/** What `_migrate.paused_job` holds, and why (for `migrate status`, `migrate schema` and readiness). */
export async function readJobPause(client: Client): Promise<JobPause> {
  const pause: JobPause = { sinceSchemaLoad: [], byBackfill: [], waitingFor: [] };
  if (!(await ledgerExists(client))) return pause;
  const { rows } = await client.query<{ job_id: number; schema: string; table: string; was_scheduled: boolean; paused_by: string }>(
    `SELECT job_id, hypertable_schema AS schema, hypertable_name AS table, was_scheduled, paused_by FROM _migrate.paused_job
      ORDER BY job_id`);
  for (const row of rows) {
    const job: PausedJob = { jobId: row.job_id, hypertable: row.table === '' ? '' : displayName(row), wasScheduled: row.was_scheduled };
    (row.paused_by === SCHEMA_LOAD_PAUSE ? pause.sinceSchemaLoad : pause.byBackfill).push(job);
  }
  if (pause.sinceSchemaLoad.length > 0) pause.waitingFor = await tablesAwaitingBackfill(client);
  return pause;
}

/** "4 background jobs stay paused since the schema load until public.a, public.b are backfilled" and the like. */
export function describeWait(jobs: number, waitingFor: QualifiedName[]): string {
  const names = waitingFor.map(displayName);
  const shown = names.length > 10 ? `${names.slice(0, 10).join(', ')} and ${names.length - 10} more` : names.join(', ');
  return `${jobs} background job${jobs === 1 ? '' : 's'} ${jobs === 1 ? 'stays' : 'stay'} paused since the schema load, ` +
    `until every table it left empty is backfilled; still to backfill completely: ${shown}`;
}
