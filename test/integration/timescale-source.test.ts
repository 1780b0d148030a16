/**
 * Issue #9: a TimescaleDB source with compressed history, retention, an hourly continuous aggregate
 * with a daily one on top, refresh policies and a switched-off user job. A scripted migration
 * (schema, dual-writes, backfill) ends with the raw rows equal, both aggregates equal to the
 * source's row for row (history older than the remaining raw rows included), the same chunks
 * compressed, and the same job states; a `kill -9` mid-way and a re-run give the same result.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/backfill-fixture.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { wizardWhileDualWriting } from '../helpers/migration.js';
import { createTimescaleDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

/** Dual-writes began at DUAL (the target got every row from then on); T lies inside that window. */
const DUAL = '2024-01-14 00:00:00+00';
const T = '2024-01-14 06:30:00+00';

const dirs: string[] = [];
const tmp = (): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-ts-source-'));
  dirs.push(dir);
  return dir;
};
const output = (r: CliResult): string => `exit ${r.code} ${r.signal ?? ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/**
 * Two weeks of readings every 30 s from 3 devices in 1-day chunks; the aggregates materialized up to
 * Jan 13 (hourly) and Jan 12 (daily), then a retention run drops the raw chunks before Jan 4; the
 * chunks before Jan 11 are compressed by hand (no compression policy), one of them partially.
 */
async function createSource(url: string): Promise<void> {
  await sql(url, `CREATE EXTENSION IF NOT EXISTS timescaledb;
    CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value double precision);
    SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
    INSERT INTO public.metrics SELECT timestamptz '2024-01-01 00:00:00+00' + (i / 3) * interval '30 seconds', i % 3, i * 0.25
      FROM generate_series(0, 3 * 2 * 60 * 24 * 15 - 1) i;
    CREATE MATERIALIZED VIEW public.metrics_hourly WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
      SELECT time_bucket('1 hour', time) AS bucket, device, avg(value) AS avg, count(*) AS n FROM public.metrics GROUP BY 1, 2
      WITH NO DATA;
    CREATE MATERIALIZED VIEW public.metrics_daily WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
      SELECT time_bucket('1 day', bucket) AS day, device, sum(n) AS n FROM public.metrics_hourly GROUP BY 1, 2 WITH NO DATA;`);
  await sql(url, "CALL refresh_continuous_aggregate('public.metrics_hourly', NULL, '2024-01-13')");
  await sql(url, "CALL refresh_continuous_aggregate('public.metrics_daily', NULL, '2024-01-12')");
  await sql(url, `SELECT drop_chunks('public.metrics', older_than => timestamptz '2024-01-04 00:00:00+00');
    ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device',
      timescaledb.compress_orderby = 'time');
    SELECT compress_chunk(c) FROM show_chunks('public.metrics', older_than => timestamptz '2024-01-11 00:00:00+00') c;
    INSERT INTO public.metrics VALUES ('2024-01-05 10:30:10+00', 7, 1);
    CREATE PROCEDURE public.noop(job_id int, config jsonb) LANGUAGE plpgsql AS 'BEGIN END';
    SELECT add_job('public.noop', interval '1 hour');
    SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'noop';
    SELECT add_continuous_aggregate_policy('public.metrics_hourly', start_offset => interval '1000 days', end_offset => interval '1 hour',
      schedule_interval => interval '1 hour');
    SELECT add_continuous_aggregate_policy('public.metrics_daily', start_offset => interval '1000 days', end_offset => interval '1 day',
      schedule_interval => interval '1 day');
    ANALYZE public.metrics;`);
}

/** Rows the application dual-wrote to the target from DUAL on. */
async function dualWrite(source: string, target: string): Promise<void> {
  const rows = await sql<{ time: string; device: number; value: number }>(source,
    `SELECT time::text AS time, device, value FROM public.metrics WHERE time >= $1::timestamptz ORDER BY time, device`, [DUAL]);
  await sql(target, `INSERT INTO public.metrics SELECT * FROM unnest($1::timestamptz[], $2::int[], $3::float8[])`,
    [rows.map((r) => r.time), rows.map((r) => r.device), rows.map((r) => r.value)]);
}

/** The source, `migrate schema`, then dual-writes from DUAL: what the backfill starts from. */
async function migrationUpToBackfill(label: string): Promise<{ dbs: TestDatabases; dir: string }> {
  const dbs = await createTimescaleDatabases(label);
  const dir = tmp();
  await createSource(dbs.source);
  const schema = await runCli(['schema', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'public.metrics:time',
    '--yes']);
  expect(schema.code, output(schema)).toBe(0);
  // While the application dual-writes, the source's refresh policy materializes past T (its window
  // starts after the retention horizon, as a policy's start_offset would).
  await dualWrite(dbs.source, dbs.target);
  await sql(dbs.source, "CALL refresh_continuous_aggregate('public.metrics_hourly', '2024-01-12 00:00:00+00', '2024-01-14 12:00:00+00')");
  return { dbs, dir };
}

async function aggregates(url: string): Promise<{ hourly: unknown[]; daily: unknown[] }> {
  return {
    hourly: await sql(url, 'SELECT bucket::text, device, avg::text, n::text FROM public.metrics_hourly ORDER BY 1, 2'),
    daily: await sql(url, 'SELECT day::text, device, n::text FROM public.metrics_daily ORDER BY 1, 2'),
  };
}

async function compressedRanges(url: string): Promise<string[]> {
  const rows = await sql<{ r: string }>(url, `SELECT range_start::text || ' ' || is_compressed AS r FROM timescaledb_information.chunks
    WHERE hypertable_name = 'metrics' ORDER BY range_start`);
  return rows.map((r) => r.r);
}

async function jobStates(url: string): Promise<unknown[]> {
  return sql(url, `SELECT proc_name, hypertable_name, scheduled FROM timescaledb_information.jobs WHERE job_id >= 1000
    ORDER BY proc_name, hypertable_name`);
}

describe.skipIf(!hasTimescale)('[timescaledb] a TimescaleDB source', () => {
  let dbs: TestDatabases;
  let dir: string;
  const connection = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];

  beforeAll(async () => {
    ({ dbs, dir } = await migrationUpToBackfill('ts_source'));
  });

  afterAll(async () => {
    await dbs?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('ends with equal rows, aggregates equal to the source\'s (history included), the same compression and job states', async () => {
    const want = await aggregates(dbs.source);
    // The hourly aggregate keeps buckets whose raw rows retention dropped.
    expect((await sql(dbs.source, "SELECT count(*)::int AS n FROM public.metrics_hourly WHERE bucket < '2024-01-04'"))[0]).toEqual({ n: 216 });
    const backfill = await runCli(['backfill', ...connection(), '--table', 'public.metrics:time', '--until', T, '--workers', '3',
      '--json']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.metrics')).toEqual(await fingerprint(dbs.source, 'public.metrics'));
    const got = await aggregates(dbs.target);
    expect(got.hourly).toEqual(want.hourly);
    expect(got.daily).toEqual(want.daily);
    expect(await compressedRanges(dbs.target)).toEqual(await compressedRanges(dbs.source));
    expect(await jobStates(dbs.target)).toEqual(await jobStates(dbs.source));
    // Estimated from the source's chunks, compressed rows included (planner statistics count none of them).
    const [estimate] = await sql<{ est: string; rows: string }>(dbs.target, `SELECT sum(est_rows)::text AS est, sum(rows)::text AS rows
      FROM _migrate.backfill_slice WHERE table_name = 'metrics'`);
    expect(Number(estimate?.est)).toBeGreaterThan(0.8 * Number(estimate?.rows));
    expect(Number(estimate?.est)).toBeLessThan(1.25 * Number(estimate?.rows));
  });

  it('validate compares both aggregates below T and both watermarks, and exits 3 when a bucket differs', async () => {
    const ok = await runCli(['validate', ...connection(), '--table', 'public.metrics:time', '--until', T, '--json']);
    expect(ok.code, output(ok)).toBe(0);
    const result = JSON.parse(ok.stdout.slice(ok.stdout.lastIndexOf('\n{\n') + 1)) as { aggregates: { view: string; below: string; ok: boolean;
      rows: { source: number } }[] };
    expect(result.aggregates.map((a) => [a.view, a.below, a.ok])).toEqual([
      ['public.metrics_hourly', '2024-01-14 06:30:00+00', true], ['public.metrics_daily', '2024-01-12 00:00:00+00', true]]);
    expect(result.aggregates[0]?.rows.source).toBeGreaterThan(900);
    // A bucket of history (its raw rows are gone) lost on the target: validate names it.
    await sql(dbs.target, `DELETE FROM _timescaledb_internal.${await materialization(dbs.target, 'metrics_hourly')}
      WHERE bucket = '2024-01-02 05:00:00+00' AND device = 1`);
    const bad = await runCli(['validate', ...connection(), '--table', 'public.metrics:time', '--until', T]);
    expect(bad.code, output(bad)).toBe(3);
    expect(bad.stdout).toMatch(/public\.metrics_hourly .*differ: 2024-01-02 05:00:00\+00 \(rows differ\)/);
    expect(bad.stderr).toContain('continuous aggregate public.metrics_hourly differ');
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] a TimescaleDB source, backfill killed mid-way', () => {
  let dbs: TestDatabases;
  let dir: string;
  const connection = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];
  const backfillArgs = (): string[] => ['backfill', ...connection(), '--table', 'public.metrics:time', '--until', T, '--workers', '2',
    '--slice', '1 hour'];

  beforeAll(async () => {
    ({ dbs, dir } = await migrationUpToBackfill('ts_source_kill'));
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('a kill -9 once some slices are done, then the same command again, gives the same result', async () => {
    let child: ChildProcess | undefined;
    const first = runCli(backfillArgs(), { onSpawn: (c) => { child = c; } });
    await waitFor('some but not all slices done', async () => {
      const rows = await sql<{ done: string; total: string }>(dbs.target, `SELECT count(*) FILTER (WHERE status = 'done') AS done,
        count(*) AS total FROM _migrate.backfill_slice`).catch(() => []);
      const row = rows[0];
      return row && Number(row.done) >= 3 && Number(row.done) < Number(row.total) ? true : undefined;
    }, 120_000, 10);
    child?.kill('SIGKILL');
    const killed = await first;
    expect(killed.signal, output(killed)).toBe('SIGKILL');
    const again = await runCli(backfillArgs());
    expect(again.code, output(again)).toBe(0);
    expect(await fingerprint(dbs.target, 'public.metrics')).toEqual(await fingerprint(dbs.source, 'public.metrics'));
    expect(await aggregates(dbs.target)).toEqual(await aggregates(dbs.source));
    expect(await compressedRanges(dbs.target)).toEqual(await compressedRanges(dbs.source));
    expect(await jobStates(dbs.target)).toEqual(await jobStates(dbs.source));
    // The compressed history went as many slices, taken by both workers.
    const [history] = await sql<{ slices: number; workers: number }>(dbs.target, `SELECT count(*)::int AS slices,
      count(DISTINCT claimed_by)::int AS workers FROM _migrate.backfill_slice
      WHERE table_name = 'metrics' AND range_end::timestamptz <= '2024-01-11 00:00:00+00'`);
    expect(history?.slices).toBeGreaterThan(100);
    expect(history?.workers).toBeGreaterThanOrEqual(2); // host:pid/wN, of the killed run and of the re-run
  });
});

/**
 * The same kind of source, in the present (the wizard takes T from live dual-writes), migrated by
 * `migrate wizard --yes --plan` while an application writes to both databases.
 */
describe.skipIf(!hasTimescale)('[timescaledb] a TimescaleDB source through the wizard', () => {
  let dbs: TestDatabases;
  let dir: string;

  beforeAll(async () => {
    dbs = await createTimescaleDatabases('ts_source_wizard');
    dir = tmp();
    await sql(dbs.source, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value double precision);
      SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
      INSERT INTO public.metrics SELECT date_trunc('hour', now()) - interval '12 days' + (i / 3) * interval '1 minute', i % 3, i * 0.25
        FROM generate_series(0, 3 * 60 * 24 * 12 - 1) i;
      CREATE MATERIALIZED VIEW public.metrics_hourly WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
        SELECT time_bucket('1 hour', time) AS bucket, device, avg(value) AS avg, count(*) AS n FROM public.metrics GROUP BY 1, 2
        WITH NO DATA;
      CREATE MATERIALIZED VIEW public.metrics_daily WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
        SELECT time_bucket('1 day', bucket) AS day, device, sum(n) AS n FROM public.metrics_hourly GROUP BY 1, 2 WITH NO DATA;`);
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.metrics_hourly', NULL, now() - interval '2 days')");
    await sql(dbs.source, "CALL refresh_continuous_aggregate('public.metrics_daily', NULL, now() - interval '3 days')");
    await sql(dbs.source, `SELECT drop_chunks('public.metrics', older_than => now() - interval '8 days');
      ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device',
        timescaledb.compress_orderby = 'time');
      SELECT compress_chunk(c) FROM show_chunks('public.metrics', older_than => now() - interval '4 days') c;
      CREATE PROCEDURE public.noop(job_id int, config jsonb) LANGUAGE plpgsql AS 'BEGIN END';
      SELECT add_job('public.noop', interval '1 hour');
      SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'noop';
      SELECT add_continuous_aggregate_policy('public.metrics_hourly', start_offset => interval '3 days', end_offset => interval '1 hour',
        schedule_interval => interval '1 hour');
      ANALYZE public.metrics;`);
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('migrate wizard --yes --plan ends with equal rows, the aggregates\' history, the same compression and job states', async () => {
    const plan = path.join(dir, 'plan.json');
    writeFileSync(plan, JSON.stringify({
      roles: { load: false },
      tables: [{ table: 'public.metrics', timeColumn: 'time' }],
      dualWrites: { confirmed: true, minRowsPerTable: 2, waitSeconds: 60 },
      completionPoint: { margin: '1 second', lateness: '1 second', waitSeconds: 60 },
      backfill: { workers: 2 },
    }));
    // The application: once the hypertables step is done, every new reading goes to both databases,
    // with one timestamp for both (the application writes the same row to each).
    const r = await wizardWhileDualWriting(['--yes', '--plan', plan, '--source', dbs.source, '--target', dbs.target], dir, async () => {
      const insert = `INSERT INTO public.metrics SELECT '${new Date().toISOString()}', d, 1 FROM generate_series(0, 2) d`;
      await sql(dbs.source, insert);
      await sql(dbs.target, insert);
    });
    // Exit 0 includes the wizard's validation: the rows below T and both aggregates compared.
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toMatch(/public\.metrics_hourly: [\d,]+ rows below .* match/);
    expect(await fingerprint(dbs.target, 'public.metrics')).toEqual(await fingerprint(dbs.source, 'public.metrics'));
    const history = "SELECT count(*)::int AS n FROM public.metrics_hourly WHERE bucket < now() - interval '9 days'";
    expect((await sql(dbs.target, history))[0]).toEqual((await sql(dbs.source, history))[0]);
    expect((await sql<{ n: number }>(dbs.source, history))[0]?.n).toBeGreaterThan(0);
    expect(await compressedRanges(dbs.target)).toEqual(await compressedRanges(dbs.source));
    expect(await jobStates(dbs.target)).toEqual(await jobStates(dbs.source));
  });
});

async function materialization(url: string, view: string): Promise<string> {
  const rows = await sql<{ t: string }>(url, `SELECT materialization_hypertable_name AS t FROM timescaledb_information.continuous_aggregates
    WHERE view_name = $1`, [view]);
  return rows[0]?.t as string;
}
