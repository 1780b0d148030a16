/**
 * Issue #10, done means: a source with a monthly-partitioned table (default partition, identity,
 * view, index) and an inheritance tree (three children with CHECKs and a routing trigger) goes
 * through candidates, schema, hypertables, dual-writes, backfill, validate and sequences with no SQL
 * typed by the operator, and ends with both trees equal to the source's, the views intact, the
 * identity past every id, and no partition or child table on the target.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';
import { wizardWhileDualWriting, readStateFile } from '../helpers/migration.js';
import { TREES_SOURCE } from '../helpers/tree-fixture.js';

const output = (r: CliResult): string => `exit ${r.code} ${r.signal ?? ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** Dual-writes began at DUAL (the application wrote every later row to both); T is inside that window. */
const TREES = [
  { table: 'app.payments', column: 'paid_at', dual: '2024-03-01 00:00:00+00', until: '2024-03-05 00:00:00+00' },
  { table: 'app.readings', column: 'ts', dual: '2025-06-01 00:00:00+00', until: '2025-06-10 00:00:00+00' },
];

describe.skipIf(!hasTimescale)('[timescaledb] partitioned and inheritance sources, end to end', () => {
  let dbs: TestDatabases;
  let dir: string;
  const common = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];

  beforeAll(async () => {
    dbs = await createDatabases('trees_journey');
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-trees-journey-'));
    await sql(dbs.source, TREES_SOURCE);
    await sql(dbs.source, 'ANALYZE');
  });

  afterAll(async () => {
    await dbs?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('candidates offers both trees, as whole trees', async () => {
    const r = await runCli(['candidates', '--source', dbs.source, '--min-size', '0', '--json']);
    expect(r.code, output(r)).toBe(0);
    const list = JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m))) as { table: { schema: string; table: string }; blockers?: unknown[] }[];
    const names = list.map((c) => `${c.table.schema}.${c.table.table}`);
    expect(names).toEqual(expect.arrayContaining(['app.payments', 'app.readings']));
    expect(names.filter((n) => /payments_|readings_/.test(n))).toEqual([]);
    for (const tree of ['payments', 'readings']) {
      expect(list.find((c) => c.table.table === tree)?.blockers ?? []).toEqual([]);
    }
  });

  it('schema, hypertables, dual-writes, backfill, validate and sequences leave both trees as hypertables equal to the source', async () => {
    const schema = await runCli(['schema', ...common(), ...TREES.flatMap((t) => ['--table', `${t.table}:${t.column}`]),
      '--table', 'app.refunds', '--yes']);
    expect(schema.code, output(schema)).toBe(0);
    const hypertables = await runCli(['hypertables', '--target', dbs.target, '--dir', dir,
      ...TREES.flatMap((t) => ['--table', `${t.table}:${t.column}`])]);
    expect(hypertables.code, output(hypertables)).toBe(0);
    expect(await sql(dbs.target, `SELECT hypertable_schema || '.' || hypertable_name AS h FROM timescaledb_information.hypertables
      ORDER BY 1`)).toEqual([{ h: 'app.payments' }, { h: 'app.readings' }]);

    // The application writes every new row to both databases (ids taken from the source, as the
    // wizard tells it to): the rows from DUAL on.
    await sql(dbs.target, `INSERT INTO app.payments (id, paid_at, device_id, amount) OVERRIDING SYSTEM VALUE
      SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::int[], $4::numeric[])`, await columns(dbs.source,
      'SELECT id, paid_at::text, device_id, amount::text FROM app.payments WHERE paid_at >= $1 ORDER BY id', TREES[0]?.dual));
    await sql(dbs.target, 'INSERT INTO app.readings SELECT * FROM unnest($1::timestamptz[], $2::int[], $3::float8[])',
      await columns(dbs.source, 'SELECT ts::text, sensor, value FROM app.readings WHERE ts >= $1 ORDER BY ts', TREES[1]?.dual));

    for (const tree of TREES) {
      const backfill = await runCli(['backfill', ...common(), '--table', `${tree.table}:${tree.column}`, '--until', tree.until]);
      expect(backfill.code, output(backfill)).toBe(0);
      const validate = await runCli(['validate', ...common(), '--table', `${tree.table}:${tree.column}`, '--until', tree.until]);
      expect(validate.code, output(validate)).toBe(0);
      // The whole tree, the default partition's rows included, row for row.
      expect(await fingerprint(dbs.target, tree.table)).toEqual(await fingerprint(dbs.source, tree.table));
    }
    expect(Number((await sql<{ n: string }>(dbs.source, 'SELECT count(*) AS n FROM app.payments_default'))[0]?.n)).toBeGreaterThan(0);
    const sequences = await runCli(['sequences', '--source', dbs.source, '--target', dbs.target]);
    expect(sequences.code, output(sequences)).toBe(0);

    const totals = 'SELECT device_id, total::text FROM app.payment_totals ORDER BY 1';
    expect(await sql(dbs.target, totals)).toEqual(await sql(dbs.source, totals));
    const readings = 'SELECT count(*)::int AS n, sum(value)::text AS s FROM app.reading_view';
    expect(await sql(dbs.target, readings)).toEqual(await sql(dbs.source, readings));
    const [ids] = await sql<{ next: string; max: string }>(dbs.target, `SELECT
      nextval(pg_get_serial_sequence('app.payments', 'id'))::text AS next, (SELECT max(id) FROM app.payments)::text AS max`);
    expect(BigInt(ids?.next ?? '0')).toBeGreaterThan(BigInt(ids?.max ?? '0'));
    expect(await sql(dbs.target, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p') ORDER BY 1`)).toEqual(
      [{ relname: 'devices' }, { relname: 'payments' }, { relname: 'readings' }, { relname: 'refunds' }]);
  });
});

/**
 * The same trees through `migrate wizard --yes --plan`, while an application writes new rows to both
 * databases (on the source through the tree: the default partition, the routing trigger).
 */
describe.skipIf(!hasTimescale)('[timescaledb] partitioned and inheritance sources through the wizard', () => {
  let dbs: TestDatabases;
  let dir: string;

  beforeAll(async () => {
    dbs = await createDatabases('trees_wizard');
    dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-trees-wizard-'));
    await sql(dbs.source, TREES_SOURCE);
    // A child for the present, so the routing trigger has somewhere to put today's readings.
    await sql(dbs.source, `CREATE TABLE app.readings_now (CHECK (ts >= '2026-01-01')) INHERITS (app.readings);
      CREATE OR REPLACE FUNCTION app.readings_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.ts < '2024-01-01' THEN INSERT INTO app.readings_2023 VALUES (NEW.*);
        ELSIF NEW.ts < '2025-01-01' THEN INSERT INTO app.readings_2024 VALUES (NEW.*);
        ELSIF NEW.ts < '2026-01-01' THEN INSERT INTO app.readings_2025 VALUES (NEW.*);
        ELSE INSERT INTO app.readings_now VALUES (NEW.*); END IF;
        RETURN NULL;
      END $$;
      ANALYZE;`);
  });

  afterAll(async () => {
    await dbs?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrate wizard --yes --plan makes both trees hypertables equal to the source, with no SQL by the operator', async () => {
    const plan = path.join(dir, 'plan.json');
    writeFileSync(plan, JSON.stringify({
      roles: { load: false },
      tables: [{ table: 'app.payments', timeColumn: 'paid_at', chunkInterval: '7 days' },
        { table: 'app.readings', timeColumn: 'ts', chunkInterval: '30 days' }],
      dualWrites: { confirmed: true, minRowsPerTable: 2, waitSeconds: 60 },
      completionPoint: { margin: '1 second', lateness: '1 second', waitSeconds: 60 },
    }));
    // Writes to the source stop once the data is validated, as before a switch-over: the sequences
    // (set during the switch-over step) must stay ahead of every id.
    const r = await wizardWhileDualWriting(['--yes', '--plan', plan, '--source', dbs.source, '--target', dbs.target], dir, async () => {
      if ((await readStateFile(dir))?.steps.validate?.status === 'done') return;
      const at = new Date().toISOString();
      const [row] = await sql<{ id: string }>(dbs.source,
        'INSERT INTO app.payments (paid_at, device_id, amount) VALUES ($1, 1, 5) RETURNING id::text AS id', [at]);
      await sql(dbs.target, 'INSERT INTO app.payments (id, paid_at, device_id, amount) OVERRIDING SYSTEM VALUE VALUES ($1, $2, 1, 5)',
        [row?.id, at]);
      for (const url of [dbs.source, dbs.target]) await sql(url, 'INSERT INTO app.readings VALUES ($1, 9, 1.5)', [at]);
    });
    expect(r.code, output(r)).toBe(0);
    // pg_partman's rows for the trees are left out on purpose, and not counted as a difference.
    expect(r.stderr).toMatch(/plain tables: 4 of 4 match|Plain tables: 4 match/);
    for (const table of ['app.payments', 'app.readings']) {
      expect(await fingerprint(dbs.target, table)).toEqual(await fingerprint(dbs.source, table));
    }
    expect(await sql(dbs.target, `SELECT hypertable_schema || '.' || hypertable_name AS h FROM timescaledb_information.hypertables
      ORDER BY 1`)).toEqual([{ h: 'app.payments' }, { h: 'app.readings' }]);
    const totals = 'SELECT device_id, total::text FROM app.payment_totals ORDER BY 1';
    expect(await sql(dbs.target, totals)).toEqual(await sql(dbs.source, totals));
    expect(await sql(dbs.target, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p') ORDER BY 1`)).toEqual(
      [{ relname: 'devices' }, { relname: 'payments' }, { relname: 'readings' }, { relname: 'refunds' }]);
  });
});

/** A query's rows as one array per column, for unnest(). */
async function columns(url: string, query: string, param: string | undefined): Promise<unknown[][]> {
  const rows = await sql<Record<string, unknown>>(url, query, [param]);
  const names = Object.keys(rows[0] ?? {});
  return names.map((name) => rows.map((r) => r[name]));
}
