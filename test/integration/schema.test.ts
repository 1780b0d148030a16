/**
 * `migrate schema` against the real clusters: every plain table arrives with exactly the source's
 * rows, the given tables arrive empty, and every kind of bad input or failed load leaves the
 * target exactly as it was.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLUSTER_PASSWORD } from '../../src/core/local-cluster.js';
import type { SchemaResult } from '../../src/steps/schema.js';
import { runCli } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const SOURCE = `
CREATE SCHEMA app;
CREATE SCHEMA "Sales Data";
CREATE TYPE app.mood AS ENUM ('happy', 'sad', 'it''s complicated');
CREATE SEQUENCE app.invoice_no START 1000;
CREATE TABLE app.customers (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  mood app.mood,
  tags text[],
  profile jsonb,
  avatar bytea,
  name_upper text GENERATED ALWAYS AS (upper(name)) STORED
);
CREATE TABLE app.invoices (no bigint PRIMARY KEY DEFAULT nextval('app.invoice_no'),
  customer_id integer NOT NULL REFERENCES app.customers (id), total numeric(12, 2));
CREATE TABLE "Sales Data"."Orders" (
  "Order Id" bigserial,
  "Created At" timestamptz NOT NULL,
  customer_id integer REFERENCES app.customers (id),
  "Amount" numeric(12, 2),
  PRIMARY KEY ("Order Id", "Created At")
);
CREATE TABLE "Sales Data"."Mixed Case Notes" ("Note Id" serial PRIMARY KEY, "Body" text, at date);
CREATE TABLE public.metrics (time timestamptz NOT NULL, device_id integer NOT NULL, value double precision);
CREATE VIEW app.happy_customers AS SELECT id, name FROM app.customers WHERE mood = 'happy';
INSERT INTO app.customers (name, mood, tags, profile, avatar) VALUES
  ('Ada', 'happy', ARRAY['a', 'b "quoted"'], '{"k": [1, 2, {"n": null}]}', '\\x00ff10'),
  ('Bob O''Brien', 'it''s complicated', '{}', NULL, NULL),
  (E'Tab\\there\\nnewline \\\\ back', 'sad', ARRAY[NULL, 'x'], '{"unicode": "żółć 🐘"}', '\\xdeadbeef');
INSERT INTO app.invoices (customer_id, total) SELECT 1 + n % 3, n * 10.5 FROM generate_series(1, 40) AS n;
SELECT nextval('app.invoice_no') FROM generate_series(1, 5);
INSERT INTO "Sales Data"."Orders" ("Created At", customer_id, "Amount")
  SELECT timestamptz '2024-01-01 00:00:00+00' + n * interval '1 hour', 1 + n % 3, n * 1.25 FROM generate_series(1, 300) AS n;
INSERT INTO "Sales Data"."Mixed Case Notes" ("Body", at) VALUES ('first', '2024-02-29'), ('Ünïcödé', NULL);
INSERT INTO public.metrics SELECT timestamptz '2024-01-01 00:00:00+00' + n * interval '1 minute', n % 10, n / 7.0
  FROM generate_series(1, 2000) AS n;
`;

const CANDIDATES = ['--table', 'public.metrics', '--table', '"Sales Data"."Orders":"Created At"'];

/** The user tables of a database, quoted, in a stable order. */
async function userTables(url: string): Promise<string[]> {
  const rows = await sql<{ name: string }>(url,
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE '\\_timescaledb%' ORDER BY 1`);
  return rows.map((r) => r.name);
}

/** What a target database holds: tables, schemas, extensions. Equal snapshots = nothing changed. */
async function snapshot(url: string): Promise<unknown> {
  const [row] = await sql<{ s: unknown }>(url, `SELECT json_build_object(
    'tables', (SELECT json_agg(format('%I.%I', schemaname, tablename) ORDER BY schemaname, tablename) FROM pg_tables
                WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE '\\_timescaledb%'),
    'schemas', (SELECT json_agg(nspname ORDER BY nspname) FROM pg_namespace),
    'extensions', (SELECT json_agg(extname ORDER BY extname) FROM pg_extension),
    'types', (SELECT count(*) FROM pg_type)) AS s`);
  return row?.s;
}

/** The result object: with --json, stdout holds only it (NDJSON events go to stderr). */
function parseResult(stdout: string): SchemaResult {
  const start = stdout.startsWith('{\n') ? 0 : stdout.lastIndexOf('\n{\n') + 1;
  return JSON.parse(stdout.slice(start)) as SchemaResult;
}

describe('migrate schema', () => {
  let dbs: TestDatabases;
  let dir: string;
  const common = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];

  beforeAll(async () => {
    dbs = await createDatabases('schema');
    await sql(dbs.source, SOURCE);
  });
  afterAll(async () => { await dbs.drop(); });
  beforeEach(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-schema-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('refuses unknown tables and columns (exit 2), all at once, and changes nothing', async () => {
    const before = await snapshot(dbs.target);
    const result = await runCli(['schema', ...common(), '--table', 'public.metrics', '--table', 'nope.missing',
      '--table', '"Sales Data".orders', '--table', 'public.metrics:nope']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('3 of the tables given cannot be used');
    expect(result.stderr).toContain('nope.missing does not exist on the source');
    expect(result.stderr).toContain('"Sales Data".orders does not exist');
    expect(result.stderr).toContain('\'"Sales Data"."Orders"\'');
    expect(result.stderr).toContain('no column "nope"');
    expect(result.stderr).toContain('migrate candidates');
    expect(existsSync(path.join(dir, 'dump.sql'))).toBe(false);
    expect(await snapshot(dbs.target)).toEqual(before);
  });

  it('prints the exact commands with --dry-run and writes and changes nothing', async () => {
    const before = await snapshot(dbs.target);
    const planned = path.join(dir, 'not-yet');
    const result = await runCli(['schema', '--source', dbs.source, '--target', dbs.target, '--dir', planned, ...CANDIDATES, '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n');
    const dump = lines.find((l) => l.startsWith('$ ') && l.includes('pg_dump'));
    const load = lines.find((l) => l.startsWith('$ ') && l.includes('psql'));
    expect(dump).toContain(`--dbname postgres://postgres@127.0.0.1:`);
    expect(dump).toContain('--format=plain --quote-all-identifiers --no-tablespaces --no-owner --no-privileges');
    expect(dump).toContain(`'--exclude-table-data="public"."metrics"' '--exclude-table-data="Sales Data"."Orders"'`);
    expect(dump).toContain(`> ${path.join(planned, 'dump.sql')}`);
    expect(load).toContain('-X -q -v ON_ERROR_STOP=1 --echo-errors --single-transaction');
    expect(load).toContain(`-f ${path.join(planned, 'dump.sql')}`);
    if (hasTimescale) expect(load).toContain(`-c 'CREATE EXTENSION IF NOT EXISTS timescaledb'`);
    expect(result.stdout + result.stderr).not.toContain(CLUSTER_PASSWORD);
    expect(existsSync(planned)).toBe(false);
    expect(await snapshot(dbs.target)).toEqual(before);
  });

  it('fails with exit 1 and a clear message when pg_dump is missing, changing nothing', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'migrate-empty-bin-'));
    try {
      const before = await snapshot(dbs.target);
      const result = await runCli(['schema', ...common(), ...CANDIDATES], { env: { PG_BINDIR: empty } });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`pg_dump was not found in PG_BINDIR (${empty})`);
      expect(result.stderr).toContain('Install the PostgreSQL client tools');
      expect(await snapshot(dbs.target)).toEqual(before);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('fails with exit 1 when pg_dump is older than the source server', async () => {
    // A stand-in pg_dump that only answers --version, as an old client installation would.
    const oldBin = mkdtempSync(path.join(os.tmpdir(), 'migrate-old-bin-'));
    try {
      for (const tool of ['pg_dump', 'psql']) {
        writeFileSync(path.join(oldBin, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) 12.3"\n`, { mode: 0o755 });
      }
      const before = await snapshot(dbs.target);
      const result = await runCli(['schema', ...common(), ...CANDIDATES], { env: { PG_BINDIR: oldBin } });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/pg_dump 12\.3 \(.*\) is older than the source server \(PostgreSQL \d+\)/);
      expect(result.stderr).toContain('PG_BINDIR');
      expect(existsSync(path.join(dir, 'dump.sql'))).toBe(false);
      expect(await snapshot(dbs.target)).toEqual(before);
    } finally {
      rmSync(oldBin, { recursive: true, force: true });
    }
  });

  it('refuses a --dir that cannot be written (exit 2)', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const result = await runCli(['schema', ...common().slice(0, 4), '--dir', path.join(file, 'sub'), ...CANDIDATES]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--dir ${path.join(file, 'sub')} cannot be a directory: ${file} is a file.`);
    expect(result.stderr).toContain('next: Point --dir at a directory');
  });

  it('copies the schema and every other table\'s rows; the given tables arrive empty', async () => {
    const result = await runCli(['schema', ...common(), ...CANDIDATES, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(CLUSTER_PASSWORD);
    const summary = parseResult(result.stdout);
    expect(summary.emptyTables).toEqual([{ schema: 'public', table: 'metrics' }, { schema: 'Sales Data', table: 'Orders' }]);
    expect(summary.tablesLoaded).toEqual([{ schema: 'Sales Data', table: 'Mixed Case Notes' },
      { schema: 'app', table: 'customers' }, { schema: 'app', table: 'invoices' }]);
    expect(summary.sourceIsTimescale).toBe(false);
    if (hasTimescale) expect(summary.timescaleVersion).toMatch(/^\d+\.\d+\.\d+$/);

    expect(await userTables(dbs.target)).toEqual(await userTables(dbs.source));
    for (const table of ['app.customers', 'app.invoices', '"Sales Data"."Mixed Case Notes"']) {
      const [source, target] = [await fingerprint(dbs.source, table), await fingerprint(dbs.target, table)];
      expect(source.count, table).toBeGreaterThan(0);
      expect(target, table).toEqual(source);
    }
    expect((await fingerprint(dbs.target, 'public.metrics')).count).toBe(0);
    expect((await fingerprint(dbs.target, '"Sales Data"."Orders"')).count).toBe(0);

    // Sequences came along: the standalone one, the identity and the serial ones.
    const sequences = `SELECT json_agg(json_build_object('seq', format('%I.%I', schemaname, sequencename),
      'last', last_value) ORDER BY schemaname, sequencename) AS s FROM pg_sequences WHERE schemaname NOT LIKE '\\_timescaledb%'`;
    expect((await sql(dbs.target, sequences))[0]).toEqual((await sql(dbs.source, sequences))[0]);
    const [invoice] = await sql<{ no: string }>(dbs.target, "SELECT nextval('app.invoice_no') AS no");
    expect(Number(invoice?.no)).toBe(1045);
    const [next] = await sql<{ id: number; name_upper: string }>(dbs.target,
      "INSERT INTO app.customers (name) VALUES ('new') RETURNING id, name_upper");
    expect(next).toEqual({ id: 4, name_upper: 'NEW' });
    const [view] = await sql<{ n: string }>(dbs.target, 'SELECT count(*) AS n FROM app.happy_customers');
    expect(Number(view?.n)).toBe(1);
    const [fks] = await sql<{ n: string }>(dbs.target, `SELECT count(*) AS n FROM pg_constraint c
      JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname IN ('app', 'Sales Data', 'public')`);
    expect(Number(fks?.n)).toBe(2);
    if (hasTimescale) {
      const [ext] = await sql<{ n: string }>(dbs.target, "SELECT count(*) AS n FROM pg_extension WHERE extname = 'timescaledb'");
      expect(Number(ext?.n)).toBe(1);
    }
    // The dump holds data: only its owner may read it, and it carries no password.
    const dumpFile = path.join(dir, 'dump.sql');
    expect(summary.dumpFile).toBe(dumpFile);
    expect(statSync(dumpFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(dumpFile, 'utf8')).not.toContain(CLUSTER_PASSWORD);
  });

  it('refuses a target that already holds tables (exit 2) unless --yes', async () => {
    // The previous test loaded the schema: the target is no longer empty.
    const before = await snapshot(dbs.target);
    const result = await runCli(['schema', ...common(), ...CANDIDATES]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('already holds 5 tables');
    expect(result.stderr).toContain('"Sales Data"."Mixed Case Notes"');
    expect(result.stderr).toContain('--yes');
    expect(existsSync(path.join(dir, 'dump.sql'))).toBe(false);
    expect(await snapshot(dbs.target)).toEqual(before);
  });

  it('rolls the whole load back when it fails half-way, CREATE EXTENSION included (--yes into a conflicting target)', async () => {
    const name = `schema_conflict_${Math.random().toString(36).slice(2, 8)}`;
    await sql(clusterUrl('target'), `CREATE DATABASE "${name}"`);
    const target = clusterUrl('target', name);
    try {
      // "Sales Data" and app do not exist yet, so the load gets well past its first statements
      // (schemas, types, the timescaledb extension) before app.customers clashes.
      await sql(target, `CREATE TABLE public.metrics (x integer); INSERT INTO public.metrics VALUES (1), (2);`);
      const before = await snapshot(target);
      const rows = await fingerprint(target, 'public.metrics');
      const result = await runCli(['schema', '--source', dbs.source, '--target', target, '--dir', dir, ...CANDIDATES, '--yes']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('relation "metrics" already exists');
      expect(result.stderr).toContain('STATEMENT:  CREATE TABLE "public"."metrics"');
      expect(result.stderr).toContain('the target is unchanged');
      expect(result.stderr).toContain('next:');
      expect(await snapshot(target)).toEqual(before);
      expect(await fingerprint(target, 'public.metrics')).toEqual(rows);
    } finally {
      await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  });
});

describe('migrate schema: leaving out data that other tables need', () => {
  let dbs: TestDatabases;
  let dir: string;

  beforeAll(async () => {
    dbs = await createDatabases('schema_parts');
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-schema-parts-'));
    await sql(dbs.source, `
      CREATE TABLE events (ts timestamptz NOT NULL, kind text) PARTITION BY RANGE (ts);
      CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      INSERT INTO events SELECT timestamptz '2024-06-01' + n * interval '1 day', 'k' || n FROM generate_series(1, 400) n;
      CREATE TABLE readings (id bigint PRIMARY KEY, ts timestamptz NOT NULL);
      CREATE TABLE alerts (id serial PRIMARY KEY, reading_id bigint REFERENCES readings (id));
      INSERT INTO readings VALUES (1, '2024-01-01'); INSERT INTO alerts (reading_id) VALUES (1);
      CREATE TABLE settings (k text PRIMARY KEY, v text); INSERT INTO settings VALUES ('a', 'b');`);
  });
  afterAll(async () => {
    await dbs.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses (exit 2) to leave out rows that a kept table references, naming it', async () => {
    const result = await runCli(['schema', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'readings:ts']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('public.alerts (foreign key "alerts_reading_id_fkey") has rows that reference public.readings');
    expect(await userTables(dbs.target)).toEqual([]);
  });

  it('leaves out the data of every partition of a partitioned table, which arrives as one plain table', async () => {
    const result = await runCli(['schema', '--source', dbs.source, '--target', dbs.target, '--dir', dir,
      '--table', 'events:ts', '--table', 'readings', '--table', 'alerts']);
    expect(result.code, result.stderr).toBe(0);
    // The partitions stay behind (schema-trees.test.ts covers the rewrite).
    expect(await userTables(dbs.target)).toEqual((await userTables(dbs.source)).filter((t) => !/^public\.events_/.test(t)));
    for (const table of ['events', 'readings', 'alerts']) {
      expect((await fingerprint(dbs.target, table)).count, table).toBe(0);
    }
    expect(await fingerprint(dbs.target, 'settings')).toEqual(await fingerprint(dbs.source, 'settings'));
    expect((await fingerprint(dbs.source, 'events_2025')).count).toBeGreaterThan(0);
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] migrate schema from a TimescaleDB source', () => {
  // The target cluster preloads TimescaleDB, so a second database there is the TimescaleDB source.
  const sourceName = `schema_ts_src_${Math.random().toString(36).slice(2, 8)}`;
  const source = (): string => clusterUrl('target', sourceName);
  let dbs: TestDatabases;
  let dir: string;

  beforeAll(async () => {
    dbs = await createDatabases('schema_ts');
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-schema-ts-'));
    await sql(clusterUrl('target'), `CREATE DATABASE "${sourceName}"`);
    await sql(source(), `
      CREATE EXTENSION timescaledb;
      CREATE TABLE conditions (time timestamptz NOT NULL, device integer, temp float8);
      SELECT create_hypertable('conditions', by_range('time', interval '1 day'));
      INSERT INTO conditions SELECT timestamptz '2024-01-01' + n * interval '1 hour', n % 5, n FROM generate_series(1, 200) n;
      ALTER TABLE conditions SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
      SELECT compress_chunk(c) FROM show_chunks('conditions', older_than => timestamptz '2024-01-05') c;
      -- After compress_chunk: the policy's job starts at once and would race it.
      SELECT add_compression_policy('conditions', interval '7 days');
      CREATE TABLE other (time timestamptz NOT NULL, v integer);
      SELECT create_hypertable('other', by_range('time'));
      INSERT INTO other SELECT timestamptz '2024-01-01' + n * interval '1 hour', n FROM generate_series(1, 20) n;
      CREATE TABLE devices (id integer PRIMARY KEY, name text);
      INSERT INTO devices SELECT n, 'device ' || n FROM generate_series(0, 4) n;`);
  });
  afterAll(async () => {
    await dbs.drop();
    await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${sourceName}" WITH (FORCE)`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('restores inside pre/post_restore in one transaction; hypertables arrive empty, plain tables full', async () => {
    const result = await runCli(['schema', '--source', source(), '--target', dbs.target, '--dir', dir,
      '--table', 'conditions:time', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const summary = parseResult(result.stdout);
    expect(summary.sourceIsTimescale).toBe(true);
    expect(summary.timescaleVersion).toBe(summary.sourceTimescaleVersion);
    expect(summary.emptyTables).toEqual([{ schema: 'public', table: 'conditions' }, { schema: 'public', table: 'other' }]);
    expect(summary.tablesLoaded).toEqual([{ schema: 'public', table: 'devices' }]);
    // Said in an event: with --json those are NDJSON on stderr, stdout holds only the result.
    expect(result.stderr).toContain('public.other');
    expect(readFileSync(path.join(dir, 'dump.sql'), 'utf8')).not.toMatch(/COPY "_timescaledb_internal"/);

    const hypertables = await sql<{ hypertable_name: string; compression_enabled: boolean }>(dbs.target,
      'SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables ORDER BY 1');
    expect(hypertables).toEqual([{ hypertable_name: 'conditions', compression_enabled: true },
      { hypertable_name: 'other', compression_enabled: false }]);
    expect((await fingerprint(dbs.target, 'conditions')).count).toBe(0);
    expect((await fingerprint(dbs.target, 'other')).count).toBe(0);
    expect(await fingerprint(dbs.target, 'devices')).toEqual(await fingerprint(source(), 'devices'));
    const jobs = await sql<{ proc_name: string; scheduled: boolean }>(dbs.target,
      "SELECT proc_name, scheduled FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'");
    // The policy arrives paused until the backfill is complete (schema-jobs.test.ts has the whole story).
    expect(jobs).toEqual([{ proc_name: 'policy_compression', scheduled: false }]);
    // post_restore ran: the database is not left in restoring mode.
    const [restoring] = await sql<{ v: string }>(dbs.target, "SELECT current_setting('timescaledb.restoring') AS v");
    expect(restoring?.v).toBe('off');
    const settings = await sql(clusterUrl('target'), `SELECT setconfig FROM pg_db_role_setting s
      JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`, [dbs.targetName]);
    expect(settings).toEqual([]);
  });

  it('after a failed load into a target that had TimescaleDB, leaves it unchanged with its job scheduler running', async () => {
    const name = `schema_ts_fail_${Math.random().toString(36).slice(2, 8)}`;
    await sql(clusterUrl('target'), `CREATE DATABASE "${name}"`);
    const target = clusterUrl('target', name);
    const schedulerRunning = async (): Promise<boolean> => {
      for (let i = 0; i < 50; i += 1) {
        const rows = await sql(clusterUrl('target'), `SELECT 1 FROM pg_stat_activity
          WHERE datname = $1 AND backend_type = 'TimescaleDB Background Worker Scheduler'`, [name]);
        if (rows.length > 0) return true;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return false;
    };
    try {
      await sql(target, 'CREATE EXTENSION timescaledb; CREATE TABLE public.devices (clash integer);');
      expect(await schedulerRunning()).toBe(true);
      const before = await snapshot(target);
      const result = await runCli(['schema', '--source', source(), '--target', target, '--dir', dir,
        '--table', 'conditions:time', '--yes']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('relation "devices" already exists');
      expect(await snapshot(target)).toEqual(before);
      // timescaledb_pre_restore() stopped the scheduler, which the rollback does not undo; we restart it.
      expect(await schedulerRunning()).toBe(true);
    } finally {
      await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  });
});
