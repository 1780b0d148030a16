/**
 * Review of the issue #7.1 fix: holes left in the one completion-point check. Each case ends with
 * exit 0 (and `validate` saying "match") while rows are missing or can arrive twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let dir: string;

const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const cli = (args: string[]): Promise<CliResult> =>
  runCli([...args, '--source', dbs.source, '--target', dbs.target, '--dir', dir]);

async function count(url: string, table: string): Promise<number> {
  const [row] = await sql<{ n: string }>(url, `SELECT count(*) AS n FROM ${table}`);
  return Number(row?.n);
}

beforeAll(async () => {
  dbs = await createDatabases('review_cp');
});

beforeEach(() => {
  rmSync(dir ?? '/nonexistent', { recursive: true, force: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-review-cp-'));
});

afterAll(async () => {
  await dbs.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a date column: T equal to the first dual-written date', () => {
  it('is refused: that day was only partly dual-written, so its earlier rows would be in neither range', async () => {
    // Ten sales a day from 2024-01-01 to 2024-01-11; dual-writes began during 2024-01-10, at sale 95.
    const ddl = 'DROP TABLE IF EXISTS public.sales; CREATE TABLE public.sales (day date NOT NULL, id int PRIMARY KEY)';
    await sql(dbs.source, `${ddl}; INSERT INTO public.sales SELECT '2024-01-01'::date + i / 10, i FROM generate_series(0, 109) i`);
    await sql(dbs.target, `DROP SCHEMA IF EXISTS _migrate CASCADE; ${ddl};
      INSERT INTO public.sales SELECT '2024-01-01'::date + i / 10, i FROM generate_series(95, 109) i`);
    const r = await cli(['backfill', '--table', 'sales:day', '--until', '2024-01-10']);
    // Today: exit 0 with a "margin" warning; sales 90-94 (2024-01-10, before dual-writes) are on the source only.
    expect(r.code, output(r)).toBe(2);
    expect(await count(dbs.target, 'public.sales')).toBe(15);
  });

  it('validate does not call the same T a match', async () => {
    const r = await cli(['validate', '--table', 'sales:day', '--until', '2024-01-10']);
    expect(r.code, output(r)).not.toBe(0);
  });
});

describe('a ledger left by an older migrate (no _migrate.completion_point), half done', () => {
  const ROWS = `SELECT timestamptz '2024-01-01 00:00:00+00' + i * interval '10 minutes' AS time, i AS n FROM generate_series(0, 431) i`;

  it('backfill --redo with a T before where dual-writes began is still refused', async () => {
    const ddl = 'DROP TABLE IF EXISTS public.readings; CREATE TABLE public.readings (time timestamptz NOT NULL, n int NOT NULL)';
    await sql(dbs.source, `${ddl}; CREATE INDEX ON public.readings (time); INSERT INTO public.readings ${ROWS}`);
    // Dual-writes began at 2024-01-03 00:00.
    await sql(dbs.target, `DROP SCHEMA IF EXISTS _migrate CASCADE; ${ddl};
      INSERT INTO public.readings SELECT * FROM (${ROWS}) r WHERE r.time >= '2024-01-03 00:00:00+00'`);
    const first = await cli(['backfill', '--table', 'readings:time', '--until', '2024-01-03T06:00:00Z', '--slice', '6 hours']);
    expect(first.code, output(first)).toBe(0);
    // What an older migrate leaves when stopped half way: no completion_point table, the later slices
    // still pending (their rows not copied yet), and a completion-points.json without dualWritesFrom.
    await sql(dbs.target, `DROP TABLE _migrate.completion_point;
      UPDATE _migrate.backfill_slice SET status = 'pending' WHERE range_start::timestamptz >= '2024-01-02 00:00:00+00';
      DELETE FROM public.readings WHERE time >= '2024-01-02 00:00:00+00' AND time < '2024-01-03 00:00:00+00'`);
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-review-cp-'));

    const redo = await cli(['backfill', '--table', 'readings:time', '--until', '2024-01-02T12:00:00Z', '--redo']);
    // Today: accepted (the guard reads min(time) on the target, which the old backfill lowered to
    // 2024-01-01), exit 0, and the 72 rows in [2024-01-02 12:00, 2024-01-03) are on the source only.
    expect(redo.code, output(redo)).toBe(2);
    expect(redo.stderr).toContain('is before the completion point this table was backfilled to (2024-01-03 06:00:00+00)');
  });
});

describe('an integer time column whose units cannot be read', () => {
  it('refuses a T above every dual-written row (rows there are still being written)', async () => {
    const ddl = 'DROP TABLE IF EXISTS public.ev; CREATE TABLE public.ev (seq int NOT NULL, v text)';
    await sql(dbs.source, `${ddl}; INSERT INTO public.ev SELECT i, 'r' || i FROM generate_series(1, 1000) i`);
    await sql(dbs.target, `DROP SCHEMA IF EXISTS _migrate CASCADE; ${ddl};
      INSERT INTO public.ev SELECT i, 'r' || i FROM generate_series(500, 1000) i`);
    // Today: only a warning ("T was not compared with the current time"), exit 0. With a writer
    // running, the one slice [.., 2000000) deletes and re-copies rows as they arrive: a run here
    // with a dual-writer left 2,991 rows twice on the target.
    const r = await cli(['backfill', '--table', 'ev:seq', '--until', '2000000']);
    expect(r.code, output(r)).toBe(2);
  });
});
