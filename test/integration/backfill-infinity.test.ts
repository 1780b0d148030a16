/**
 * A hypertable cannot store infinite times. A source row at -infinity inside the range must stop the
 * backfill before anything changes, with the way out (--from), rather than fail a slice half-way.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

describe.skipIf(!hasTimescale)('[timescaledb] backfill of -infinity rows into a hypertable', () => {
  let dbs: TestDatabases;
  let dir: string;
  const table = `CREATE TABLE readings (time timestamptz NOT NULL, value integer);
                 CREATE INDEX ON readings (time);`;

  beforeAll(async () => {
    dbs = await createDatabases('infinity');
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-infinity-'));
    await sql(dbs.source, `${table}
      INSERT INTO readings VALUES ('-infinity', 0), ('-infinity', -1);
      INSERT INTO readings SELECT timestamptz '2024-01-01 00:00:00+00' + n * interval '1 hour', n FROM generate_series(0, 47) n;`);
    await sql(dbs.target, `CREATE EXTENSION IF NOT EXISTS timescaledb; ${table}
      SELECT create_hypertable('readings', by_range('time', interval '1 day'));
      INSERT INTO readings VALUES ('2024-01-02 23:30:00+00', 999);`);
  });

  afterAll(async () => {
    await dbs.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const backfill = (extra: string[]): Promise<Awaited<ReturnType<typeof runCli>>> => runCli(['backfill',
    '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'readings:time',
    '--until', '2024-01-03T00:00:00Z', ...extra]);

  it('refuses before changing anything, naming the rows and --from', async () => {
    const result = await backfill([]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('public.readings: 2 rows with time = -infinity');
    expect(result.stderr).toContain('--from');
    const [ledger] = await sql<{ n: string }>(dbs.target, "SELECT count(*) AS n FROM pg_namespace WHERE nspname = '_migrate'");
    expect(Number(ledger?.n)).toBe(0);
    const rows = await sql<{ value: number }>(dbs.target, 'SELECT value FROM readings');
    expect(rows).toEqual([{ value: 999 }]);
  });

  it('copies the finite rows once --from starts the range after them', async () => {
    const result = await backfill(['--from', '2024-01-01T00:00:00Z']);
    expect(result.code, result.stderr).toBe(0);
    const [copied] = await sql<{ n: string; sum: string }>(dbs.target, 'SELECT count(*) AS n, sum(value) AS sum FROM readings');
    expect({ n: Number(copied?.n), sum: Number(copied?.sum) }).toEqual({ n: 48, sum: (47 * 48) / 2 });
  });
});
