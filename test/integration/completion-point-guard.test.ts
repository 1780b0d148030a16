/**
 * Issue #7.1: every path that takes a completion point T applies the same checks, and they still
 * protect after a backfill has lowered the target's minimum. A T before the first dual-written row
 * leaves rows in neither range; a T in the future copies rows that dual-writes also bring.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

// Source rows every 10 minutes over 3 days; dual-writes began at 2024-01-03 00:00 (the target holds
// the source's rows from then on).
const DUAL_WRITES_BEGAN = '2024-01-03 00:00:00+00';
const GOOD_T = '2024-01-03T06:00:00Z';
const EARLY_T = '2024-01-02T12:00:00Z';
const ROWS = `SELECT timestamptz '2024-01-01 00:00:00+00' + i * interval '10 minutes' AS time, i AS n FROM generate_series(0, 431) i`;

let dbs: TestDatabases;
let dir: string;

const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const cli = (args: string[]): Promise<CliResult> =>
  runCli([...args, '--source', dbs.source, '--target', dbs.target, '--dir', dir]);

async function targetRows(): Promise<number> {
  const [row] = await sql<{ n: string }>(dbs.target, 'SELECT count(*) AS n FROM public.readings');
  return Number(row?.n);
}

async function ledgerSchemas(): Promise<number> {
  const [row] = await sql<{ n: string }>(dbs.target, "SELECT count(*) AS n FROM pg_namespace WHERE nspname = '_migrate'");
  return Number(row?.n);
}

beforeAll(async () => {
  dbs = await createDatabases('cpguard');
  await sql(dbs.source, `CREATE TABLE public.readings (time timestamptz NOT NULL, n int NOT NULL);
    CREATE INDEX ON public.readings (time); INSERT INTO public.readings ${ROWS};`);
});

beforeEach(async () => {
  rmSync(dir ?? '/nonexistent', { recursive: true, force: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-cpguard-'));
  await sql(dbs.target, `DROP SCHEMA IF EXISTS _migrate CASCADE; DROP TABLE IF EXISTS public.readings;
    CREATE TABLE public.readings (time timestamptz NOT NULL, n int NOT NULL);
    INSERT INTO public.readings SELECT * FROM (${ROWS}) r WHERE r.time >= '${DUAL_WRITES_BEGAN}';`);
});

afterAll(async () => {
  await dbs.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('backfill --until checks T like completion-point does', () => {
  it('refuses a T before the first dual-written row, before anything changes', async () => {
    const before = await targetRows();
    const r = await cli(['backfill', '--table', 'readings:time', '--until', EARLY_T]);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('is before the first dual-written row on the target (2024-01-03 00:00:00+00)');
    expect(r.stderr).toContain('nothing was changed');
    expect(await targetRows()).toBe(before);
    expect(await ledgerSchemas()).toBe(0);
  });

  it('refuses a T in the future', async () => {
    const r = await cli(['backfill', '--table', 'readings:time', '--until', '2999-01-01T00:00:00Z']);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('is in the future');
    expect(await ledgerSchemas()).toBe(0);
  });

  it('validate refuses the same T (rows in [T, first dual-written row) would be compared by nobody)', async () => {
    const r = await cli(['validate', '--table', 'readings:time', '--until', EARLY_T]);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('is before the first dual-written row');
  });

  it('keeps where dual-writes began in the ledger, so the check still protects after a backfill', async () => {
    const first = await cli(['backfill', '--table', 'readings:time', '--until', GOOD_T]);
    expect(first.code, output(first)).toBe(0);
    // The backfill lowered min(time) on the target to the source's first row.
    const [min] = await sql<{ v: string }>(dbs.target, 'SELECT min(time)::text AS v FROM public.readings');
    expect(min?.v).toBe('2024-01-01 00:00:00+00');
    const [recorded] = await sql<{ v: string }>(dbs.target,
      "SELECT dual_writes_from AS v FROM _migrate.completion_point WHERE table_name = 'readings'");
    expect(recorded?.v).toBe('2024-01-03 00:00:00+00');
    expect(await fingerprint(dbs.target, 'public.readings')).toEqual(await fingerprint(dbs.source, 'public.readings'));

    const redo = await cli(['backfill', '--table', 'readings:time', '--until', EARLY_T, '--redo']);
    expect(redo.code, output(redo)).toBe(2);
    expect(redo.stderr).toContain('is before the first dual-written row on the target (2024-01-03 00:00:00+00)');
    const validate = await cli(['validate', '--table', 'readings:time', '--until', EARLY_T]);
    expect(validate.code, output(validate)).toBe(2);
    const point = await cli(['completion-point', '--table', 'readings:time', '--until', EARLY_T]);
    expect(point.code, output(point)).toBe(2);
    expect(point.stderr).toContain('is before the first dual-written row');
    // The good T still validates.
    const ok = await cli(['validate', '--table', 'readings:time', '--until', GOOD_T]);
    expect(ok.code, output(ok)).toBe(0);
  });

  it('completion-point records where dual-writes began in the file and the ledger; a recorded T is checked again', async () => {
    const point = await cli(['completion-point', '--table', 'readings:time', '--until', GOOD_T]);
    expect(point.code, output(point)).toBe(0);
    const file = JSON.parse(readFileSync(path.join(dir, 'completion-points.json'), 'utf8'));
    expect(file.tables['public.readings']).toMatchObject({ dualWritesFrom: '2024-01-03 00:00:00+00' });
    const [recorded] = await sql<{ v: string }>(dbs.target, 'SELECT dual_writes_from AS v FROM _migrate.completion_point');
    expect(recorded?.v).toBe('2024-01-03 00:00:00+00');
    // A hand-edited file (or one from another rehearsal) with a T before dual-writes began is refused too.
    file.tables['public.readings'].until = '2024-01-02 12:00:00+00';
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'completion-points.json'), JSON.stringify(file));
    const r = await cli(['backfill', '--table', 'readings:time']);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('is before the first dual-written row');
  });

  it('refuses a target table where dual-writes have not started', async () => {
    await sql(dbs.target, 'TRUNCATE public.readings');
    const r = await cli(['backfill', '--table', 'readings:time', '--until', GOOD_T]);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('dual-writes have not started');
    expect(await targetRows()).toBe(0);
  });
});

describe('a timestamp column whose values are wall-clock time in another zone', () => {
  it('the zone T was recorded with is used by the later backfill, which then does not call T "in the future"', async () => {
    await sql(dbs.source, `DROP TABLE IF EXISTS public.local_readings;
      CREATE TABLE public.local_readings (time timestamp NOT NULL, n int NOT NULL);
      INSERT INTO public.local_readings SELECT (now() AT TIME ZONE 'Asia/Tokyo') - i * interval '1 minute', i FROM generate_series(1, 600) i;`);
    await sql(dbs.target, `DROP TABLE IF EXISTS public.local_readings;
      CREATE TABLE public.local_readings (time timestamp NOT NULL, n int NOT NULL);`);
    const rows = await sql<{ t: string; n: number }>(dbs.source, 'SELECT time::text AS t, n FROM public.local_readings WHERE n <= 300');
    for (const row of rows) await sql(dbs.target, 'INSERT INTO public.local_readings VALUES ($1, $2)', [row.t, row.n]);
    // T: an hour ago in Tokyo, which is hours ahead of UTC.
    const [t] = await sql<{ v: string }>(dbs.source,
      "SELECT to_char(date_trunc('minute', (now() AT TIME ZONE 'Asia/Tokyo') - interval '1 hour'), 'YYYY-MM-DD HH24:MI:SS') AS v");
    const point = await cli(['completion-point', '--table', 'local_readings:time', '--until', t?.v as string, '--timezone', 'Asia/Tokyo']);
    expect(point.code, output(point)).toBe(0);
    const backfill = await cli(['backfill', '--table', 'local_readings:time']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.local_readings')).toEqual(await fingerprint(dbs.source, 'public.local_readings'));
  });
});
