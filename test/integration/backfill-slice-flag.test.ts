/**
 * Issue #7.12: `--slice` per table (time types differ between tables), and never silently ignored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let dir: string;
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

// 2024-01-01 .. 2024-01-02 every minute; T = 2024-01-02 00:00 (1704153600 s, 1704153600000 ms).
const TIMES = `SELECT timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute' AS t, i FROM generate_series(0, 1439 + 60) i`;
const DDL = `CREATE TABLE public.by_time (time timestamptz NOT NULL, i int);
  CREATE TABLE public.by_ms (ms bigint NOT NULL, i int)`;
const ROWS = (where: string): string => `
  INSERT INTO public.by_time SELECT t, i FROM (${TIMES}) r WHERE ${where};
  INSERT INTO public.by_ms SELECT (extract(epoch FROM t) * 1000)::bigint, i FROM (${TIMES}) r WHERE ${where};`;
const UNTIL = ['--until', 'public.by_time=2024-01-02T00:00:00Z', '--until', 'public.by_ms=1704153600000'];
const TABLES = ['--table', 'by_time:time', '--table', 'by_ms:ms'];

const backfill = (extra: string[]): Promise<CliResult> =>
  runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, ...TABLES, ...UNTIL, ...extra]);

async function sliceCount(table: string): Promise<number> {
  const [row] = await sql<{ n: string }>(dbs.target, 'SELECT count(*) AS n FROM _migrate.backfill_slice WHERE table_name = $1', [table]);
  return Number(row?.n);
}

beforeAll(async () => {
  dbs = await createDatabases('sliceflag');
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-sliceflag-'));
  await sql(dbs.source, `${DDL}; ${ROWS('true')}`);
  await sql(dbs.target, `${DDL}; ${ROWS("t >= '2024-01-01 23:00:00+00'")}`);
});

afterAll(async () => {
  await dbs.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('--slice', () => {
  it('a bare width that fits one time type only is refused, pointing at schema.table=WIDTH', async () => {
    const r = await backfill(['--slice', '1 hour']);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('does not fit a bigint time column');
    expect(r.stderr).toContain('--slice schema.table=WIDTH');
  });

  it('takes a width per table', async () => {
    const r = await backfill(['--slice', 'public.by_time=6 hours', '--slice', 'by_ms=3600000']);
    expect(r.code, output(r)).toBe(0);
    expect(await sliceCount('by_time')).toBe(4); // four 6-hour slices (the first one open below)
    expect(await sliceCount('by_ms')).toBe(24);
    for (const table of ['public.by_time', 'public.by_ms']) {
      expect(await fingerprint(dbs.target, table)).toEqual(await fingerprint(dbs.source, table));
    }
  });

  it('says so when a recorded plan makes it unused', async () => {
    const r = await backfill(['--slice', 'public.by_time=1 hour']);
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toContain('public.by_time: --slice 1 hour is not used');
    expect(r.stderr).toContain('--redo');
  });
});
