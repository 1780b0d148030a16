/**
 * Issue #8.5, plain tables: `migrate validate` also compares every table `migrate schema` copied with
 * its data (row count + checksum), reported apart from the time tables. A difference there never
 * changes the exit status (during dual-writes the application may write them), and the report says
 * which tables differ and how many rows each side has.
 *
 * The migration is the real one: schema (one time table left empty), hypertables where TimescaleDB
 * is there, dual-written rows from a day before T, a recorded T and a backfill (so `_migrate` and
 * TimescaleDB's internals are in the target and must not be listed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordCompletionPoints } from '../../src/core/completion-points.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const T = '2024-01-04 00:00:00+00';
const METRICS = `INSERT INTO metrics SELECT timestamptz '2024-01-01 00:00:00+00' + n * interval '1 hour', n % 3, n / 3.0
  FROM generate_series(0, 4 * 24 - 1) n`;
const SOURCE = `
CREATE TABLE metrics (time timestamptz NOT NULL, device int NOT NULL, value float8);
${METRICS};
CREATE TABLE devices (id int PRIMARY KEY, name text, meta json);
INSERT INTO devices SELECT n, 'device ' || n, json_build_object('n', n, 'tags', json_build_array('a', n)) FROM generate_series(1, 50) n;
CREATE TABLE settings (key text PRIMARY KEY, value text);
INSERT INTO settings SELECT 'k' || n, 'v' || n FROM generate_series(1, 10) n;
CREATE SCHEMA "Odd Name";
CREATE TABLE "Odd Name"."Order Items" (id int, "Qty" int);
INSERT INTO "Odd Name"."Order Items" SELECT n, n % 4 FROM generate_series(1, 20) n;
CREATE TABLE orders (id int, region text) PARTITION BY LIST (region);
CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('eu');
CREATE TABLE orders_us PARTITION OF orders FOR VALUES IN ('us');
INSERT INTO orders SELECT n, CASE WHEN n % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 30) n;
CREATE TABLE base (id int);
CREATE TABLE child (extra text) INHERITS (base);
INSERT INTO base VALUES (1), (2);
INSERT INTO child VALUES (3, 'x'), (4, 'y'), (5, 'z');
CREATE TABLE notes (id int, body text);
INSERT INTO notes SELECT n, 'note ' || n FROM generate_series(1, 5) n;`;

const PLAIN = ['"Odd Name"."Order Items"', 'public.base', 'public.child', 'public.devices', 'public.notes', 'public.orders',
  'public.settings'];

let dbs: TestDatabases;
let dir: string;
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const cli = (args: string[]): Promise<CliResult> => runCli([...args, '--source', dbs.source, '--target', dbs.target, '--dir', dir]);
/** --json: stdout holds only the result document, pretty-printed (NDJSON events go to stderr). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const result = (r: CliResult): any => JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{\n') + 1));
interface Plain { table: string; rows: { source: number | null; target: number | null }; status: string; kind?: string }
const byTable = (plain: Plain[]): Record<string, Omit<Plain, 'table'>> =>
  Object.fromEntries(plain.map(({ table, rows, status, kind }) => [table, { rows, status, ...(kind ? { kind } : {}) }]));

beforeAll(async () => {
  dbs = await createDatabases('vplain');
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-vplain-'));
  await sql(dbs.source, SOURCE);
  const schema = await cli(['schema', '--table', 'metrics:time']);
  expect(schema.code, output(schema)).toBe(0);
  if (hasTimescale) {
    const hypertables = await cli(['hypertables', '--table', 'metrics:time']);
    expect(hypertables.code, output(hypertables)).toBe(0);
  }
  // Dual-writes began a day before T.
  await sql(dbs.target, `${METRICS} WHERE n >= 2 * 24`);
  await recordCompletionPoints(dir, [{ schema: 'public', table: 'metrics', column: 'time', type: 'timestamp with time zone', until: T }]);
  const backfill = await cli(['backfill', '--workers', '1']);
  expect(backfill.code, output(backfill)).toBe(0);
});

afterAll(async () => {
  await dbs?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('validate compares the plain tables', () => {
  it('lists exactly the tables the schema step copied, each compared whole: all match, exit 0, recorded in state.json', async () => {
    const r = await cli(['validate', '--json']);
    expect(r.code, output(r)).toBe(0);
    const json = result(r);
    expect(json.ok).toBe(true);
    expect(json.tables.map((t: { table: string }) => t.table)).toEqual(['public.metrics']);
    expect(json.plainTables.map((t: Plain) => t.table)).toEqual(PLAIN);
    expect(byTable(json.plainTables)).toEqual({
      '"Odd Name"."Order Items"': { rows: { source: 20, target: 20 }, status: 'match' },
      // An inheritance parent's own rows; its child is listed on its own.
      'public.base': { rows: { source: 2, target: 2 }, status: 'match' },
      'public.child': { rows: { source: 3, target: 3 }, status: 'match' },
      'public.devices': { rows: { source: 50, target: 50 }, status: 'match' },
      'public.notes': { rows: { source: 5, target: 5 }, status: 'match' },
      // A partitioned table: its partitions' rows, not the partitions one by one.
      'public.orders': { rows: { source: 30, target: 30 }, status: 'match' },
      'public.settings': { rows: { source: 10, target: 10 }, status: 'match' },
    });
    expect(json.plainTablesSummary).toEqual({ tables: 7, match: 7, differ: 0, sourceOnly: 0, targetOnly: 0, errors: 0 });
    const state = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8'));
    expect(state.steps.validate.outcome.tables[0]).toMatchObject({ table: 'public.metrics', ok: true });
    expect(state.steps.validate.outcome.plainTables).toHaveLength(7);
    expect(state.steps.validate.outcome.plainTables[3]).toEqual({ table: 'public.devices', rows: { source: 50, target: 50 }, status: 'match' });
    const text = await cli(['validate']);
    expect(text.code, output(text)).toBe(0);
    expect(text.stdout).toContain('Plain tables (whole tables, row count and checksum): 7 match.');
    expect(text.stdout).not.toContain('may differ');
  });

  it('a changed, a missing and an extra row, a table missing and one only on the target: reported with counts, exit still 0', async () => {
    // And one table that cannot be compared (the target changed its type: the source's text does not cast to int);
    // the tables after it are still compared in the same snapshot.
    await sql(dbs.source, "CREATE TABLE public.codes (code text); INSERT INTO public.codes VALUES ('abc')");
    await sql(dbs.target, `UPDATE devices SET meta = json_build_object('n', 7) WHERE id = 7;
      DELETE FROM settings WHERE key = 'k3';
      INSERT INTO "Odd Name"."Order Items" VALUES (99, 1);
      DROP TABLE notes;
      CREATE TABLE public.app_cache (id int); INSERT INTO public.app_cache VALUES (1), (2);
      CREATE SCHEMA target_only_schema; CREATE TABLE target_only_schema.elsewhere (id int);
      CREATE TABLE public.codes (code int);`);
    const r = await cli(['validate', '--json']);
    expect(r.code, output(r)).toBe(0);
    const json = result(r);
    expect(json.ok).toBe(true);
    expect(byTable(json.plainTables)).toEqual({
      '"Odd Name"."Order Items"': { rows: { source: 20, target: 21 }, status: 'differ', kind: 'extra-rows' },
      'public.app_cache': { rows: { source: null, target: 2 }, status: 'target-only' },
      'public.base': { rows: { source: 2, target: 2 }, status: 'match' },
      'public.child': { rows: { source: 3, target: 3 }, status: 'match' },
      'public.codes': { rows: { source: null, target: 0 }, status: 'error' },
      'public.devices': { rows: { source: 50, target: 50 }, status: 'differ', kind: 'changed-rows' },
      'public.notes': { rows: { source: 5, target: null }, status: 'source-only' },
      'public.orders': { rows: { source: 30, target: 30 }, status: 'match' },
      'public.settings': { rows: { source: 10, target: 9 }, status: 'differ', kind: 'missing-rows' },
    });
    expect(json.plainTablesSummary).toEqual({ tables: 9, match: 3, differ: 3, sourceOnly: 1, targetOnly: 1, errors: 1 });
    expect(json.plainTables.find((t: Plain) => t.table === 'public.codes')).toMatchObject({
      error: 'on the source: invalid input syntax for type integer: "abc" (SQLSTATE 22P02)',
      warnings: ["code differs in type; the source's values are cast to integer to compare them"] });
    const text = await cli(['validate']);
    expect(text.code, output(text)).toBe(0);
    expect(text.stdout).toContain('Source and target match below the completion point and in the dual-write window.');
    expect(text.stdout).toContain('Plain tables (whole tables, row count and checksum): 3 match, 3 differ, 1 only on the source, ' +
      '1 only on the target, 1 could not be read.');
    expect(text.stdout).toMatch(/public\.settings\s+10\s+9\s+differ: missing rows/);
    expect(text.stdout).toMatch(/"Odd Name"\."Order Items"\s+20\s+21\s+differ: extra rows/);
    expect(text.stdout).toMatch(/public\.devices\s+50\s+50\s+differ: changed rows/);
    expect(text.stdout).toMatch(/public\.notes\s+5\s+-\s+only on the source \(missing on the target\)/);
    expect(text.stdout).toMatch(/public\.app_cache\s+-\s+2\s+only on the target/);
    expect(text.stdout).toMatch(/public\.codes\s+-\s+0\s+not compared: on the source: invalid input syntax/);
    expect(text.stdout).not.toMatch(/public\.(base|child|orders)\s/);
    expect(text.stdout).toContain('the plain tables it writes may differ');
    expect(text.stdout).toMatch(/right before switching over, they must match: run `migrate validate --dir \S+ --source \S+ --target \S+` then/);
    const state = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8'));
    expect(state.steps.validate.status).toBe('done');
    expect(state.steps.validate.message).toContain('plain tables: 3 match, 3 differ');
  });

  it('a time table that differs still exits 3, with the plain tables reported alongside', async () => {
    await sql(dbs.target, `UPDATE metrics SET value = -1 WHERE time = '2024-01-02 05:00:00+00'`);
    try {
      const r = await cli(['validate', '--json']);
      expect(r.code, output(r)).toBe(3);
      expect(result(r).tables[0].differences).toHaveLength(1);
      expect(result(r).plainTablesSummary).toMatchObject({ tables: 9, differ: 3, errors: 1 });
    } finally {
      await sql(dbs.target, `UPDATE metrics SET value = 29 / 3.0 WHERE time = '2024-01-02 05:00:00+00'`);
    }
  });

  it('--no-plain-tables skips them; --table compares just the named tables unless --plain-tables is given', async () => {
    const off = await cli(['validate', '--no-plain-tables', '--json']);
    expect(off.code, output(off)).toBe(0);
    expect(result(off).plainTables).toBeUndefined();
    const text = await cli(['validate', '--table', 'metrics']);
    expect(text.code, output(text)).toBe(0);
    expect(text.stdout).not.toContain('Plain tables');
    const asked = await cli(['validate', '--table', 'metrics', '--plain-tables', '--json']);
    expect(asked.code, output(asked)).toBe(0);
    expect(result(asked).plainTables).toHaveLength(9);
    const estimate = await cli(['validate', '--estimate', '--plain-tables']);
    expect(estimate.code, output(estimate)).toBe(2);
    expect(estimate.stderr).toContain('--estimate and --plain-tables do not go together');
  });
});
