/**
 * `migrate candidates` against a real source: sizes, order, suggested time columns and chunk
 * intervals, and every kind of blocker with its fix (JSON and text output).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Candidate } from '../../src/steps/candidates.js';
import { runCli } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;

const FIXTURES = `
  -- 50k rows 10 ms apart: ~8.6M rows/day, so ~1-day chunks hold ~10M rows.
  CREATE TABLE metrics (time timestamptz NOT NULL, device_id int NOT NULL, value float8, PRIMARY KEY (device_id, time));
  INSERT INTO metrics SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '10 ms', g % 10, g FROM generate_series(1, 50000) g;
  CREATE INDEX metrics_time_idx ON metrics (time DESC);
  -- bigint epoch milliseconds, one row a minute.
  -- Stays "never analyzed" for the test: autovacuum would otherwise analyze it at its own moment.
  CREATE TABLE events_ms (ts_ms bigint NOT NULL, id bigint, payload text) WITH (autovacuum_enabled = false);
  INSERT INTO events_ms SELECT 1704067200000 + g * 60000, g, repeat('x', 20) FROM generate_series(1, 20000) g;
  CREATE TABLE orders (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric);
  INSERT INTO orders (created_at, amount) SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 hour', g FROM generate_series(1, 5000) g;
  CREATE TABLE devices (id int PRIMARY KEY, name text);
  INSERT INTO devices SELECT g, 'd' || g FROM generate_series(1, 10) g;
  CREATE TABLE readings (id int, time timestamptz NOT NULL, PRIMARY KEY (id, time));
  INSERT INTO readings SELECT g, '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 second' FROM generate_series(1, 3000) g;
  CREATE TABLE reading_notes (reading_id int, reading_time timestamptz, note text,
    FOREIGN KEY (reading_id, reading_time) REFERENCES readings (id, time));
  CREATE TABLE plog (time timestamptz NOT NULL, msg text) PARTITION BY RANGE (time);
  CREATE TABLE plog_2024 PARTITION OF plog FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  INSERT INTO plog SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute', 'm' FROM generate_series(1, 3000) g;
  CREATE TABLE base_log (time timestamptz NOT NULL, msg text);
  CREATE TABLE child_log (extra int) INHERITS (base_log);
  INSERT INTO child_log SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute', 'm', 1 FROM generate_series(1, 2000) g;
  CREATE SCHEMA "Sales Data";
  CREATE TABLE "Sales Data"."Orders" ("Created At" timestamp NOT NULL, "Order Id" int, total numeric);
  INSERT INTO "Sales Data"."Orders" SELECT '2024-01-01'::timestamp + g * interval '10 minutes', g, g FROM generate_series(1, 4000) g;
  CREATE TABLE sightings (seen_at timestamptz, v int);
  INSERT INTO sightings SELECT CASE WHEN g = 7 THEN NULL ELSE '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute' END, g
    FROM generate_series(1, 1000) g;
  CREATE TABLE "CamelCase" (time timestamptz NOT NULL);
  ANALYZE metrics;
`;

async function candidates(args: string[]): Promise<Candidate[]> {
  const r = await runCli(['candidates', '--source', dbs.source, '--json', ...args]);
  expect(r.stderr).not.toMatch(/error:/);
  expect(r.code).toBe(0);
  // --json: stdout is the one result document (events go to stderr).
  return JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m))) as Candidate[];
}

const byName = (list: Candidate[], schema: string, table: string): Candidate => {
  const found = list.find((c) => c.table.schema === schema && c.table.table === table);
  if (!found) throw new Error(`${schema}.${table} is not in ${list.map((c) => c.table.table).join(', ')}`);
  return found;
};

beforeAll(async () => {
  dbs = await createDatabases('candidates');
  await sql(dbs.source, FIXTURES);
});
afterAll(async () => { await dbs?.drop(); });

describe('migrate candidates', () => {
  it('lists time-series tables largest first, with time column, interval and blockers', async () => {
    const list = await candidates(['--min-size', '0']);
    const names = list.map((c) => `${c.table.schema}.${c.table.table}`);
    // Largest first; tables without a time column (devices), partitions (plog_2024) and inheritance children
    // (child_log) are not listed: their trees are.
    expect(names.slice(0, 2)).toEqual(['public.metrics', 'public.events_ms']);
    expect(list.map((c) => c.totalBytes)).toEqual([...list.map((c) => c.totalBytes)].sort((a, b) => b - a));
    expect(names).not.toContain('public.devices');
    expect(names).not.toContain('public.plog_2024');
    expect(names).not.toContain('public.child_log');
    expect(new Set(names)).toEqual(new Set(['public.metrics', 'public.events_ms', 'public.orders', 'public.readings',
      'public.reading_notes', 'public.plog', 'public.base_log', 'Sales Data.Orders', 'public.sightings',
      'public.CamelCase']));

    const metrics = byName(list, 'public', 'metrics');
    expect(metrics.estimatedRows).toBe(50000);
    expect(metrics.timeColumn).toMatchObject({ name: 'time', type: 'timestamptz' });
    expect(metrics.timeColumn?.reason).toBe('NOT NULL timestamptz, named like a time column, leading column of index ' +
      'metrics_time_idx, in the primary key');
    expect(metrics.chunkInterval?.value).toBe('1 day');
    expect(metrics.chunkInterval?.reason).toMatch(/rows\/day/);
    expect(metrics.timeRange).toEqual({ min: '2024-01-01 00:00:00.01+00', max: '2024-01-01 00:08:20+00', method: 'index' });
    expect(metrics.blockers).toEqual([]);

    const events = byName(list, 'public', 'events_ms');
    expect(events.timeColumn).toMatchObject({ name: 'ts_ms', type: 'bigint' });
    expect(events.estimatedRows).toBe(20000); // never analyzed: counted
    expect(events.notes).toContain('never analyzed: rows counted exactly (small table)');
    expect(events.chunkInterval?.value).toBe('2592000000'); // 30 days of milliseconds
    expect(events.chunkInterval?.reason).toMatch(/epoch milliseconds/);

    const orders = byName(list, 'public', 'orders');
    expect(orders.timeColumn?.name).toBe('created_at');
    expect(orders.blockers).toEqual([{
      kind: 'unique-without-time',
      message: 'The primary key orders_pkey of public.orders (id) does not include the time column created_at; ' +
        'TimescaleDB requires every unique index to include it.',
      fix: 'On the target, after `migrate schema`: ALTER TABLE "public"."orders" DROP CONSTRAINT "orders_pkey", ' +
        'ADD PRIMARY KEY ("id", "created_at");',
    }]);

    // TimescaleDB 2.16+ (2.28.3 here) lets foreign keys reference hypertables: a warning, not a blocker.
    const readings = byName(list, 'public', 'readings');
    expect(readings.blockers).toEqual([]);
    expect(readings.warnings).toMatchObject([{ kind: 'referenced-by-fk',
      message: 'Foreign key reading_notes_reading_id_reading_time_fkey on public.reading_notes (reading_id, reading_time) ' +
        'references public.readings.' }]);

    const plog = byName(list, 'public', 'plog');
    // A tree is a candidate: one plain table replaces it on the target (partitioned-sources.test.ts has more).
    expect(plog.blockers).toEqual([]);
    expect(plog.estimatedRows).toBe(3000); // summed over the partitions
    expect(plog.notes).toContainEqual(expect.stringMatching(/^partitioned by RANGE \(("time"|time)\) into 1 partition: the target gets one plain table/));
    const baseLog = byName(list, 'public', 'base_log');
    expect(baseLog.blockers).toEqual([]);
    expect(baseLog.estimatedRows).toBe(2000); // the child's rows
    expect(baseLog.timeRange).toMatchObject({ min: '2024-01-01 00:01:00+00', max: '2024-01-02 09:20:00+00' });

    const sales = byName(list, 'Sales Data', 'Orders');
    expect(sales.timeColumn).toMatchObject({ name: 'Created At', type: 'timestamp' });
    expect(sales.blockers).toEqual([]);

    const sightings = byName(list, 'public', 'sightings');
    expect(sightings.blockers.map((b) => b.kind)).toEqual(['nullable-time']);
    // A nullable time column without NULLs is only a note.
    expect(byName(list, 'public', 'reading_notes').notes)
      .toContain('reading_time is nullable but has no NULLs; create_hypertable makes it NOT NULL');
  });

  it('leaves out tables below --min-size (default 10MB)', async () => {
    const list = await candidates(['--min-size', '1MB']);
    expect(list.map((c) => c.table.table)).toEqual(['metrics', 'events_ms']);
    expect(await candidates([])).toEqual([]);
  });

  it('examines named tables whatever their size, including the time column given', async () => {
    const list = await candidates(['--table', 'devices', '--table', '"Sales Data"."Orders":"Created At"', '--table', 'orders:id']);
    expect(byName(list, 'public', 'devices').blockers.map((b) => b.kind)).toEqual(['no-time-column']);
    expect(byName(list, 'Sales Data', 'Orders').timeColumn?.reason).toMatch(/^named with --table/);
    // An integer id as the time column: allowed when named, and the PK then includes it.
    const orders = byName(list, 'public', 'orders');
    expect(orders.timeColumn).toMatchObject({ name: 'id', type: 'bigint' });
    expect(orders.blockers).toEqual([]);
  });

  it('refuses unknown tables and unsupported columns with exit 2, and suggests the quoted name', async () => {
    const folded = await runCli(['candidates', '--source', dbs.source, '--table', 'CamelCase']);
    expect(folded.code).toBe(2);
    expect(folded.stderr).toContain('The table public.camelcase does not exist on the source. Did you mean \'public."CamelCase"\'?');
    expect(folded.stderr).toMatch(/next: .*double quotes/);

    const missing = await runCli(['candidates', '--source', dbs.source, '--table', 'nowhere']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('The table public.nowhere does not exist on the source.');

    const text = await runCli(['candidates', '--source', dbs.source, '--table', 'metrics:value']);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain('The column "value" of public.metrics has type double precision, which cannot be a time column.');
    expect(text.stderr).toContain('timestamptz, timestamp, date, bigint, integer, smallint');

    const size = await runCli(['candidates', '--source', dbs.source, '--min-size', 'lots']);
    expect(size.code).toBe(2);
  });

  it('prints a table with the blockers and their fixes', async () => {
    const r = await runCli(['candidates', '--source', dbs.source, '--min-size', '0']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^table\s+size\s+rows\s+time column\s+chunk interval\s+status$/);
    expect(lines[2]).toMatch(/^public\.metrics\s+\d+\.?\d* [kM]B\s+~50,000\s+time \(timestamptz\)\s+1 day\s+ready$/);
    expect(r.stdout).toMatch(/^public\.orders .* BLOCKED \(1\)$/m);
    expect(r.stdout).toContain('BLOCKER (unique-without-time): The primary key orders_pkey of public.orders (id)');
    expect(r.stdout).toContain('fix: On the target, after `migrate schema`: ALTER TABLE "public"."orders" DROP CONSTRAINT');
    expect(r.stdout).toContain(`--table '"Sales Data"."Orders":"Created At"'`);
  });
});
