/**
 * The backfill ledger: schema `_migrate` in the TARGET database. One row per slice; a slice is
 * claimed (FOR UPDATE SKIP LOCKED), its range on the target is cleared and refilled, and the row is
 * marked done, all in one target transaction. So the ledger and the data can never disagree: a
 * crash anywhere leaves each slice either done (data and mark committed) or untouched.
 *
 * Several processes (on several machines) share a ledger: planning is serialized by a transaction
 * advisory lock, and every running backfill holds a shared session advisory lock (`RUN_LOCK`) that
 * tells `clean` and the policy restorer whether anyone is still at work.
 */
import type { Client } from '../../core/db.js';
import { MigrateError } from '../../core/errors.js';
import { displayName, type QualifiedName } from '../../core/identifiers.js';
import type { TimeType } from '../../core/time-values.js';
import type { SlicePlan } from './slices.js';

export const LEDGER_SCHEMA = '_migrate';
export const LEDGER_VERSION = 1;
/** Advisory lock keys (hashtextextended of a fixed string, so they do not collide with the app's small integers). */
export const PLAN_LOCK = "hashtextextended('migrate:backfill:plan', 0)";
export const RUN_LOCK = "hashtextextended('migrate:backfill:run', 0)";

/**
 * Where dual-writes began per table, kept from before the first slice (completion-point-guard.ts):
 * the backfill lowers min(time) on the target, so later checks of T must not read it from there.
 * Added to existing ledgers by ensureLedger, so the ledger version stays 1.
 */
const COMPLETION_POINT_DDL = `
CREATE TABLE IF NOT EXISTS _migrate.completion_point (
  schema_name text NOT NULL,
  table_name text NOT NULL,
  time_column text NOT NULL,
  time_type text NOT NULL,
  dual_writes_from text NOT NULL,
  until_value text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schema_name, table_name)
);`;

/**
 * The tables whose data `migrate schema` left out of a TimescaleDB source's dump, so the backfill must
 * fill them: the jobs paused by the schema load (paused_job.paused_by = SCHEMA_LOAD_PAUSE) come back
 * only once each of them has a complete plan (schema-load-pause.ts). Added to existing ledgers by
 * ensureLedger, so the ledger version stays 1.
 */
const EXPECTED_BACKFILL_DDL = `
CREATE TABLE IF NOT EXISTS _migrate.expected_backfill (
  schema_name text NOT NULL,
  table_name text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schema_name, table_name)
);`;

/**
 * paused_job.paused_by of the jobs `migrate schema` paused (a backfill writes host:pid, which always
 * holds a colon): they wait for every expected table, not just for the last backfill to leave.
 */
export const SCHEMA_LOAD_PAUSE = 'schema load';

export const LEDGER_DDL = `
CREATE SCHEMA IF NOT EXISTS _migrate;
CREATE TABLE IF NOT EXISTS _migrate.ledger_version (
  version int NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS _migrate.backfill_plan (
  schema_name text NOT NULL,
  table_name text NOT NULL,
  time_column text NOT NULL,
  time_type text NOT NULL,
  target_type text NOT NULL,
  from_value text NOT NULL,
  until_value text NOT NULL,
  alignment text NOT NULL,
  planned_at timestamptz NOT NULL DEFAULT now(),
  planned_by text NOT NULL,
  PRIMARY KEY (schema_name, table_name)
);
CREATE TABLE IF NOT EXISTS _migrate.backfill_slice (
  schema_name text NOT NULL,
  table_name text NOT NULL,
  range_start text NOT NULL,
  range_end text NOT NULL,
  seq int NOT NULL,
  time_column text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
  est_rows bigint NOT NULL DEFAULT 0,
  rows bigint,
  bytes bigint,
  attempts int NOT NULL DEFAULT 0,
  claimed_by text,
  finished_at timestamptz,
  last_error text,
  PRIMARY KEY (schema_name, table_name, range_start, range_end),
  UNIQUE (schema_name, table_name, seq),
  FOREIGN KEY (schema_name, table_name) REFERENCES _migrate.backfill_plan ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS backfill_slice_pending ON _migrate.backfill_slice (schema_name, table_name, seq)
  WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS _migrate.paused_job (
  job_id int PRIMARY KEY,
  hypertable_schema text NOT NULL,
  hypertable_name text NOT NULL,
  was_scheduled boolean NOT NULL,
  paused_at timestamptz NOT NULL DEFAULT now(),
  paused_by text NOT NULL
);
${COMPLETION_POINT_DDL}
${EXPECTED_BACKFILL_DDL}`;

/**
 * The ledger from SQL alone, for a script psql runs (`migrate schema`'s load transaction): the same
 * tables as ensureLedger, each created only where missing, and the version row only in a new ledger.
 */
export const LEDGER_SCRIPT = `${LEDGER_DDL}
INSERT INTO _migrate.ledger_version (version) SELECT ${LEDGER_VERSION} WHERE NOT EXISTS (SELECT FROM _migrate.ledger_version);`;

export interface LedgerSlice {
  table: QualifiedName;
  column: string;
  start: string;
  end: string;
  seq: number;
  status: 'pending' | 'done';
  estRows: number;
  rows: number | null;
  bytes: number | null;
  attempts: number;
  claimedBy: string | null;
  finishedAt: string | null;
  lastError: string | null;
}

/** What the ledger keeps of a slice plan (its slices are rows of their own). */
export type LedgerPlan = Pick<SlicePlan, 'column' | 'type' | 'targetType' | 'from' | 'until' | 'alignment'> & { table: QualifiedName };

export async function ledgerExists(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ t: string | null }>("SELECT to_regclass('_migrate.backfill_slice')::text AS t");
  return rows[0]?.t != null;
}

/** Create the ledger if needed (callers hold PLAN_LOCK) and check its version. */
export async function ensureLedger(client: Client): Promise<void> {
  if (!(await ledgerExists(client))) {
    await client.query(LEDGER_DDL);
    await client.query('INSERT INTO _migrate.ledger_version (version) VALUES ($1)', [LEDGER_VERSION]);
  } else {
    await client.query(COMPLETION_POINT_DDL + EXPECTED_BACKFILL_DDL);
  }
  const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM _migrate.ledger_version');
  const version = Number(rows[0]?.v ?? 0);
  if (version > LEDGER_VERSION) {
    throw new MigrateError(`The backfill ledger in the target (schema _migrate) was written by a newer migrate (ledger version ${version}).`, {
      hint: 'Run the backfill with that newer version of migrate.',
    });
  }
}

export async function readPlan(client: Client, table: QualifiedName): Promise<LedgerPlan | undefined> {
  const { rows } = await client.query<{ column: string; type: TimeType; target_type: TimeType; from: string; until: string; alignment: string }>(
    `SELECT time_column AS column, time_type AS type, target_type, from_value AS from, until_value AS until, alignment
       FROM _migrate.backfill_plan WHERE schema_name = $1 AND table_name = $2`, [table.schema, table.table]);
  const row = rows[0];
  return row && { table, column: row.column, type: row.type, targetType: row.target_type, from: row.from, until: row.until,
    alignment: row.alignment };
}

/** Slices of every table (or one), in order. Empty when there is no ledger. */
export async function readLedger(client: Client, table?: QualifiedName): Promise<LedgerSlice[]> {
  if (!(await ledgerExists(client))) return [];
  const { rows } = await client.query<{ schema: string; table: string; column: string; start: string; end: string; seq: number;
    status: 'pending' | 'done'; est_rows: string; rows: string | null; bytes: string | null; attempts: number;
    claimed_by: string | null; finished_at: string | null; last_error: string | null }>(
    `SELECT schema_name AS schema, table_name AS table, time_column AS column, range_start AS start, range_end AS end, seq,
            status, est_rows, rows, bytes, attempts, claimed_by, finished_at::text, last_error
       FROM _migrate.backfill_slice
      WHERE ($1::text IS NULL OR (schema_name = $1 AND table_name = $2)) ORDER BY schema_name, table_name, seq`,
    [table?.schema ?? null, table?.table ?? null]);
  return rows.map((r) => ({
    table: { schema: r.schema, table: r.table }, column: r.column, start: r.start, end: r.end, seq: r.seq, status: r.status,
    estRows: Number(r.est_rows), rows: r.rows === null ? null : Number(r.rows), bytes: r.bytes === null ? null : Number(r.bytes),
    attempts: r.attempts, claimedBy: r.claimed_by, finishedAt: r.finished_at, lastError: r.last_error,
  }));
}

export interface TableProgress {
  table: string;
  slicesDone: number;
  slicesTotal: number;
  rowsDone: number;
  rowsEstimated: number;
  bytesDone: number;
}

/** Per-table progress from the ledger (what `status` shows). Empty when there is no ledger. */
export async function readBackfillProgress(targetClient: Client): Promise<TableProgress[]> {
  if (!(await ledgerExists(targetClient))) return [];
  const { rows } = await targetClient.query<{ schema: string; table: string; done: string; total: string; rows: string;
    est: string; bytes: string }>(
    `SELECT schema_name AS schema, table_name AS table, count(*) FILTER (WHERE status = 'done') AS done, count(*) AS total,
            coalesce(sum(rows) FILTER (WHERE status = 'done'), 0) AS rows,
            coalesce(sum(CASE WHEN status = 'done' THEN rows ELSE est_rows END), 0) AS est,
            coalesce(sum(bytes) FILTER (WHERE status = 'done'), 0) AS bytes
       FROM _migrate.backfill_slice GROUP BY 1, 2 ORDER BY 1, 2`);
  return rows.map((r) => ({
    table: displayName(r), slicesDone: Number(r.done), slicesTotal: Number(r.total), rowsDone: Number(r.rows),
    rowsEstimated: Number(r.est), bytesDone: Number(r.bytes),
  }));
}

/** Replace a table's plan and slices (callers hold PLAN_LOCK, in a transaction). */
export async function writePlan(client: Client, plan: LedgerPlan, slices: { start: string; end: string; estRows: number }[],
  by: string): Promise<void> {
  const { table } = plan;
  await client.query('DELETE FROM _migrate.backfill_plan WHERE schema_name = $1 AND table_name = $2', [table.schema, table.table]);
  await client.query(
    `INSERT INTO _migrate.backfill_plan (schema_name, table_name, time_column, time_type, target_type, from_value, until_value,
       alignment, planned_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [table.schema, table.table, plan.column, plan.type, plan.targetType, plan.from, plan.until, plan.alignment, by]);
  // One statement for all slices: unnest keeps it fast for tens of thousands of slices.
  await client.query(
    `INSERT INTO _migrate.backfill_slice (schema_name, table_name, time_column, range_start, range_end, seq, est_rows)
     SELECT $1, $2, $3, s, e, i::int, r FROM unnest($4::text[], $5::text[], $6::int8[]) WITH ORDINALITY u(s, e, r, i)
     ON CONFLICT DO NOTHING`,
    [table.schema, table.table, plan.column, slices.map((s) => s.start), slices.map((s) => s.end), slices.map((s) => s.estRows)]);
}

/** The slice [infinity, infinity]: the rows at +infinity (--include-infinity; copy.ts reads it as `= 'infinity'`). */
export const INFINITY_SLICE = { start: 'infinity', end: 'infinity' } as const;

export function isInfinitySlice(slice: { start: string; end: string }): boolean {
  return slice.start === INFINITY_SLICE.start && slice.end === INFINITY_SLICE.end;
}

/** Add the +infinity slice to a table's plan, after its last slice; nothing when it is there already. */
export async function addInfinitySlice(client: Client, plan: LedgerPlan, estRows: number): Promise<void> {
  await client.query(
    `INSERT INTO _migrate.backfill_slice (schema_name, table_name, time_column, range_start, range_end, seq, est_rows)
     SELECT $1, $2, $3, $4, $5, coalesce(max(seq), 0) + 1, $6 FROM _migrate.backfill_slice WHERE schema_name = $1 AND table_name = $2
     ON CONFLICT DO NOTHING`,
    [plan.table.schema, plan.table.table, plan.column, INFINITY_SLICE.start, INFINITY_SLICE.end, estRows]);
}

/** Set slices overlapping [start, end) back to pending (validate --repair). Returns how many. */
export async function reopenRange(client: Client, plan: LedgerPlan, start: string, end: string): Promise<number> {
  const t = plan.type;
  const result = await client.query(
    `UPDATE _migrate.backfill_slice SET status = 'pending'
      WHERE schema_name = $1 AND table_name = $2 AND range_start::${t} < $4::${t} AND range_end::${t} > $3::${t}`,
    [plan.table.schema, plan.table.table, start, end]);
  return result.rowCount ?? 0;
}

/** Pending slices plus those overlapping `ranges` (what a run with onlyRanges copies), in order. */
export async function slicesToCopy(client: Client, plan: LedgerPlan, ranges: { start: string; end: string }[]):
  Promise<{ start: string; end: string; estRows: number }[]> {
  const t = plan.type;
  const { rows } = await client.query<{ start: string; end: string; est_rows: string }>(
    `SELECT range_start AS start, range_end AS end, est_rows FROM _migrate.backfill_slice
      WHERE schema_name = $1 AND table_name = $2 AND (status = 'pending' OR EXISTS (
        SELECT 1 FROM unnest($3::text[], $4::text[]) r(s, e) WHERE range_start::${t} < r.e::${t} AND range_end::${t} > r.s::${t}))
      ORDER BY seq`, [plan.table.schema, plan.table.table, ranges.map((r) => r.start), ranges.map((r) => r.end)]);
  return rows.map((r) => ({ start: r.start, end: r.end, estRows: Number(r.est_rows) }));
}
