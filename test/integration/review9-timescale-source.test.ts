/**
 * Review of issue #9 (TimescaleDB source: aggregate history, compressed chunks, aggregate
 * validation): hostile but realistic scenarios. Each `it` states what a user would expect.
 *
 * What failed at the time of review (commit 163efd9), fixed since and kept here as regression tests:
 *  - float aggregate, T inside a bucket: `validate` exits 3 on the bucket holding T (float sums in
 *    another row order), on every run;
 *  - integer (int4) time with an aggregate never refreshed on the source: `backfill` exits 2 ("range
 *    ... is empty: --from -2147483648 is not before --until -2147483648");
 *  - space partitions: both partitions' chunks compressed where the source compressed one;
 *  - `validate --repair` refreshes the aggregate over [NULL, T + bucket) with force and deletes every
 *    bucket whose raw rows retention dropped (history gone; `backfill --redo` brings it back).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { createTimescaleDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const dirs: string[] = [];
const tmp = (): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-review9-'));
  dirs.push(dir);
  return dir;
};
const output = (r: CliResult): string => `exit ${r.code} ${r.signal ?? ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const lastJson = <T>(stdout: string): T => JSON.parse(stdout.slice(stdout.lastIndexOf('\n{\n') + 1)) as T;

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Copy the source's rows at or after `from` into the target, as the application's dual-writes would have. */
async function dualWrite(source: string, target: string, table: string, from: string, cast = 'timestamptz', col = 'time'): Promise<void> {
  const rows = await sql<{ r: string }>(source, `SELECT t::text AS r FROM ${table} t WHERE ${col} >= $1::${cast} ORDER BY ${col}`, [from]);
  await sql(target, `INSERT INTO ${table} SELECT (r::text::${table}).* FROM unnest($1::text[]) r`, [rows.map((r) => r.r)]);
}

/*
 * 1. Float aggregates, a real-time aggregate, T inside a bucket; then the source refreshes further
 *    and the same backfill runs again.
 */
describe.skipIf(!hasTimescale)('[timescaledb] review9: float real-time aggregate, re-run after the source advanced', () => {
  let dbs: TestDatabases;
  let dir: string;
  const DUAL = '2024-01-07 00:00:00+00';
  const T = '2024-01-07 06:30:00+00';
  const connection = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];
  const view = (url: string, below: string): Promise<unknown[]> =>
    // Buckets recomputed on the target sum the same floats in another order: equal to 9 decimals, not to the last bit.
    sql(url, `SELECT bucket::text, device, round(avg::numeric, 9)::text AS avg, round(s::numeric, 9)::text AS s, n FROM public.m_hourly
      WHERE bucket < $1 ORDER BY 1, 2`, [below]);

  beforeAll(async () => {
    dbs = await createTimescaleDatabases('r9_float');
    dir = tmp();
    await sql(dbs.source, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE TABLE public.m (time timestamptz NOT NULL, device int NOT NULL, value double precision);
      SELECT create_hypertable('public.m', by_range('time', interval '1 day'));
      INSERT INTO public.m SELECT timestamptz '2024-01-01 00:00:00+00' + (i / 2) * interval '1 minute', i % 2, sin(i) * 1000.123
        FROM generate_series(0, 2 * 60 * 24 * 8 - 1) i;
      CREATE MATERIALIZED VIEW public.m_hourly WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket('1 hour', time) AS bucket, device, avg(value) AS avg, sum(value) AS s, count(*)::int AS n
          FROM public.m GROUP BY 1, 2 WITH NO DATA;`);
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.m_hourly', NULL, '2024-01-06')");
    await sql(dbs.source, `ALTER TABLE public.m SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
      SELECT compress_chunk(c) FROM show_chunks('public.m', older_than => timestamptz '2024-01-04 00:00:00+00') c;
      SELECT add_continuous_aggregate_policy('public.m_hourly', start_offset => interval '1000 days', end_offset => interval '1 hour',
        schedule_interval => interval '1 hour');
      ANALYZE public.m;`);
    const schema = await runCli(['schema', ...connection(), '--table', 'public.m:time', '--yes']);
    expect(schema.code, output(schema)).toBe(0);
    await dualWrite(dbs.source, dbs.target, 'public.m', DUAL);
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.m_hourly', '2024-01-05', '2024-01-07 12:00:00+00')");
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('backfill: the aggregate equals the source\'s, and validate says match', async () => {
    const dry = await runCli(['backfill', ...connection(), '--table', 'public.m:time', '--until', T, '--dry-run']);
    expect(dry.code, output(dry)).toBe(0);
    expect(dry.stderr).toMatch(/holds the materialized rows of public\.m_hourly: its buckets below 2024-01-07 05:30:00\+00 are copied/);
    const backfill = await runCli(['backfill', ...connection(), '--table', 'public.m:time', '--until', T, '--workers', '2', '--json']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.m')).toEqual(await fingerprint(dbs.source, 'public.m'));
    const validate = await runCli(['validate', ...connection(), '--table', 'public.m:time', '--until', T, '--json']);
    const want = await view(dbs.source, '2024-01-07 12:00:00+00');
    const got = await view(dbs.target, '2024-01-07 12:00:00+00');
    expect(validate.code, output(validate)).toBe(0);
    expect(lastJson<{ aggregates: { view: string; ok: boolean }[] }>(validate.stdout).aggregates).toEqual([
      expect.objectContaining({ view: 'public.m_hourly', ok: true })]);
    expect(got).toEqual(want);
  });

  it('after the source refreshed further, the same backfill runs again without complaint and validate still matches', async () => {
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.m_hourly', '2024-01-05', '2024-01-08 00:00:00+00')");
    const again = await runCli(['backfill', ...connection(), '--table', 'public.m:time', '--until', T]);
    expect(again.code, output(again)).toBe(0);
    const validate = await runCli(['validate', ...connection(), '--table', 'public.m:time', '--until', T]);
    expect(validate.code, output(validate)).toBe(0);
  });
});

async function chunkStates(url: string, table: string): Promise<string[]> {
  const rows = await sql<{ r: string }>(url, `SELECT coalesce(range_start::text, range_start_integer::text) || ' .. ' ||
      coalesce(range_end::text, range_end_integer::text) || ' ' || is_compressed AS r
    FROM timescaledb_information.chunks WHERE format('%I.%I', hypertable_schema, hypertable_name)::regclass = $1::regclass
    ORDER BY range_start, range_start_integer, chunk_name`, [table]);
  return rows.map((r) => r.r);
}

/*
 * 2. Integer time (integer_now), retention, compression; one aggregate refreshed, one never refreshed.
 */
for (const withNever of [true, false]) describe.skipIf(!hasTimescale)(`[timescaledb] review9: integer-time hypertable with aggregates${withNever ? ', one never refreshed' : ''}`, () => {
  let dbs: TestDatabases;
  let dir: string;
  const T = '9050';
  const connection = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];
  const views = async (url: string): Promise<unknown[]> => [
    await sql(url, 'SELECT b, device, s::text, n FROM public.ev_100 ORDER BY 1, 2'),
    ...(withNever ? [await sql(url, 'SELECT b, device, s::text, n FROM public.ev_never ORDER BY 1, 2')] : []),
  ];

  beforeAll(async () => {
    dbs = await createTimescaleDatabases(withNever ? 'r9_int_never' : 'r9_int');
    dir = tmp();
    await sql(dbs.source, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE TABLE public.ev (time int NOT NULL, device int NOT NULL, value bigint);
      SELECT create_hypertable('public.ev', by_range('time', 1000));
      CREATE FUNCTION public.ev_now() RETURNS int LANGUAGE sql STABLE AS 'SELECT coalesce(max(time), 0) FROM public.ev';
      SELECT set_integer_now_func('public.ev', 'public.ev_now');
      INSERT INTO public.ev SELECT i / 2, i % 2, i FROM generate_series(0, 2 * 10000 - 1) i;
      CREATE MATERIALIZED VIEW public.ev_100 WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
        SELECT time_bucket(100, time) AS b, device, sum(value) AS s, count(*)::int AS n FROM public.ev GROUP BY 1, 2 WITH NO DATA;
      ${withNever ? `CREATE MATERIALIZED VIEW public.ev_never WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(500, time) AS b, device, sum(value) AS s, count(*)::int AS n FROM public.ev GROUP BY 1, 2 WITH NO DATA;` : ''}`);
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.ev_100', NULL, 8000)");
    await sql(dbs.source, `SELECT drop_chunks('public.ev', older_than => 3000);
      ALTER TABLE public.ev SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
      SELECT compress_chunk(c) FROM show_chunks('public.ev', older_than => 6000) c;
      SELECT add_continuous_aggregate_policy('public.ev_100', start_offset => 100000, end_offset => 200, schedule_interval => interval '1 hour');
      ANALYZE public.ev;`);
    const schema = await runCli(['schema', ...connection(), '--table', 'public.ev:time', '--yes']);
    expect(schema.code, output(schema)).toBe(0);
    await dualWrite(dbs.source, dbs.target, 'public.ev', '9000', 'int');
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.ev_100', 7000, 9800)");
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('backfill copies history, compresses, and both aggregates equal the source\'s', async () => {
    const backfill = await runCli(['backfill', ...connection(), '--table', 'public.ev:time', '--until', T, '--workers', '2']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.ev')).toEqual(await fingerprint(dbs.source, 'public.ev'));
    expect(await chunkStates(dbs.target, 'public.ev')).toEqual(await chunkStates(dbs.source, 'public.ev'));
    const [want, got] = [await views(dbs.source), await views(dbs.target)];
    expect(got).toEqual(want);
    const validate = await runCli(['validate', ...connection(), '--table', 'public.ev:time', '--until', T]);
    expect(validate.code, output(validate)).toBe(0);
  });
});

/*
 * 3. A date column with a monthly aggregate, retention and compression.
 */
describe.skipIf(!hasTimescale)('[timescaledb] review9: date column, monthly aggregate', () => {
  let dbs: TestDatabases;
  let dir: string;
  const T = '2024-03-15';
  const connection = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];
  const monthly = (url: string): Promise<unknown[]> => sql(url, 'SELECT month::text, site, q::text, n FROM public.d_monthly ORDER BY 1, 2');

  beforeAll(async () => {
    dbs = await createTimescaleDatabases('r9_date');
    dir = tmp();
    await sql(dbs.source, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE TABLE public.d (day date NOT NULL, site int NOT NULL, qty numeric);
      SELECT create_hypertable('public.d', by_range('day', interval '7 days'));
      INSERT INTO public.d SELECT date '2023-01-01' + (i / 3), i % 3, i * 1.5 FROM generate_series(0, 3 * 456 - 1) i;
      CREATE MATERIALIZED VIEW public.d_monthly WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
        SELECT time_bucket('1 month', day) AS month, site, sum(qty) AS q, count(*)::int AS n FROM public.d GROUP BY 1, 2 WITH NO DATA;`);
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.d_monthly', NULL, date '2024-02-01')");
    await sql(dbs.source, `SELECT drop_chunks('public.d', older_than => date '2023-04-01');
      ALTER TABLE public.d SET (timescaledb.compress, timescaledb.compress_segmentby = 'site');
      SELECT compress_chunk(c) FROM show_chunks('public.d', older_than => date '2024-01-01') c;
      SELECT add_continuous_aggregate_policy('public.d_monthly', start_offset => interval '10 years', end_offset => interval '1 month',
        schedule_interval => interval '1 day');
      ANALYZE public.d;`);
    const schema = await runCli(['schema', ...connection(), '--table', 'public.d:day', '--yes']);
    expect(schema.code, output(schema)).toBe(0);
    await dualWrite(dbs.source, dbs.target, 'public.d', '2024-03-01', 'date', 'day');
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('backfill copies the monthly history, compresses the same chunks; validate matches', async () => {
    const backfill = await runCli(['backfill', ...connection(), '--table', 'public.d:day', '--until', T, '--workers', '2']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.d')).toEqual(await fingerprint(dbs.source, 'public.d'));
    expect(await chunkStates(dbs.target, 'public.d')).toEqual(await chunkStates(dbs.source, 'public.d'));
    expect(await monthly(dbs.target)).toEqual(await monthly(dbs.source));
    const validate = await runCli(['validate', ...connection(), '--table', 'public.d:day', '--until', T]);
    expect(validate.code, output(validate)).toBe(0);
  });
});

/*
 * 4. Names needing quotes, a chunk interval raised from 1 day to 7 days, a space dimension with one
 *    partition's chunk compressed only.
 */
describe.skipIf(!hasTimescale)('[timescaledb] review9: quoted names, chunk interval changed, space partitions', () => {
  let dbs: TestDatabases;
  let dir: string;
  const TABLE = '"My Data"."Sensor Readings"';
  const T = '2024-01-20 12:00:00+00';
  const connection = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];
  const hourly = (url: string): Promise<unknown[]> => sql(url, 'SELECT "Bucket"::text, "Device", "Total" FROM "My Data"."Hourly View" ORDER BY 1, 2');

  beforeAll(async () => {
    dbs = await createTimescaleDatabases('r9_quoted');
    dir = tmp();
    await sql(dbs.source, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE SCHEMA "My Data";
      CREATE TABLE ${TABLE} ("Time" timestamptz NOT NULL, "Device" int NOT NULL, v int);
      SELECT create_hypertable('${TABLE}', by_range('Time', interval '1 day'));
      SELECT add_dimension('${TABLE}', by_hash('Device', 2));
      INSERT INTO ${TABLE} SELECT timestamptz '2024-01-01 00:00:00+00' + (i / 4) * interval '10 minutes', i % 4, i
        FROM generate_series(0, 4 * 6 * 24 * 8 - 1) i;
      SELECT set_chunk_time_interval('${TABLE}', interval '7 days');
      INSERT INTO ${TABLE} SELECT timestamptz '2024-01-09 00:00:00+00' + (i / 4) * interval '10 minutes', i % 4, i
        FROM generate_series(0, 4 * 6 * 24 * 14 - 1) i;
      CREATE MATERIALIZED VIEW "My Data"."Hourly View" WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
        SELECT time_bucket('1 hour', "Time") AS "Bucket", "Device", sum(v) AS "Total" FROM ${TABLE} GROUP BY 1, 2 WITH NO DATA;`);
    await sql(dbs.source, `CALL refresh_continuous_aggregate('"My Data"."Hourly View"', NULL, '2024-01-20')`);
    await sql(dbs.source, `ALTER TABLE ${TABLE} SET (timescaledb.compress, timescaledb.compress_segmentby = '"Device"');
      SELECT compress_chunk(c) FROM show_chunks('${TABLE}', older_than => timestamptz '2024-01-05 00:00:00+00') c;
      SELECT compress_chunk(min(c::text)::regclass) FROM show_chunks('${TABLE}', newer_than => timestamptz '2024-01-05 00:00:00+00',
        older_than => timestamptz '2024-01-06 00:00:00+00') c;
      ANALYZE ${TABLE};`);
    const schema = await runCli(['schema', ...connection(), '--table', '"My Data"."Sensor Readings":"Time"', '--yes']);
    expect(schema.code, output(schema)).toBe(0);
    await dualWrite(dbs.source, dbs.target, TABLE, '2024-01-20', 'timestamptz', '"Time"');
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('backfill: rows, aggregate and compression as on the source', async () => {
    const backfill = await runCli(['backfill', ...connection(), '--table', '"My Data"."Sensor Readings":"Time"', '--until', T, '--workers', '2']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect(await fingerprint(dbs.target, TABLE)).toEqual(await fingerprint(dbs.source, TABLE));
    expect(await hourly(dbs.target)).toEqual(await hourly(dbs.source));
    const validate = await runCli(['validate', ...connection(), '--table', '"My Data"."Sensor Readings":"Time"', '--until', T]);
    expect(validate.code, output(validate)).toBe(0);
    const [src, tgt] = [await chunkStates(dbs.source, TABLE), await chunkStates(dbs.target, TABLE)];
    // The same chunks compressed as on the source: one space partition of [Jan 5, Jan 6) only.
    expect(tgt).toEqual(src);
  });
});

/*
 * 5. Compressed chunks on the source, compression switched off on the target's hypertable.
 */
describe.skipIf(!hasTimescale)('[timescaledb] review9: target hypertable without compression', () => {
  let dbs: TestDatabases;
  let dir: string;
  const T = '2024-01-07 00:00:00+00';
  const connection = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];

  beforeAll(async () => {
    dbs = await createTimescaleDatabases('r9_nocomp');
    dir = tmp();
    await sql(dbs.source, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE TABLE public.m (time timestamptz NOT NULL, device int NOT NULL, value int);
      SELECT create_hypertable('public.m', by_range('time', interval '1 day'));
      INSERT INTO public.m SELECT timestamptz '2024-01-01 00:00:00+00' + (i / 2) * interval '5 minutes', i % 2, i
        FROM generate_series(0, 2 * 12 * 24 * 8 - 1) i;
      ALTER TABLE public.m SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
      SELECT compress_chunk(c) FROM show_chunks('public.m', older_than => timestamptz '2024-01-04 00:00:00+00') c;
      ANALYZE public.m;`);
    const schema = await runCli(['schema', ...connection(), '--table', 'public.m:time', '--yes']);
    expect(schema.code, output(schema)).toBe(0);
    await sql(dbs.target, `SELECT decompress_chunk(c, true) FROM show_chunks('public.m') c;
      ALTER TABLE public.m SET (timescaledb.compress = false)`);
    await dualWrite(dbs.source, dbs.target, 'public.m', '2024-01-06 23:00:00+00');
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('backfill warns, exits 0, every row is there', async () => {
    const backfill = await runCli(['backfill', ...connection(), '--table', 'public.m:time', '--until', T, '--workers', '2', '--slice', '6 hours']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.m')).toEqual(await fingerprint(dbs.source, 'public.m'));
  });
});

/*
 * 6. `validate --repair` after one raw row went missing on the target, with aggregate history older
 *    than the retained raw rows.
 */
describe.skipIf(!hasTimescale)('[timescaledb] review9: validate --repair and aggregate history', () => {
  let dbs: TestDatabases;
  let dir: string;
  const T = '2024-01-10 06:30:00+00';
  const connection = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];
  const hourly = (url: string): Promise<unknown[]> => sql(url, 'SELECT bucket::text, device, s, n FROM public.h ORDER BY 1, 2');

  beforeAll(async () => {
    dbs = await createTimescaleDatabases('r9_repair');
    dir = tmp();
    await sql(dbs.source, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE TABLE public.m (time timestamptz NOT NULL, device int NOT NULL, value bigint);
      SELECT create_hypertable('public.m', by_range('time', interval '1 day'));
      INSERT INTO public.m SELECT timestamptz '2024-01-01 00:00:00+00' + (i / 2) * interval '5 minutes', i % 2, i
        FROM generate_series(0, 2 * 12 * 24 * 11 - 1) i;
      CREATE MATERIALIZED VIEW public.h WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
        SELECT time_bucket('1 hour', time) AS bucket, device, sum(value)::bigint AS s, count(*)::int AS n FROM public.m GROUP BY 1, 2
        WITH NO DATA;`);
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.h', NULL, '2024-01-10')");
    await sql(dbs.source, `SELECT drop_chunks('public.m', older_than => timestamptz '2024-01-04 00:00:00+00');
      SELECT add_continuous_aggregate_policy('public.h', start_offset => interval '1000 days', end_offset => interval '1 hour',
        schedule_interval => interval '1 hour');
      ANALYZE public.m;`);
    const schema = await runCli(['schema', ...connection(), '--table', 'public.m:time', '--yes']);
    expect(schema.code, output(schema)).toBe(0);
    await dualWrite(dbs.source, dbs.target, 'public.m', '2024-01-10');
    const backfill = await runCli(['backfill', ...connection(), '--table', 'public.m:time', '--until', T, '--slice', '1 day']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect(await hourly(dbs.target)).toEqual(await hourly(dbs.source));
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('validate --repair re-copies the raw row and keeps the aggregate\'s history', async () => {
    await sql(dbs.target, "DELETE FROM public.m WHERE time = '2024-01-06 10:05:00+00' AND device = 1");
    const before = await sql<{ n: number }>(dbs.target, "SELECT count(*)::int AS n FROM public.h WHERE bucket < '2024-01-04'");
    const repair = await runCli(['validate', ...connection(), '--table', 'public.m:time', '--until', T, '--repair']);
    const after = await sql<{ n: number }>(dbs.target, "SELECT count(*)::int AS n FROM public.h WHERE bucket < '2024-01-04'");
    expect(await fingerprint(dbs.target, 'public.m')).toEqual(await fingerprint(dbs.source, 'public.m'));
    expect(after).toEqual(before);
    expect(await hourly(dbs.target)).toEqual(await hourly(dbs.source));
    expect(repair.code, output(repair)).toBe(0);
  });

  it('the suggested `backfill --redo` brings the history back', async () => {
    const redo = await runCli(['backfill', ...connection(), '--table', 'public.m:time', '--until', T, '--redo']);
    expect(redo.code, output(redo)).toBe(0);
    const below = (url: string): Promise<unknown[]> => sql(url, "SELECT bucket::text, device, s, n FROM public.h WHERE bucket < '2024-01-10' ORDER BY 1, 2");
    expect(await below(dbs.target)).toEqual(await below(dbs.source));
  });
});

/*
 * 7. A compressed hourly aggregate with a daily one on top; after the migration the user refreshes
 *    everything (as a policy with start_offset => NULL does) on both sides.
 */
describe.skipIf(!hasTimescale)('[timescaledb] review9: compressed hierarchical aggregates, full refresh afterwards', () => {
  let dbs: TestDatabases;
  let dir: string;
  const T = '2024-01-10 06:30:00+00';
  const connection = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];
  const views = async (url: string): Promise<unknown[]> => [
    await sql(url, 'SELECT bucket::text, device, s, n FROM public.h ORDER BY 1, 2'),
    await sql(url, 'SELECT day::text, device, s, n FROM public.d ORDER BY 1, 2'),
  ];
  const matStates = async (url: string): Promise<string[]> => (await sql<{ r: string }>(url, `SELECT c.hypertable_name || ' ' ||
      c.range_start::text || ' ' || c.is_compressed AS r FROM timescaledb_information.chunks c
    WHERE c.hypertable_schema = '_timescaledb_internal' ORDER BY 1`)).map((r) => r.r);

  beforeAll(async () => {
    dbs = await createTimescaleDatabases('r9_hier');
    dir = tmp();
    await sql(dbs.source, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE TABLE public.m (time timestamptz NOT NULL, device int NOT NULL, value bigint);
      SELECT create_hypertable('public.m', by_range('time', interval '1 day'));
      INSERT INTO public.m SELECT timestamptz '2024-01-01 00:00:00+00' + (i / 2) * interval '5 minutes', i % 2, i
        FROM generate_series(0, 2 * 12 * 24 * 11 - 1) i;
      CREATE MATERIALIZED VIEW public.h WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
        SELECT time_bucket('1 hour', time) AS bucket, device, sum(value)::bigint AS s, count(*)::int AS n FROM public.m GROUP BY 1, 2
        WITH NO DATA;
      CREATE MATERIALIZED VIEW public.d WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
        SELECT time_bucket('1 day', bucket) AS day, device, sum(s)::bigint AS s, sum(n)::int AS n FROM public.h GROUP BY 1, 2
        WITH NO DATA;`);
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.h', NULL, '2024-01-10')");
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.d', NULL, '2024-01-09')");
    await sql(dbs.source, `SELECT drop_chunks('public.m', older_than => timestamptz '2024-01-04 00:00:00+00');
      ALTER MATERIALIZED VIEW public.h SET (timescaledb.compress = true);
      SELECT compress_chunk(c) FROM show_chunks('public.h', older_than => timestamptz '2024-01-05 00:00:00+00') c;
      SELECT add_continuous_aggregate_policy('public.h', start_offset => NULL, end_offset => interval '1 hour',
        schedule_interval => interval '1 hour');
      ANALYZE public.m;`);
    const schema = await runCli(['schema', ...connection(), '--table', 'public.m:time', '--yes']);
    expect(schema.code, output(schema)).toBe(0);
    await dualWrite(dbs.source, dbs.target, 'public.m', '2024-01-10');
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('backfill: both aggregates and the aggregate\'s compression as on the source', async () => {
    const backfill = await runCli(['backfill', ...connection(), '--table', 'public.m:time', '--until', T, '--slice', '1 day']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect(await views(dbs.target)).toEqual(await views(dbs.source));
    expect(await matStates(dbs.target)).toEqual(await matStates(dbs.source));
    const validate = await runCli(['validate', ...connection(), '--table', 'public.m:time', '--until', T]);
    expect(validate.code, output(validate)).toBe(0);
  });
});
