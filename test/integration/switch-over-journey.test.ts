/**
 * Issue #8's "done means", as one migration through the real CLI: a pagila-like source (roles with
 * grants, tables owned by non-default roles, a serial and an identity column whose ids are
 * dual-written, a materialized view over a time-series table, an AFTER INSERT trigger writing a
 * side table) goes through `roles`, `schema`, `hypertables` (with TimescaleDB), dual-writes as the
 * application would send them, `completion-point --until T`, `backfill`, `validate`, `sequences` and
 * `readiness`. It ends with the same owners and privileges on the target, every sequence past every
 * id, the view equal to the source's query, the side table and the time tables equal row for row,
 * and readiness exiting 0. Then a row at or after T that only the source has makes `validate` exit
 * 3 and `readiness` exit 1, both naming it; and a target loaded by a managed service's admin (not a
 * superuser) finishes the schema load and reports what it could not apply.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { clusterUrl, createDatabases, hasTimescale, pgBinDir, sql, type TestDatabases } from '../helpers/databases.js';

const suffix = randomBytes(3).toString('hex');
const OWNER = `pagila_owner_${suffix}`;
const APP = `pagila_app_${suffix}`;
const RO = `pagila_ro_${suffix}`;
/** Only on the target: like a managed service's admin (owns its database, may create roles, no superuser). */
const ADMIN = `tsdbadmin_${suffix}`;
const ROLES = [OWNER, APP, RO];
const TABLES = ['pagila.payment:payment_date', 'pagila.rental:rental_date'];
const tableArgs = TABLES.flatMap((t) => ['--table', t]);
const DUAL_WRITES = 12;

let dbs: TestDatabases;
let dir: string;
let adminDir: string;
let adminDb: string | undefined;
/** The completion point, as `--until` takes it. */
let T: string;
/** When the application dual-wrote each of its rows (PostgreSQL text). */
let times: string[];
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const connections = (): string[] => ['--source', dbs.source, '--target', dbs.target];
const cli = (args: string[]): Promise<CliResult> => runCli([...args, ...connections(), '--dir', dir]);
/** The result document: with --json, stdout holds only it (NDJSON events go to stderr). */
const lastJson = <R>(stdout: string): R => JSON.parse(stdout.slice(stdout.lastIndexOf('\n{\n') + 1)) as R;
const texts = async (url: string, query: string, params?: unknown[]): Promise<string[]> =>
  (await sql<{ r: string }>(url, query, params)).map((x) => x.r);
const rowsOf = (url: string, table: string): Promise<string[]> => texts(url, `SELECT t::text AS r FROM ${table} t ORDER BY 1`);

// pagila's shape, small: the owner role owns the schema and the tables, the application's role owns
// the audit table its trigger writes; payment (serial id) and rental (identity id) are the time series.
const SOURCE_SCHEMA = `
  CREATE ROLE "${OWNER}" NOLOGIN;
  CREATE ROLE "${APP}" LOGIN PASSWORD 'app-pw-${suffix}';
  CREATE ROLE "${RO}" NOLOGIN;
  CREATE SCHEMA pagila AUTHORIZATION "${OWNER}";
  SET ROLE "${OWNER}";
  CREATE TABLE pagila.customer (customer_id serial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, email text);
  CREATE TABLE pagila.payment (
    payment_id serial, customer_id int NOT NULL REFERENCES pagila.customer, amount numeric(5, 2) NOT NULL,
    payment_date timestamptz NOT NULL, PRIMARY KEY (payment_date, payment_id));
  CREATE INDEX ON pagila.payment (customer_id);
  CREATE TABLE pagila.rental (
    rental_id int GENERATED ALWAYS AS IDENTITY, rental_date timestamptz NOT NULL, inventory_id int NOT NULL,
    customer_id int NOT NULL REFERENCES pagila.customer, return_date timestamptz, PRIMARY KEY (rental_date, rental_id));
  CREATE FUNCTION pagila.log_payment() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO pagila.payment_audit (payment_id, customer_id, amount, paid_at)
        VALUES (NEW.payment_id, NEW.customer_id, NEW.amount, NEW.payment_date);
      RETURN NULL;
    END $$;
  CREATE MATERIALIZED VIEW pagila.monthly_revenue AS
    SELECT date_trunc('month', payment_date AT TIME ZONE 'UTC') AS month, count(*) AS payments, sum(amount) AS revenue
      FROM pagila.payment GROUP BY 1;
  RESET ROLE;
  CREATE TABLE pagila.payment_audit (
    audit_id bigserial PRIMARY KEY, payment_id int NOT NULL, customer_id int, amount numeric(5, 2), paid_at timestamptz NOT NULL);
  ALTER TABLE pagila.payment_audit OWNER TO "${APP}";
  CREATE TRIGGER payment_logged AFTER INSERT ON pagila.payment FOR EACH ROW EXECUTE FUNCTION pagila.log_payment();
  GRANT USAGE ON SCHEMA pagila TO "${APP}", "${RO}";
  GRANT SELECT, INSERT, UPDATE, DELETE ON pagila.customer, pagila.rental TO "${APP}";
  GRANT SELECT, INSERT ON pagila.payment TO "${APP}";
  GRANT SELECT ON pagila.monthly_revenue TO "${APP}";
  GRANT USAGE ON SEQUENCE pagila.customer_customer_id_seq, pagila.payment_payment_id_seq TO "${APP}";
  GRANT SELECT ON pagila.customer, pagila.payment, pagila.rental, pagila.monthly_revenue, pagila.payment_audit TO "${RO}";
  GRANT SELECT ON pagila.payment_audit TO "${OWNER}";`;

/** History from before dual-writes began (base: a whole minute of the target's clock). */
const SOURCE_ROWS = (base: string): string => `
  INSERT INTO pagila.customer (first_name, last_name, email)
    SELECT 'First' || i, 'Last' || i, 'c' || i || '@example.com' FROM generate_series(1, 40) i;
  INSERT INTO pagila.payment (customer_id, amount, payment_date)
    SELECT 1 + i % 40, (i % 11) + 0.99, timestamptz '${base}' - interval '3 hours' - i * interval '10 minutes'
      FROM generate_series(0, 299) i;
  INSERT INTO pagila.rental (rental_date, inventory_id, customer_id, return_date)
    SELECT timestamptz '${base}' - interval '3 hours' - i * interval '15 minutes', 100 + i, 1 + i % 40,
           CASE WHEN i % 3 = 0 THEN NULL ELSE timestamptz '${base}' - i * interval '5 minutes' END
      FROM generate_series(0, 199) i;
  REFRESH MATERIALIZED VIEW pagila.monthly_revenue;`;

const MONTHLY_REVENUE = `SELECT date_trunc('month', payment_date AT TIME ZONE 'UTC') AS month, count(*) AS payments, sum(amount) AS revenue
  FROM pagila.payment GROUP BY 1`;

async function connectApp(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("SET TimeZone = 'UTC'");
  return client;
}

/**
 * The application once it dual-writes: each row goes to the source first, which hands out the id
 * (serial, identity), then the same row with that id to the target. The trigger fires on both.
 */
async function dualWrite(at: string[]): Promise<void> {
  const [source, target] = await Promise.all([connectApp(dbs.source), connectApp(dbs.target)]);
  try {
    let customer = 1;
    for (const [k, time] of at.entries()) {
      if (k === 3) {
        const { rows: [c] } = await source.query<{ id: number }>(
          "INSERT INTO pagila.customer (first_name, last_name, email) VALUES ('New', 'Customer', 'new@example.com') RETURNING customer_id AS id");
        customer = c?.id as number;
        await target.query("INSERT INTO pagila.customer (customer_id, first_name, last_name, email) VALUES ($1, 'New', 'Customer', 'new@example.com')",
          [customer]);
      }
      const amount = `${k + 1}.49`;
      const { rows: [p] } = await source.query<{ id: number }>(
        'INSERT INTO pagila.payment (customer_id, amount, payment_date) VALUES ($1, $2, $3) RETURNING payment_id AS id', [customer, amount, time]);
      await target.query('INSERT INTO pagila.payment (payment_id, customer_id, amount, payment_date) VALUES ($1, $2, $3, $4)',
        [p?.id, customer, amount, time]);
      const { rows: [r] } = await source.query<{ id: number }>(
        'INSERT INTO pagila.rental (rental_date, inventory_id, customer_id) VALUES ($1, $2, $3) RETURNING rental_id AS id', [time, 500 + k, customer]);
      await target.query(`INSERT INTO pagila.rental (rental_id, rental_date, inventory_id, customer_id)
        OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4)`, [r?.id, time, 500 + k, customer]);
    }
  } finally {
    await Promise.all([source.end(), target.end()]);
  }
}

/** `role object privilege=true|false` for every role (and PUBLIC) × every relation and sequence of pagila, and the schema. */
async function privileges(url: string): Promise<string[]> {
  return texts(url, `
    WITH role AS (SELECT unnest($1::text[]) AS name)
    SELECT role.name || ' ' || c.relname || ' ' || p || '=' || has_table_privilege(role.name, c.oid, p) AS r
      FROM role, pg_class c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p
     WHERE c.relnamespace = 'pagila'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
    UNION ALL
    SELECT role.name || ' ' || c.relname || ' ' || p || '=' || has_sequence_privilege(role.name, c.oid, p)
      FROM role, pg_class c, unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p
     WHERE c.relnamespace = 'pagila'::regnamespace AND c.relkind = 'S'
    UNION ALL
    SELECT role.name || ' schema pagila ' || p || '=' || has_schema_privilege(role.name, 'pagila', p)
      FROM role, unnest(ARRAY['USAGE', 'CREATE']) p
    ORDER BY 1`, [[...ROLES, 'public']]);
}

/** Owner of the schema and of every relation in it (tables, views, materialized views, sequences). */
async function owners(url: string): Promise<string[]> {
  return texts(url, `
    SELECT 'schema pagila ' || pg_get_userbyid(nspowner) AS r FROM pg_namespace WHERE nspname = 'pagila'
    UNION ALL
    SELECT c.relkind::text || ' ' || c.relname || ' ' || pg_get_userbyid(c.relowner) FROM pg_class c
     WHERE c.relnamespace = 'pagila'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
    UNION ALL
    SELECT 'function ' || p.proname || ' ' || pg_get_userbyid(p.proowner) FROM pg_proc p WHERE p.pronamespace = 'pagila'::regnamespace
    ORDER BY 1`);
}

beforeAll(async () => {
  dbs = await createDatabases('switchover');
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-switchover-'));
  adminDir = mkdtempSync(path.join(os.tmpdir(), 'migrate-switchover-admin-'));
  // Times on the target's clock: dual-writes began 90 minutes ago and ran for an hour, one row of
  // each table every 5 min 7 s; T is half an hour after they began and an hour ago (settled).
  const [clock] = await sql<{ base: string; t: string }>(dbs.target, `SELECT date_trunc('minute', now())::text AS base,
    to_char(date_trunc('minute', now()) - interval '60 minutes', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS t`);
  const base = clock?.base as string;
  T = clock?.t as string;
  times = await texts(dbs.target, `SELECT (timestamptz '${base}' - interval '90 minutes' + k * interval '5 minutes 7 seconds')::text AS r
    FROM generate_series(0, ${DUAL_WRITES - 1}) k ORDER BY 1`);
  await sql(dbs.source, SOURCE_SCHEMA + SOURCE_ROWS(base));
});

afterAll(async () => {
  await dbs?.drop();
  if (adminDb) await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${adminDb}" WITH (FORCE)`);
  for (const side of ['source', 'target'] as const) {
    for (const role of [...ROLES, ADMIN]) await sql(clusterUrl(side), `DROP ROLE IF EXISTS "${role}"`);
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(adminDir, { recursive: true, force: true });
});

describe('switch-over journey: a pagila-like database from roles to readiness', () => {
  it('migrate roles: the roles arrive with their attributes and password hashes', async () => {
    const r = await cli(['roles']);
    expect(r.code, output(r)).toBe(0);
    const query = 'SELECT rolname || \' \' || rolcanlogin || \' \' || coalesce(rolpassword, \'-\') AS r FROM pg_authid WHERE rolname = ANY($1) ORDER BY 1';
    const onTarget = await texts(clusterUrl('target'), query, [ROLES]);
    expect(onTarget).toHaveLength(3);
    expect(onTarget).toEqual(await texts(clusterUrl('source'), query, [ROLES]));
  });

  it('migrate schema: plain tables with their rows, the time tables empty, owners and grants applied', async () => {
    const r = await cli(['schema', ...tableArgs]);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toMatch(/Owners and privileges: \d+ statement\(s\) applied\./);
    expect(r.stderr).toContain('0 refused by the target');
    expect(r.stderr).not.toContain('The target refused');
    for (const table of ['pagila.customer', 'pagila.payment_audit']) {
      expect(await rowsOf(dbs.target, table), table).toEqual(await rowsOf(dbs.source, table));
    }
    expect(await rowsOf(dbs.target, 'pagila.payment_audit')).toHaveLength(300);
    expect(await texts(dbs.target, 'SELECT count(*)::text AS r FROM pagila.payment UNION ALL SELECT count(*)::text FROM pagila.rental'))
      .toEqual(['0', '0']);
  });

  it.skipIf(!hasTimescale)('[timescaledb] migrate hypertables: both time tables become hypertables', async () => {
    const r = await cli(['hypertables', ...tableArgs]);
    expect(r.code, output(r)).toBe(0);
    expect(await texts(dbs.target, `SELECT hypertable_name || '.' || column_name AS r FROM timescaledb_information.dimensions
      WHERE hypertable_schema = 'pagila' ORDER BY 1`)).toEqual(['payment.payment_date', 'rental.rental_date']);
  });

  it('dual-writes, then completion-point, backfill, validate, sequences: each exits 0, readiness says ready', async () => {
    await dualWrite(times);
    // T lies after the first dual-written row, with dual-written rows on both sides of it.
    for (const [table, column] of [['payment', 'payment_date'], ['rental', 'rental_date']]) {
      expect(await texts(dbs.target, `SELECT (min(${column}) < $1::timestamptz AND max(${column}) > $1::timestamptz)::text AS r
        FROM pagila.${table}`, [T])).toEqual(['true']);
    }
    for (const step of [['completion-point', ...tableArgs, '--until', T], ['backfill']]) {
      const r = await cli(step);
      expect(r.code, output(r)).toBe(0);
    }
    const validated = await cli(['validate', '--json']);
    expect(validated.code, output(validated)).toBe(0);
    const result = lastJson<{ ok: boolean; tables: { table: string; ok: boolean }[];
      plainTables: { table: string; status: string }[] }>(validated.stdout);
    expect(result.tables.map((t) => [t.table, t.ok])).toEqual([['pagila.payment', true], ['pagila.rental', true]]);
    expect(result.plainTables.map((t) => [t.table, t.status]).sort())
      .toEqual([['pagila.customer', 'match'], ['pagila.payment_audit', 'match']]);
    const sequences = await runCli(['sequences', ...connections()]);
    expect(sequences.code, output(sequences)).toBe(0);
    const ready = await cli(['readiness', '--json']);
    expect(ready.code, output(ready)).toBe(0);
    const checks = lastJson<{ ready: boolean; checks: { id: string; status: string }[] }>(ready.stdout);
    expect(checks.ready).toBe(true);
    // No compression policy and no continuous aggregate in this migration: those two lines do not apply.
    expect(checks.checks.map((c) => [c.id, c.status])).toEqual([
      ['backfill', 'ok'], ['validation', 'ok'], ['plain-tables', 'ok'], ['dual-write-window', 'ok'], ['source-only-rows', 'ok'],
      ['sequences', 'ok'], ['privileges', 'ok'], ['materialized-views', 'ok'], ['background-jobs', hasTimescale ? 'ok' : 'skipped'],
      ['compression', 'skipped'], ['continuous-aggregates', 'skipped'], ['ledger', 'ok'], ['triggers', 'ok']]);
  });

  it('the time tables, the customers and the trigger\'s side table are equal row for row', async () => {
    for (const table of ['pagila.payment', 'pagila.rental', 'pagila.customer', 'pagila.payment_audit']) {
      expect(await rowsOf(dbs.target, table), table).toEqual(await rowsOf(dbs.source, table));
    }
    expect(await rowsOf(dbs.target, 'pagila.payment')).toHaveLength(300 + DUAL_WRITES);
    expect(await rowsOf(dbs.target, 'pagila.rental')).toHaveLength(200 + DUAL_WRITES);
    // One audit row per payment on each side: the backfilled rows did not fire the trigger again.
    expect(await rowsOf(dbs.target, 'pagila.payment_audit')).toHaveLength(300 + DUAL_WRITES);
  });

  it('the same owners and privileges on the target, for every role', async () => {
    const sourceOwners = await owners(dbs.source);
    expect(sourceOwners).toContain(`r payment_audit ${APP}`);
    expect(sourceOwners).toContain(`r payment ${OWNER}`);
    expect(await owners(dbs.target)).toEqual(sourceOwners);
    const tableOwners = 'SELECT tablename || \' \' || tableowner AS r FROM pg_tables WHERE schemaname = \'pagila\' ORDER BY 1';
    expect(await texts(dbs.target, tableOwners)).toEqual(await texts(dbs.source, tableOwners));
    const sourcePrivileges = await privileges(dbs.source);
    // Not all alike, so a lost or an extra grant shows.
    expect(sourcePrivileges).toEqual(expect.arrayContaining([`${APP} payment INSERT=true`, `${APP} payment UPDATE=false`,
      `${RO} payment_audit SELECT=true`, `${RO} rental INSERT=false`, `${APP} schema pagila USAGE=true`, 'public customer SELECT=false']));
    expect(await privileges(dbs.target)).toEqual(sourcePrivileges);
  });

  it('every sequence is past every id: an insert without an id succeeds on the target', async () => {
    expect(await texts(dbs.target, "SELECT sequencename AS r FROM pg_sequences WHERE schemaname = 'pagila' ORDER BY 1"))
      .toEqual(['customer_customer_id_seq', 'payment_audit_audit_id_seq', 'payment_payment_id_seq', 'rental_rental_id_seq']);
    const highest = async (url: string): Promise<Record<string, number>> => {
      const [row] = await sql<Record<string, number>>(url, `SELECT
        greatest((SELECT max(customer_id) FROM pagila.customer), (SELECT last_value FROM pagila.customer_customer_id_seq))::int AS customer,
        greatest((SELECT max(payment_id) FROM pagila.payment), (SELECT last_value FROM pagila.payment_payment_id_seq))::int AS payment,
        greatest((SELECT max(rental_id) FROM pagila.rental), (SELECT last_value FROM pagila.rental_rental_id_seq))::int AS rental,
        greatest((SELECT max(audit_id) FROM pagila.payment_audit), (SELECT last_value FROM pagila.payment_audit_audit_id_seq))::int AS audit`);
      return row as Record<string, number>;
    };
    const [onSource, onTarget] = await Promise.all([highest(dbs.source), highest(dbs.target)]);
    expect(onSource).toEqual({ customer: 41, payment: 300 + DUAL_WRITES, rental: 200 + DUAL_WRITES, audit: 300 + DUAL_WRITES });
    const target = await connectApp(dbs.target);
    try {
      // The application after the switch-over; rolled back so the comparisons below still hold.
      await target.query('BEGIN');
      const one = async (query: string): Promise<number> => Number((await target.query<{ id: number }>(query)).rows[0]?.id);
      const inserted = {
        customer: await one("INSERT INTO pagila.customer (first_name, last_name) VALUES ('After', 'Switch') RETURNING customer_id AS id"),
        payment: await one(`INSERT INTO pagila.payment (customer_id, amount, payment_date) VALUES (1, 9.99, now()) RETURNING payment_id AS id`),
        rental: await one('INSERT INTO pagila.rental (rental_date, inventory_id, customer_id) VALUES (now(), 1, 1) RETURNING rental_id AS id'),
        audit: await one('SELECT max(audit_id) AS id FROM pagila.payment_audit'), // the trigger's row for that payment
      };
      for (const [name, id] of Object.entries(inserted)) {
        expect(id, name).toBeGreaterThan(Math.max(onSource[name] as number, onTarget[name] as number));
      }
    } finally {
      await target.query('ROLLBACK');
      await target.end();
    }
  });

  it('the materialized view on the target equals its query run on the source', async () => {
    const view = await rowsOf(dbs.target, 'pagila.monthly_revenue');
    expect(view).toEqual(await rowsOf(dbs.source, `(${MONTHLY_REVENUE})`));
    const [total] = await texts(dbs.target, 'SELECT sum(payments)::text AS r FROM pagila.monthly_revenue');
    expect(total).toBe(String(300 + DUAL_WRITES));
  });

  it('a row at or after T only on the source: validate exits 3 naming it, readiness exits 1 naming its time', async () => {
    // Dual-writes missed one payment, 7.5 minutes after T (outside the lateness window).
    const [missed] = await sql<{ id: number; time: string }>(dbs.source, `INSERT INTO pagila.payment (customer_id, amount, payment_date)
      VALUES (2, 4.44, timestamptz '${T}' + interval '7 minutes 30 seconds') RETURNING payment_id AS id, payment_date::text AS time`);
    try {
      const validated = await cli(['validate']);
      expect(validated.code, output(validated)).toBe(3);
      const escaped = missed?.time.replace(/[+.]/g, '\\$&') as string;
      expect(validated.stdout).toMatch(new RegExp(`only on the source: payment_date=${escaped} .*payment_id=${missed?.id}\\b`));
      expect(validated.stdout).not.toContain('only on the target');
      const ready = await cli(['readiness']);
      expect(ready.code, output(ready)).toBe(1);
      expect(ready.stdout).toMatch(new RegExp(`last source row the target lacks\\s+FAIL\\s+${escaped} in pagila\\.payment`));
      expect(ready.stdout).toMatch(/dual-write window \(rows at or after T\)\s+FAIL\s+pagila\.payment: 1 row\(s\) only on the source/);
    } finally {
      await sql(dbs.source, 'DELETE FROM pagila.payment WHERE payment_id = $1', [missed?.id]);
      await sql(dbs.source, 'DELETE FROM pagila.payment_audit WHERE payment_id = $1', [missed?.id]);
    }
  });

  it('a target loaded by a managed service\'s admin (no superuser): the schema loads, refused owners are reported and kept', async () => {
    adminDb = `${dbs.targetName}_admin`;
    await sql(clusterUrl('target'), `CREATE ROLE "${ADMIN}" LOGIN PASSWORD 'admin-pw' CREATEROLE`);
    await sql(clusterUrl('target'), `CREATE DATABASE "${adminDb}" OWNER "${ADMIN}"`);
    // The service installs TimescaleDB for its admin.
    if (hasTimescale) await sql(clusterUrl('target', adminDb), 'CREATE EXTENSION IF NOT EXISTS timescaledb');
    const asAdmin = clusterUrl('target', adminDb, ADMIN, 'admin-pw');
    const r = await runCli(['schema', '--source', dbs.source, '--target', asAdmin, '--dir', adminDir, ...tableArgs]);
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toContain('The target refused');
    expect(r.stderr).toContain(`ALTER TABLE "pagila"."payment" OWNER TO "${OWNER}";`);
    expect(r.stderr).toContain(`ALTER TABLE "pagila"."payment_audit" OWNER TO "${APP}";`);
    const file = path.join(adminDir, 'privileges-refused.sql');
    expect(r.stdout).toContain(`they are in ${file})`);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const refused = readFileSync(file, 'utf8');
    expect(refused).toContain(`ALTER SCHEMA "pagila" OWNER TO "${OWNER}";`);
    expect(refused).toContain(`ALTER TABLE "pagila"."payment_audit" OWNER TO "${APP}";`);
    // The load finished: the plain tables hold the source's rows, the admin owns what it could not give away,
    // and the grants it could apply (as the owner now) are there.
    const target = clusterUrl('target', adminDb);
    expect(await rowsOf(target, 'pagila.customer')).toEqual(await rowsOf(dbs.source, 'pagila.customer'));
    expect(await texts(target, "SELECT tableowner AS r FROM pg_tables WHERE schemaname = 'pagila' AND tablename = 'payment'")).toEqual([ADMIN]);
    expect(await texts(target, `SELECT has_table_privilege('${RO}', 'pagila.payment', 'SELECT')::text AS r`)).toEqual(['true']);
    // The file does what it says: run with psql as a role that may (here a superuser), owners and
    // privileges are the source's.
    const psql = spawnSync(path.join(pgBinDir, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file, target], { encoding: 'utf8' });
    expect(psql.status, psql.stderr).toBe(0);
    expect(await owners(target)).toEqual(await owners(dbs.source));
    expect(await privileges(target)).toEqual(await privileges(dbs.source));
  });
});
