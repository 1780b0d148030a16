/**
 * Issue #10, done means: a table managed by the real pg_partman (4.x, native partitioning): `migrate
 * schema` leaves its maintenance configuration out and says so; the target's pg_partman maintenance
 * still runs; the table becomes a hypertable. Skipped with one line where pg_partman is not
 * installed for the local PostgreSQL (Debian: postgresql-15-partman).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const available = async (): Promise<boolean> =>
  (await sql(clusterUrl('source'), "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'")).length > 0;
const hasPartman = await available();

describe.skipIf(!hasPartman || !hasTimescale)('[pg_partman] [timescaledb] a pg_partman-managed table', () => {
  let dbs: TestDatabases;
  let dir: string;

  beforeAll(async () => {
    dbs = await createDatabases('partman');
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-partman-'));
    await sql(dbs.source, `CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman;
      CREATE TABLE public.events (id bigint NOT NULL, ts timestamptz NOT NULL, payload text) PARTITION BY RANGE (ts);
      SELECT partman.create_parent('public.events', 'ts', 'native', 'daily', p_start_partition := '2024-01-01', p_premake := 2);
      CREATE TABLE public.other (id bigint NOT NULL, ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
      SELECT partman.create_parent('public.other', 'ts', 'native', 'monthly', p_start_partition := '2024-01-01');
      INSERT INTO public.events SELECT n, timestamptz '2024-01-01' + n * interval '1 hour', 'p' FROM generate_series(0, 47) n;`);
  });

  afterAll(async () => {
    await dbs?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('schema leaves the table\'s pg_partman configuration out, says so, and keeps the other table\'s', async () => {
    const configured = await sql<{ parent_table: string }>(dbs.source, 'SELECT parent_table FROM partman.part_config ORDER BY 1');
    expect(configured.map((c) => c.parent_table)).toEqual(['public.events', 'public.other']);
    const r = await runCli(['schema', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'public.events:ts',
      '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('public.events (partitioned table) becomes one plain table');
    expect(r.stdout).toMatch(/left out: 1 pg_partman configuration row in partman\.part_config/);
    expect(await sql(dbs.target, 'SELECT parent_table FROM partman.part_config ORDER BY 1')).toEqual([{ parent_table: 'public.other' }]);
    // The target's pg_partman maintenance runs (it would fail on a configured table that is not partitioned).
    await sql(dbs.target, 'SELECT partman.run_maintenance()');
    expect(await sql(dbs.target, "SELECT relkind::text AS k FROM pg_class WHERE oid = 'public.events'::regclass")).toEqual([{ k: 'r' }]);
    const hypertables = await runCli(['hypertables', '--target', dbs.target, '--dir', dir, '--table', 'public.events:ts']);
    expect(hypertables.code, hypertables.stderr).toBe(0);
  });
});
