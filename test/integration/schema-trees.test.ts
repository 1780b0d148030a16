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

const SOURCE = `
CREATE SCHEMA app;
CREATE DOMAIN app.moment AS timestamptz NOT NULL;
CREATE TABLE app.devices (id integer PRIMARY KEY, name text);
INSERT INTO app.devices VALUES (1, 'a'), (2, 'b');

-- Monthly partitions (one of them sub-partitioned), a default partition, an identity column, a
-- generated column, a CHECK, a domain-typed time column, an index, FKs from and to the tree.
CREATE TABLE app.payments (
  id bigint GENERATED ALWAYS AS IDENTITY,
  paid_at app.moment,
  device_id integer NOT NULL REFERENCES app.devices (id),
  amount numeric(10, 2) CHECK (amount >= 0),
  cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED,
  PRIMARY KEY (id, paid_at)
) PARTITION BY RANGE (paid_at);
COMMENT ON TABLE app.payments IS 'every payment';
CREATE INDEX payments_device_idx ON app.payments (device_id, paid_at);
CREATE TABLE app.payments_2024_01 PARTITION OF app.payments FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE app.payments_2024_02 PARTITION OF app.payments FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')
  PARTITION BY RANGE (paid_at);
CREATE TABLE app.payments_2024_02a PARTITION OF app.payments_2024_02 FOR VALUES FROM ('2024-02-01') TO ('2024-02-15');
CREATE TABLE app.payments_2024_02b PARTITION OF app.payments_2024_02 DEFAULT;
CREATE TABLE app.payments_default PARTITION OF app.payments DEFAULT;
COMMENT ON TABLE app.payments_2024_01 IS 'january';
INSERT INTO app.payments (paid_at, device_id, amount)
  SELECT timestamptz '2024-01-01' + n * interval '7 hours', 1 + n % 2, n FROM generate_series(1, 300) n;
CREATE VIEW app.payment_totals AS SELECT device_id, sum(amount) AS total FROM app.payments GROUP BY device_id;
CREATE TABLE app.refunds (id serial PRIMARY KEY, payment_id bigint, paid_at timestamptz,
  FOREIGN KEY (payment_id, paid_at) REFERENCES app.payments (id, paid_at));

-- An inheritance tree: three children with CHECKs and a routing trigger, plus a trigger that stays.
CREATE TABLE app.readings (ts timestamptz NOT NULL, sensor int NOT NULL, value float8 CHECK (value > -1000));
CREATE INDEX readings_ts_idx ON app.readings (ts);
CREATE TABLE app.readings_2023 (CHECK (ts >= '2023-01-01' AND ts < '2024-01-01')) INHERITS (app.readings);
CREATE TABLE app.readings_2024 (CHECK (ts >= '2024-01-01' AND ts < '2025-01-01')) INHERITS (app.readings);
CREATE TABLE app.readings_2025 (CHECK (ts >= '2025-01-01' AND ts < '2026-01-01')) INHERITS (app.readings);
CREATE INDEX ON app.readings_2024 (ts);
CREATE FUNCTION app.readings_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.ts < '2024-01-01' THEN INSERT INTO app.readings_2023 VALUES (NEW.*);
  ELSIF NEW.ts < '2025-01-01' THEN INSERT INTO app.readings_2024 VALUES (NEW.*);
  ELSE INSERT INTO app.readings_2025 VALUES (NEW.*); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER readings_route BEFORE INSERT ON app.readings FOR EACH ROW EXECUTE FUNCTION app.readings_insert();
CREATE FUNCTION app.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER readings_audit AFTER INSERT ON app.readings FOR EACH ROW EXECUTE FUNCTION app.audit();
INSERT INTO app.readings SELECT timestamptz '2023-06-01' + n * interval '3 days', n % 4, n FROM generate_series(1, 300) n;
CREATE VIEW app.reading_view AS SELECT ts, sensor, value FROM app.readings;

-- Imitates pg_partman 4.x's catalog (the extension is not installed here): partman.part_config
-- keyed by parent_table 'schema.table', part_config_sub by sub_parent. Only the rows of the
-- chosen tree must stay behind.
CREATE SCHEMA partman;
CREATE TABLE partman.part_config (parent_table text PRIMARY KEY, control text NOT NULL,
  partition_interval text NOT NULL, partition_type text NOT NULL, premake int NOT NULL DEFAULT 4);
CREATE TABLE partman.part_config_sub (sub_parent text PRIMARY KEY, sub_control text NOT NULL);
INSERT INTO partman.part_config VALUES ('app.payments', 'paid_at', '1 month', 'native', 4), ('app.other', 'ts', '1 day', 'native', 4);
INSERT INTO partman.part_config_sub VALUES ('app.payments', 'paid_at');
`;

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
