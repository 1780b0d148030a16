/**
 * The backfill robustness tests' world: a narrow 1M-row readings table on the source (10
 * devices, one row a second each, ~27.8 hours), and a target that already holds what dual-writes
 * put there: every row at or after the completion point T (identical to the source), stale
 * versions of the last 30 minutes before T (value -1: the backfill must replace them), and a few
 * target-only rows before the start (they must survive). The target table has a primary key, so
 * a duplicate cannot hide.
 */
import { expect } from 'vitest';
import type { Fingerprint } from './compare.js';
import { sql } from './databases.js';

export const TABLE = 'public.readings';
export const QUALIFIED = '"public"."readings"';
export const TABLE_ARG = 'public.readings:time';
export const ROWS = 1_000_000;
/** Backfill range [FROM, UNTIL): 1 hour after the first source row to 26 hours after it. */
export const FROM = '2024-01-01T01:00:00Z';
export const UNTIL = '2024-01-02T02:00:00Z';
export const RANGE = `time >= '${FROM}'::timestamptz AND time < '${UNTIL}'::timestamptz`;
export const AT_OR_AFTER_UNTIL = `time >= '${UNTIL}'::timestamptz`;
export const BEFORE_FROM = `time < '${FROM}'::timestamptz`;
/** Row n of the source, as SQL over generate_series(…) AS n. */
const ROW = `timestamptz '2024-01-01 00:00:00+00' + (n / 10) * interval '1 second', n % 10, n * 0.5`;
const FIRST_AT_UNTIL = 26 * 3600 * 10;
const FIRST_STALE = FIRST_AT_UNTIL - 30 * 60 * 10;

export async function createSource(url: string): Promise<void> {
  await sql(url, `
    CREATE TABLE ${QUALIFIED} (time timestamptz NOT NULL, device_id integer NOT NULL, value double precision NOT NULL);
    INSERT INTO ${QUALIFIED} SELECT ${ROW} FROM generate_series(0, ${ROWS - 1}) AS n;
    CREATE INDEX ON ${QUALIFIED} (time);
    ANALYZE ${QUALIFIED};`);
}

/**
 * (Re)create the target table with its dual-written rows, and drop migrate's ledger. `pre_existing`
 * keeps a copy of what dual-writes put in the target, to compare not-yet-copied slices against.
 */
export async function resetTarget(url: string, options: { hypertable?: boolean } = {}): Promise<void> {
  await sql(url, `
    DROP SCHEMA IF EXISTS _migrate CASCADE;
    DROP TABLE IF EXISTS ${QUALIFIED}, public.pre_existing;
    CREATE TABLE ${QUALIFIED} (time timestamptz NOT NULL, device_id integer NOT NULL, value double precision NOT NULL,
      PRIMARY KEY (device_id, time));`);
  if (options.hypertable) {
    await sql(url, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      SELECT create_hypertable('${TABLE}', by_range('time', interval '6 hours'));`);
  }
  await sql(url, `
    INSERT INTO ${QUALIFIED} SELECT ${ROW} FROM generate_series(${FIRST_AT_UNTIL}, ${ROWS - 1}) AS n;
    INSERT INTO ${QUALIFIED} SELECT timestamptz '2024-01-01 00:00:00+00' + (n / 10) * interval '1 second', n % 10, -1
      FROM generate_series(${FIRST_STALE}, ${FIRST_AT_UNTIL - 1}) AS n;
    INSERT INTO ${QUALIFIED} SELECT timestamptz '2024-01-01 00:00:00+00' + n * interval '1 minute', 999, 42
      FROM generate_series(0, 9) AS n;
    CREATE TABLE public.pre_existing AS SELECT * FROM ${QUALIFIED};
    ANALYZE ${QUALIFIED};`);
}

/** Count and md5 over rows *with their physical identity* (chunk, ctid, xmin): changes if a row is rewritten. */
export async function physicalFingerprint(url: string, where: string): Promise<{ count: number; md5: string | null }> {
  const [row] = await sql<{ count: string; md5: string | null }>(url, `
    SELECT count(*) AS count,
           md5(string_agg(t.tableoid::regclass::text || ':' || t.ctid::text || ':' || t.xmin::text || ':' || t::text,
                          E'\\n' ORDER BY t.tableoid::regclass::text, t.ctid)) AS md5
    FROM ${QUALIFIED} AS t WHERE ${where}`);
  return { count: Number(row?.count ?? 0), md5: row?.md5 ?? null };
}

export interface Untouched {
  after: { count: number; md5: string | null };
  before: { count: number; md5: string | null };
}

export async function snapshotOutsideRange(url: string): Promise<Untouched> {
  return { after: await physicalFingerprint(url, AT_OR_AFTER_UNTIL), before: await physicalFingerprint(url, BEFORE_FROM) };
}

export async function duplicateKeys(url: string): Promise<number> {
  const [row] = await sql<{ n: string }>(url,
    `SELECT count(*) AS n FROM (SELECT 1 FROM ${QUALIFIED} GROUP BY device_id, time HAVING count(*) > 1) AS d`);
  return Number(row?.n);
}

const sourceFingerprints = new Map<string, Fingerprint>();

/**
 * test/helpers/compare.ts's fingerprint (count + md5 over the ordered row text), with enough
 * work_mem to sort a million rows in memory: several times faster than spilling to disk.
 */
export async function fingerprint(url: string, qualified: string, where = 'true'): Promise<Fingerprint> {
  const [row] = await sql<{ count: string; md5: string | null }>(url, `SET work_mem = '256MB';
    SELECT count(*) AS count, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS md5
      FROM ${qualified} AS t WHERE ${where}`);
  return { count: Number(row?.count ?? 0), md5: row?.md5 ?? null };
}

/**
 * The done means of every test: [FROM, UNTIL) on the target equals the source row for row, no key
 * twice, and the rows outside the range are the very tuples that were there before (not rewritten).
 */
export async function expectExactBackfill(source: string, target: string, untouched: Untouched): Promise<void> {
  // The source never changes: compute its side once per database.
  let want = sourceFingerprints.get(source);
  if (!want) sourceFingerprints.set(source, want = await fingerprint(source, QUALIFIED, RANGE));
  expect(want.count).toBe(FIRST_AT_UNTIL - 36_000);
  expect(await fingerprint(target, QUALIFIED, RANGE)).toEqual(want);
  expect(await duplicateKeys(target)).toBe(0);
  expect(await snapshotOutsideRange(target)).toEqual(untouched);
  expect(untouched.after.count).toBe(ROWS - FIRST_AT_UNTIL);
  expect(untouched.before.count).toBe(10);
}

export function between(lo: string, hi: string): string {
  const literal = (v: string): string => `'${v.replace(/'/g, "''")}'::timestamptz`;
  return `time >= ${literal(lo)} AND time < ${literal(hi)}`;
}

/** Poll `probe` every `everyMs` until it returns a value, or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export interface SliceRow {
  range_start: string;
  range_end: string;
  status: 'pending' | 'done';
  attempts: number;
  claimed_by: string | null;
  rows: string | null;
}

/** The readings table's slices in migrate's ledger (`_migrate.backfill_slice` in the target), in order. */
export async function readSlices(url: string): Promise<SliceRow[]> {
  return sql<SliceRow>(url, `SELECT range_start, range_end, status, attempts, claimed_by, rows::text AS rows
    FROM _migrate.backfill_slice WHERE schema_name = 'public' AND table_name = 'readings' ORDER BY seq`);
}
