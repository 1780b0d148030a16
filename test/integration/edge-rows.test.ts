/**
 * Issue #7.2-3: source rows no time slice holds — a NULL time, +infinity — are never lost with
 * exit 0. The backfill refuses before anything changes (naming the count and the fix),
 * `--include-infinity` copies +infinity rows exactly once, and validate reports any such row the
 * target lacks as a difference (exit 3); candidates and completion-point say so up front.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const T = '2024-01-03T00:00:00Z';
const ROWS = `SELECT timestamptz '2024-01-01 00:00:00+00' + i * interval '10 minutes' AS time, i AS n FROM generate_series(0, 431) i`;

let dbs: TestDatabases;
const dirs: string[] = [];

const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
function cli(args: string[]): Promise<CliResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-edges-'));
  dirs.push(dir);
  return runCli([...args, '--source', dbs.source, '--target', dbs.target, '--dir', dir]);
}

/** The same table on both sides; the target holds the dual-written rows (from an hour before T on). */
async function createPair(table: string, options: { nullable?: boolean; hypertable?: boolean; extra?: string } = {}): Promise<void> {
  const ddl = `CREATE TABLE public.${table} (time timestamptz${options.nullable ? '' : ' NOT NULL'}, n int NOT NULL);
    CREATE INDEX ON public.${table} (time)`;
  await sql(dbs.source, `${ddl}; INSERT INTO public.${table} ${ROWS}; ${options.extra ?? ''}`);
  await sql(dbs.target, `${options.hypertable ? 'CREATE EXTENSION IF NOT EXISTS timescaledb;' : ''} ${ddl}; ${options.hypertable ? `SELECT create_hypertable('public.${table}', by_range('time', interval '1 day'));` : ''}
    INSERT INTO public.${table} SELECT * FROM (${ROWS}) r WHERE r.time >= timestamptz '${T}' - interval '1 hour';`);
}

async function count(url: string, table: string, where = 'true'): Promise<number> {
  const [row] = await sql<{ n: string }>(url, `SELECT count(*) AS n FROM public.${table} WHERE ${where}`);
  return Number(row?.n);
}

beforeAll(async () => {
  dbs = await createDatabases('edges');
});

afterAll(async () => {
  await dbs.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('NULL times', () => {
  it('backfill refuses before anything changes, naming the count and the fix', async () => {
    await createPair('with_nulls', { nullable: true, extra: 'INSERT INTO public.with_nulls VALUES (NULL, -1), (NULL, -2), (NULL, -3);' });
    const before = await count(dbs.target, 'with_nulls');
    const r = await cli(['backfill', '--table', 'with_nulls:time', '--until', T]);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('public.with_nulls: 3 rows with time IS NULL');
    expect(r.stderr).toContain('Give them a time or delete them on the source');
    expect(await count(dbs.target, 'with_nulls')).toBe(before);
    const [ledger] = await sql<{ n: string }>(dbs.target, "SELECT count(*) AS n FROM pg_namespace WHERE nspname = '_migrate'");
    expect(Number(ledger?.n)).toBe(0);
  });

  it('validate counts the NULL-time rows the target lacks as a difference (exit 3), not a match', async () => {
    // Rows below T copied by hand: [from, T) matches, but the NULL-time rows are missing on the target.
    await sql(dbs.target, `INSERT INTO public.with_nulls SELECT * FROM (${ROWS}) r WHERE r.time < timestamptz '${T}' - interval '1 hour'`);
    const r = await cli(['validate', '--table', 'with_nulls:time', '--until', T]);
    expect(r.code, output(r)).toBe(3);
    expect(r.stdout).toMatch(/public\.with_nulls\s+time IS NULL\s+3\s+0/);
  });
});

describe('+infinity times', () => {
  it('backfill refuses without a decision, then --include-infinity copies them exactly once', async () => {
    await createPair('forever', { extra: "INSERT INTO public.forever VALUES ('infinity', -1), ('infinity', -2);" });
    // One +infinity row was dual-written already: it must be replaced, not doubled.
    await sql(dbs.target, "INSERT INTO public.forever VALUES ('infinity', -1)");
    const refused = await cli(['backfill', '--table', 'forever:time', '--until', T]);
    expect(refused.code, output(refused)).toBe(2);
    expect(refused.stderr).toContain('public.forever: 2 rows with time = +infinity');
    expect(refused.stderr).toContain('--include-infinity');
    expect(await count(dbs.target, 'forever')).toBe(151);

    const copied = await cli(['backfill', '--table', 'forever:time', '--until', T, '--include-infinity']);
    expect(copied.code, output(copied)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.forever')).toEqual(await fingerprint(dbs.source, 'public.forever'));
    expect(await count(dbs.target, 'forever', "time = 'infinity'")).toBe(2);
    const again = await cli(['backfill', '--table', 'forever:time', '--until', T, '--include-infinity']);
    expect(again.code, output(again)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.forever')).toEqual(await fingerprint(dbs.source, 'public.forever'));
    const valid = await cli(['validate', '--table', 'forever:time', '--until', T]);
    expect(valid.code, output(valid)).toBe(0);
  });

  it('validate reports +infinity rows missing on the target (exit 3)', async () => {
    await sql(dbs.target, "DELETE FROM public.forever WHERE time = 'infinity' AND n = -2");
    const r = await cli(['validate', '--table', 'forever:time', '--until', T]);
    expect(r.code, output(r)).toBe(3);
    expect(r.stdout).toMatch(/public\.forever\s+time = \+infinity\s+2\s+1/);
  });

  it('candidates and completion-point say so up front', async () => {
    const candidates = await runCli(['candidates', '--source', dbs.source, '--table', 'forever', '--json']);
    expect(candidates.code, output(candidates)).toBe(0);
    expect(candidates.stdout).toContain('2 rows with time = +infinity');
    const point = await cli(['completion-point', '--table', 'forever:time']);
    expect(point.code, output(point)).toBe(0);
    expect(point.stdout).toContain('on the source at +infinity');
  });

  it.skipIf(!hasTimescale)('[timescaledb] into a hypertable: refused without a decision, then copied once', async () => {
    await createPair('forever_ht', { hypertable: true, extra: "INSERT INTO public.forever_ht VALUES ('infinity', -1);" });
    const refused = await cli(['backfill', '--table', 'forever_ht:time', '--until', T]);
    expect(refused.code, output(refused)).toBe(2);
    const copied = await cli(['backfill', '--table', 'forever_ht:time', '--until', T, '--include-infinity']);
    expect(copied.code, output(copied)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.forever_ht')).toEqual(await fingerprint(dbs.source, 'public.forever_ht'));
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] hypertables', () => {
  it('refuses a table whose source rows have NULL times, though the target copy is empty', async () => {
    await sql(dbs.source, `CREATE TABLE public.nullable_src (time timestamptz, n int);
      INSERT INTO public.nullable_src VALUES ('2024-01-01', 1), (NULL, 2);`);
    await sql(dbs.target, 'CREATE TABLE public.nullable_src (time timestamptz, n int);');
    const r = await cli(['hypertables', '--table', 'nullable_src:time']);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('has NULLs on the source');
    const [ht] = await sql<{ n: string }>(dbs.target,
      "SELECT count(*) AS n FROM timescaledb_information.hypertables WHERE hypertable_name = 'nullable_src'");
    expect(Number(ht?.n)).toBe(0);
  });
});
