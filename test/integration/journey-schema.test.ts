/**
 * Issue #2's "done means": a source with several schemas, quoted mixed-case names, an identity
 * column, a generated column, enums, jsonb, arrays and bytea comes across with
 * `migrate roles`, `migrate schema` and `migrate hypertables`: roles exist on the target, every plain
 * table holds the same rows as the source, the candidate tables exist empty and are hypertables.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const suffix = Math.random().toString(36).slice(2, 8);
const appRole = `journey_app_${suffix}`;
const readerRole = `Journey Reader ${suffix}`;

const SOURCE_SCHEMA = `
CREATE ROLE "${appRole}" LOGIN PASSWORD 'app-pass';
CREATE ROLE "${readerRole}" NOLOGIN;
GRANT "${readerRole}" TO "${appRole}";
CREATE SCHEMA app;
CREATE SCHEMA "Sales Data";
CREATE TYPE app.mood AS ENUM ('happy', 'sad', 'it''s complicated');
CREATE TABLE app.customers (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  mood app.mood,
  tags text[],
  profile jsonb,
  avatar bytea,
  name_upper text GENERATED ALWAYS AS (upper(name)) STORED
);
CREATE TABLE "Sales Data"."Orders" (
  "Order Id" bigserial,
  "Created At" timestamptz NOT NULL,
  customer_id integer REFERENCES app.customers (id),
  "Amount" numeric(12, 2),
  PRIMARY KEY ("Order Id", "Created At")
);
CREATE TABLE public.metrics (
  time timestamptz NOT NULL,
  device_id integer NOT NULL,
  value double precision
);
CREATE INDEX ON public.metrics (device_id, time DESC);
CREATE TABLE public."Lookup" ("Code" text PRIMARY KEY, label text);
CREATE VIEW app.happy_customers AS SELECT id, name FROM app.customers WHERE mood = 'happy';
INSERT INTO app.customers (name, mood, tags, profile, avatar) VALUES
  ('Ada', 'happy', ARRAY['a', 'b "quoted"'], '{"k": [1, 2, {"n": null}]}', '\\x00ff10'),
  ('Bob O''Brien', 'it''s complicated', '{}', NULL, NULL),
  (E'Tab\\there\\nnewline \\\\ back', 'sad', ARRAY[NULL, 'x'], '{"unicode": "żółć 🐘"}', '\\xdeadbeef');
INSERT INTO "Sales Data"."Orders" ("Created At", customer_id, "Amount")
  SELECT timestamptz '2024-01-01 00:00:00+00' + n * interval '1 hour', 1 + n % 3, n * 1.25
  FROM generate_series(1, 500) AS n;
INSERT INTO public.metrics SELECT timestamptz '2024-01-01 00:00:00+00' + n * interval '1 minute', n % 10, n / 7.0
  FROM generate_series(1, 5000) AS n;
INSERT INTO public."Lookup" VALUES ('A', 'first'), ('b', 'second'), ('Ω', 'unicode');
`;

describe('journey: roles, schema and hypertables on a realistic source', () => {
  let dbs: TestDatabases;
  let dir: string;

  beforeAll(async () => {
    dbs = await createDatabases('journey');
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-journey-'));
    await sql(dbs.source, SOURCE_SCHEMA);
  });

  afterAll(async () => {
    await dbs.drop();
    for (const side of ['source', 'target'] as const) {
      await sql(clusterUrl(side), `DROP ROLE IF EXISTS "${appRole}"; DROP ROLE IF EXISTS "${readerRole}"`);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const common = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];

  it('copies the roles', async () => {
    const result = await runCli(['roles', ...common()]);
    expect(result.stderr + result.stdout).not.toContain('test-secret-pw');
    expect(result.code, result.stderr).toBe(0);
    const roles = await sql<{ rolname: string; rolcanlogin: boolean }>(clusterUrl('target'),
      'SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname', [[appRole, readerRole]]);
    expect(roles).toEqual([
      { rolname: readerRole, rolcanlogin: false },
      { rolname: appRole, rolcanlogin: true },
    ].sort((a, b) => (a.rolname < b.rolname ? -1 : 1)));
    const [member] = await sql<{ ok: boolean }>(clusterUrl('target'), 'SELECT pg_has_role($1, $2, \'MEMBER\') AS ok',
      [appRole, readerRole]);
    expect(member?.ok).toBe(true);
  });

  it('copies the schema and relational data, leaving the candidates empty', async () => {
    const result = await runCli(['schema', ...common(),
      '--table', 'public.metrics:time', '--table', '"Sales Data"."Orders":"Created At"']);
    expect(result.code, result.stderr).toBe(0);
    for (const table of ['app.customers', 'public."Lookup"']) {
      expect(await fingerprint(dbs.target, table), table).toEqual(await fingerprint(dbs.source, table));
    }
    expect((await fingerprint(dbs.source, 'app.customers')).count).toBe(3);
    expect((await fingerprint(dbs.target, 'public.metrics')).count).toBe(0);
    expect((await fingerprint(dbs.target, '"Sales Data"."Orders"')).count).toBe(0);
    // The identity column continues after the copied rows; the generated column is computed.
    const [next] = await sql<{ id: number; name_upper: string }>(dbs.target,
      "INSERT INTO app.customers (name) VALUES ('new') RETURNING id, name_upper");
    expect(next).toEqual({ id: 4, name_upper: 'NEW' });
    const [view] = await sql<{ n: string }>(dbs.target, 'SELECT count(*) AS n FROM app.happy_customers');
    expect(Number(view?.n)).toBe(1);
  });

  it.skipIf(!hasTimescale)('[timescaledb] converts the candidates to hypertables', async () => {
    const result = await runCli(['hypertables', ...common(),
      '--table', 'public.metrics:time', '--table', '"Sales Data"."Orders":"Created At"']);
    expect(result.code, result.stderr).toBe(0);
    const hypertables = await sql<{ hypertable_schema: string; hypertable_name: string; column_name: string }>(dbs.target,
      `SELECT d.hypertable_schema, d.hypertable_name, d.column_name
         FROM timescaledb_information.dimensions d ORDER BY 1, 2`);
    expect(hypertables).toEqual([
      { hypertable_schema: 'Sales Data', hypertable_name: 'Orders', column_name: 'Created At' },
      { hypertable_schema: 'public', hypertable_name: 'metrics', column_name: 'time' },
    ]);
    const again = await runCli(['hypertables', ...common(), '--table', 'public.metrics:time']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('records what the subcommands did, so status knows where the migration stands', async () => {
    const result = await runCli(['status', '--dir', dir, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { steps: { id: string; status: string }[]; next: string };
    const status = Object.fromEntries(report.steps.map((s) => [s.id, s.status]));
    expect(status).toMatchObject({ roles: 'done', 'select-hypertables': 'done', schema: 'done' });
    if (hasTimescale) expect(status.hypertables).toBe('done');
    expect(result.stdout).not.toContain('test-secret-pw');
  });
});
