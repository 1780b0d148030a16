/**
 * `migrate schema` with partitioned and inheritance trees (issue #10 item 2): each given tree
 * arrives as ONE plain table with the parent's definition, everything that depends on it intact,
 * and `create_hypertable` works on it directly.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchemaResult } from '../../src/steps/schema.js';
import { runCli } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';
import { TREES_SOURCE as SOURCE } from '../helpers/tree-fixture.js';


const TABLES = ['--table', 'app.payments:paid_at', '--table', 'app.readings:ts', '--table', 'app.refunds'];

function parseResult(stdout: string): SchemaResult {
  const start = stdout.startsWith('{\n') ? 0 : stdout.lastIndexOf('\n{\n') + 1;
  return JSON.parse(stdout.slice(start)) as SchemaResult;
}

describe('migrate schema with partitioned and inheritance trees', () => {
  let dbs: TestDatabases;
  let dir: string;
  let result: SchemaResult;
  const common = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];

  beforeAll(async () => {
    dbs = await createDatabases('schema_trees');
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-schema-trees-'));
    await sql(dbs.source, SOURCE);
  });
  afterAll(async () => {
    await dbs.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--dry-run says per tree what will be left out, and changes nothing', async () => {
    const r = await runCli(['schema', ...common(), ...TABLES, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const dry = parseResult(r.stdout);
    expect(dry.trees.map((t) => [t.table.table, t.kind, t.partitions.length])).toEqual([
      ['payments', 'partitioned', 5], ['readings', 'inheritance', 3]]);
    const text = await runCli(['schema', ...common(), ...TABLES, '--dry-run']);
    expect(text.stdout).toContain('app.payments (partitioned table) becomes one plain table');
    expect(text.stdout).toContain('left out: 5 partitions');
    expect(text.stdout).toContain('left out: 3 inheritance children (app.readings_2023, app.readings_2024, app.readings_2025)');
    expect(text.stdout).toContain('the routing trigger "readings_route"');
    expect(text.stdout).toContain('1 pg_partman configuration row in partman.part_config ');
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = 'app'")).toEqual([]);
  });

  it('loads each tree as one plain table, and reports what was left out', async () => {
    const r = await runCli(['schema', ...common(), ...TABLES, '--json']);
    expect(r.code, r.stderr).toBe(0);
    result = parseResult(r.stdout);
    const [payments, readings] = result.trees;
    expect(payments?.defaultPartitions.map((p) => p.table)).toEqual(['payments_2024_02b', 'payments_default']);
    expect(payments?.partmanConfig.map((p) => [p.table.table, p.rows])).toEqual([['part_config', 1], ['part_config_sub', 1]]);
    expect(readings?.routingTriggers.map((t) => t.name)).toEqual(['readings_route']);
    expect(result.domainColumns.map((d) => [d.column, d.baseType])).toEqual([['paid_at', 'timestamp with time zone']]);
    expect(result.emptyTables.map((t) => t.table).sort()).toEqual(['payments', 'readings', 'refunds']);
    // pg_dump's own output is kept next to the rewritten dump.
    expect(readFileSync(path.join(dir, 'pg_dump.sql'), 'utf8')).toContain('PARTITION BY RANGE');
    expect(readFileSync(path.join(dir, 'dump.sql'), 'utf8')).not.toContain('PARTITION BY');

    const tables = await sql<{ relname: string; relkind: string }>(dbs.target,
      `SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p') ORDER BY 1`);
    expect(tables).toEqual([{ relname: 'devices', relkind: 'r' }, { relname: 'payments', relkind: 'r' },
      { relname: 'readings', relkind: 'r' }, { relname: 'refunds', relkind: 'r' }]);
    expect(await sql(dbs.target, 'SELECT 1 FROM pg_inherits')).toEqual([]);
    const triggers = await sql<{ tgname: string }>(dbs.target,
      "SELECT tgname FROM pg_trigger WHERE tgrelid = 'app.readings'::regclass AND NOT tgisinternal");
    expect(triggers.map((t) => t.tgname)).toEqual(['readings_audit']);
  });

  it('keeps the parent\'s definition: types, identity, generated column, CHECKs, indexes, FKs, comments', async () => {
    const [columns] = await sql<{ d: Record<string, string> }>(dbs.target,
      `SELECT json_object_agg(attname, format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END
         || CASE WHEN attidentity <> '' THEN ' identity' ELSE '' END || CASE WHEN attgenerated <> '' THEN ' generated' ELSE '' END) AS d
         FROM pg_attribute WHERE attrelid = 'app.payments'::regclass AND attnum > 0`);
    expect(columns?.d).toEqual({ id: 'bigint not null identity', paid_at: 'timestamp with time zone not null',
      device_id: 'integer not null', amount: 'numeric(10,2)', cents: 'bigint generated' });
    const constraints = await sql<{ conname: string; contype: string }>(dbs.target,
      `SELECT conname, contype FROM pg_constraint WHERE conrelid = 'app.payments'::regclass
          OR confrelid = 'app.payments'::regclass ORDER BY 1`);
    expect(constraints.map((c) => `${c.conname}:${c.contype}`)).toEqual(['payments_amount_check:c',
      'payments_device_id_fkey:f', 'payments_pkey:p', 'refunds_payment_id_paid_at_fkey:f']);
    const indexes = await sql<{ indexrelid: string }>(dbs.target,
      "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid IN ('app.payments'::regclass, 'app.readings'::regclass) ORDER BY 1");
    expect(indexes.map((i) => i.indexrelid)).toEqual(['app.payments_device_idx', 'app.payments_pkey', 'app.readings_ts_idx']);
    expect(await sql(dbs.target, "SELECT obj_description('app.payments'::regclass, 'pg_class') AS c")).toEqual([{ c: 'every payment' }]);
    const checks = await sql<{ conname: string }>(dbs.target,
      "SELECT conname FROM pg_constraint WHERE conrelid = 'app.readings'::regclass AND contype = 'c'");
    expect(checks.map((c) => c.conname)).toEqual(['readings_value_check']);
  });

  it('continues the identity past the source, keeps the views working and leaves partman\'s config behind', async () => {
    const [source] = await sql<{ max: string }>(dbs.source, 'SELECT max(id)::text AS max FROM app.payments');
    const [next] = await sql<{ id: string }>(dbs.target,
      "INSERT INTO app.payments (paid_at, device_id, amount) VALUES ('2024-05-01', 1, 1) RETURNING id::text AS id");
    expect(BigInt(next?.id ?? 0)).toBeGreaterThan(BigInt(source?.max ?? 0));
    await sql(dbs.target, "INSERT INTO app.readings VALUES ('2024-05-01', 1, 2.5)");
    expect(await sql(dbs.target, 'SELECT count(*)::int AS n FROM ONLY app.readings')).toEqual([{ n: 1 }]);
    expect(await sql(dbs.target, 'SELECT device_id, total::text FROM app.payment_totals')).toEqual([{ device_id: 1, total: '1.00' }]);
    expect(await sql(dbs.target, 'SELECT sensor FROM app.reading_view')).toEqual([{ sensor: 1 }]);
    expect(await sql(dbs.target, 'SELECT parent_table FROM partman.part_config')).toEqual([{ parent_table: 'app.other' }]);
    expect(await sql(dbs.target, 'SELECT * FROM partman.part_config_sub')).toEqual([]);
    await sql(dbs.target, 'DELETE FROM app.payments; DELETE FROM app.readings');
  });

  it('refuses (exit 2) a partition named beside its tree', async () => {
    const r = await runCli(['schema', ...common(), '--yes', '--table', 'app.payments', '--table', 'app.payments_2024_01', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('app.payments_2024_01 is part of app.payments');
  });

  it.skipIf(!hasTimescale)('[timescaledb] migrate hypertables converts both plain tables directly', async () => {
    const r = await runCli(['hypertables', '--target', dbs.target, '--dir', dir, '--table', 'app.payments:paid_at',
      '--table', 'app.readings:ts']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const hypertables = await sql<{ hypertable_name: string }>(dbs.target,
      "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = 'app' ORDER BY 1");
    expect(hypertables.map((h) => h.hypertable_name)).toEqual(['payments', 'readings']);
    expect(await sql(dbs.target, 'SELECT count(*)::int AS n FROM app.payment_totals')).toEqual([{ n: 0 }]);
  });
});

describe('migrate schema: indexes every partition has', () => {
  let dbs: TestDatabases;
  let dir: string;

  beforeAll(async () => {
    dbs = await createDatabases('schema_tree_indexes');
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-schema-tree-idx-'));
    // Indexes created per partition (as pg_partman's templates or older scripts do), none on the parent:
    // (device, ts) on every partition, a unique (id) on every partition, (note) on one partition only.
    await sql(dbs.source, `CREATE TABLE public.logs (id bigint NOT NULL, ts timestamptz NOT NULL, device int, note text)
        PARTITION BY RANGE (ts);
      CREATE TABLE public.logs_a PARTITION OF public.logs FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
      CREATE TABLE public.logs_b PARTITION OF public.logs FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
      CREATE INDEX ON public.logs_a (device, ts);
      CREATE INDEX ON public.logs_b (device, ts);
      CREATE UNIQUE INDEX ON public.logs_a (id);
      CREATE UNIQUE INDEX ON public.logs_b (id);
      CREATE INDEX ON public.logs_b (note);`);
  });
  afterAll(async () => {
    await dbs.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the one table gets the non-unique ones every partition agrees on; the unique one is named, not carried', async () => {
    const r = await runCli(['schema', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'public.logs:ts']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('added: CREATE INDEX ON "public"."logs" USING btree (device, ts); (every partition had it)');
    expect(r.stdout).toMatch(/left out: the unique index USING btree \(id\) that every partition has/);
    const indexes = await sql<{ d: string }>(dbs.target,
      "SELECT pg_get_indexdef(indexrelid) AS d FROM pg_index WHERE indrelid = 'public.logs'::regclass ORDER BY 1");
    expect(indexes.map((i) => i.d.replace(/INDEX \S+ ON/, 'INDEX ON'))).toEqual(['CREATE INDEX ON public.logs USING btree (device, ts)']);
  });
});
