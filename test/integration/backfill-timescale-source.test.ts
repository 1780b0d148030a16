/**
 * DESIGN.md §2, last bullet: from a TimescaleDB source, or into hypertables that continuous
 * aggregates read, `migrate backfill` pauses every background job (id >= 1000), refreshes the
 * continuous aggregates over the backfilled range (bottom-up) before the jobs come back, and puts
 * each job's `scheduled` back exactly as it was. --dry-run shows the pauses and refreshes and
 * changes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectingContext } from '../../src/core/context.js';
import { plannedRefreshes } from '../../src/steps/backfill/continuous-aggregates.js';
import { runBackfill, type BackfillInput } from '../../src/steps/backfill/index.js';
import { runCli } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

// Not on an hour: the hourly bucket holding T mixes backfilled and dual-written rows.
const T = '2024-01-07 12:30:00+00';
const ROW = `timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds', i % 5, (i % 1000) * 1.5`;
const DDL = 'CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value double precision)';
const ROWS = 'generate_series(0, 39999) i'; // 2024-01-01 .. 2024-01-08 21:53
const HOURLY = `SELECT time_bucket('1 hour', time) AS bucket, device, avg(value) AS avg, count(*) AS n FROM public.metrics GROUP BY 1, 2`;
// The same aggregates on a plain PostgreSQL source: in UTC, date_trunc buckets like time_bucket.
const SOURCE_HOURLY = HOURLY.replace("time_bucket('1 hour', time)", "date_trunc('hour', time)");
const SOURCE_DAILY = `SELECT date_trunc('day', bucket) AS day, device, sum(n) AS n FROM (${SOURCE_HOURLY}) h GROUP BY 1, 2`;

const dirs: string[] = [];
const tmp = (): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-backfill-ts-'));
  dirs.push(dir);
  return dir;
};

function context(source: string, target: string): ReturnType<typeof collectingContext> {
  return collectingContext({ source: { side: 'source', connectionString: source },
    target: { side: 'target', connectionString: target }, dir: tmp(), dryRun: false });
}

const input: BackfillInput = { tables: [{ table: { schema: 'public', table: 'metrics' }, until: T }], workers: 2, slice: '1 day' };

/** Every job id >= 1000 with its `scheduled`, in order. */
async function jobs(url: string): Promise<{ job_id: number; proc_name: string; hypertable_name: string | null; scheduled: boolean }[]> {
  return sql(url, `SELECT job_id, proc_name, hypertable_name, scheduled FROM timescaledb_information.jobs
    WHERE job_id >= 1000 ORDER BY job_id`);
}

/**
 * The target after schema + dual-writes: a hypertable with an hourly cagg and a daily cagg on it,
 * refresh/compression/retention policies, a user job that is switched off, and dual-written rows
 * from 12:10 on (so the materialized 12:00 bucket is incomplete), plus stale rows in the range.
 */
async function targetWithAggregates(url: string): Promise<void> {
  await sql(url, `CREATE EXTENSION IF NOT EXISTS timescaledb; ${DDL};
    SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
    ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
    CREATE MATERIALIZED VIEW public.metrics_hourly WITH (timescaledb.continuous, timescaledb.materialized_only = true)
      AS ${HOURLY} WITH NO DATA;
    CREATE MATERIALIZED VIEW public.metrics_daily WITH (timescaledb.continuous, timescaledb.materialized_only = true)
      AS SELECT time_bucket('1 day', bucket) AS day, device, sum(n) AS n FROM public.metrics_hourly GROUP BY 1, 2 WITH NO DATA;
    INSERT INTO public.metrics SELECT ${ROW} FROM ${ROWS}
      WHERE timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds' >= '2024-01-07 12:10:00+00';
    INSERT INTO public.metrics SELECT timestamptz '2024-01-03 00:00:00+00' + i * interval '1 minute', 4, -1 FROM generate_series(0, 99) i;`);
  // What the refresh policy would have materialized from the dual-writes and the stale rows.
  await sql(url, 'CALL refresh_continuous_aggregate(\'public.metrics_hourly\', NULL, NULL)');
  await sql(url, 'CALL refresh_continuous_aggregate(\'public.metrics_daily\', NULL, NULL)');
  await sql(url, `CREATE PROCEDURE public.noop(job_id int, config jsonb) LANGUAGE plpgsql AS 'BEGIN END';
    SELECT add_job('public.noop', interval '1 hour');
    SELECT add_retention_policy('public.metrics', interval '100 years');
    SELECT add_compression_policy('public.metrics', interval '100 years');
    SELECT add_continuous_aggregate_policy('public.metrics_hourly', start_offset => NULL, end_offset => interval '1 hour',
      schedule_interval => interval '1 hour');
    SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'noop';`);
}

async function expectAggregatesMatch(source: string, target: string): Promise<void> {
  const hourly = (url: string, from: string): Promise<unknown[]> => sql(url, `SELECT bucket::text, device, avg::text, n::text
    FROM ${from} ORDER BY 1, 2`);
  const want = await hourly(source, `(${SOURCE_HOURLY}) s`);
  expect(want.length).toBeGreaterThan(900);
  expect(await hourly(target, 'public.metrics_hourly')).toEqual(want);
  const daily = (url: string, from: string): Promise<unknown[]> => sql(url, `SELECT day::text, device, n::text FROM ${from} ORDER BY 1, 2`);
  expect(await daily(target, 'public.metrics_daily')).toEqual(await daily(source, `(${SOURCE_DAILY}) s`));
}

describe.skipIf(!hasTimescale)('[timescaledb] backfill into hypertables with continuous aggregates', () => {
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createDatabases('backfill_cagg');
    await sql(dbs.source, `${DDL}; INSERT INTO public.metrics SELECT ${ROW} FROM ${ROWS}; ANALYZE public.metrics;`);
    await targetWithAggregates(dbs.target);
  });

  afterAll(async () => {
    await dbs?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('--dry-run prints every job pause and the refresh CALLs, and changes nothing', async () => {
    const before = await jobs(dbs.target);
    const hourly = await fingerprint(dbs.target, 'public.metrics_hourly');
    const rows = await fingerprint(dbs.target, 'public.metrics');
    const r = await runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', tmp(),
      '--table', 'public.metrics', '--until', T, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    // Every scheduled job is paused; the switched-off user job is left alone.
    // Values inlined: the SQL pastes into psql as printed.
    for (const job of before.filter((j) => j.scheduled)) expect(r.stdout).toContain(`SELECT public.alter_job(${job.job_id}, scheduled => false)`);
    const off = before.find((j) => !j.scheduled);
    expect(off?.proc_name).toBe('noop');
    expect(r.stdout).not.toContain(`alter_job(${off?.job_id},`);
    // Bottom-up, one bucket wider than [-infinity, T) on the right.
    const call = (view: string, end: string): string => `CALL refresh_continuous_aggregate('"public"."${view}"'::regclass, ` +
      `NULL::timestamp with time zone, '${end}'::timestamp with time zone, force => true)`;
    const hourlyCall = r.stdout.indexOf(call('metrics_hourly', '2024-01-07 13:30:00+00'));
    const dailyCall = r.stdout.indexOf(call('metrics_daily', '2024-01-08 13:30:00+00'));
    expect(hourlyCall, r.stdout).toBeGreaterThan(0);
    expect(dailyCall).toBeGreaterThan(hourlyCall);
    expect(await jobs(dbs.target)).toEqual(before);
    expect(await fingerprint(dbs.target, 'public.metrics_hourly')).toEqual(hourly);
    expect(await fingerprint(dbs.target, 'public.metrics')).toEqual(rows);
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = '_migrate'")).toEqual([]);
  });

  it('pauses every job, refreshes the caggs bottom-up over the range, and restores each job exactly', async () => {
    const before = await jobs(dbs.target);
    expect(before.map((j) => j.proc_name).sort()).toEqual(['noop', 'policy_compression', 'policy_refresh_continuous_aggregate',
      'policy_retention']);
    const ctx = context(dbs.source, dbs.target);
    const result = await runBackfill(input, ctx);
    expect(result.complete).toBe(true);
    const below = `time < '${T}'::timestamptz`;
    expect(await fingerprint(dbs.target, 'public.metrics', below)).toEqual(await fingerprint(dbs.source, 'public.metrics', below));
    // The plain PostgreSQL source still pauses every job: a continuous aggregate reads the table.
    const expected = before.map((j) => ({ jobId: j.job_id, hypertable: j.hypertable_name ? `public.${j.hypertable_name}` : '',
      wasScheduled: j.scheduled }));
    expect(result.pausedPolicies).toEqual(expected);
    expect(result.restoredPolicies).toEqual(expected);
    expect(await jobs(dbs.target)).toEqual(before);
    expect(await sql(dbs.target, 'SELECT * FROM _migrate.paused_job')).toEqual([]);
    // Bottom-up; each window one bucket wider than [-infinity, T) (the daily one on top of the hourly one's).
    expect(result.refreshedAggregates).toEqual(['public.metrics_hourly (on public.metrics) over [NULL, 2024-01-07 13:30:00+00)',
      expect.stringMatching(/^public\.metrics_daily \(on _timescaledb_internal\._materialized_hypertable_\d+\) over \[NULL, 2024-01-08 13:30:00\+00\)$/)]);
    expect(ctx.events.some((e) => e.type === 'info' && /Refreshing 2 continuous aggregates/.test(e.message))).toBe(true);
    // Refreshed before the jobs came back.
    const messages = ctx.events.filter((e) => e.type === 'info').map((e) => e.message);
    expect(messages.findIndex((m) => m.startsWith('Refreshing'))).toBeLessThan(messages.findIndex((m) => m.startsWith('Restored')));
    await expectAggregatesMatch(dbs.source, dbs.target);
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] backfill from a TimescaleDB source', () => {
  // The source cluster does not preload timescaledb: the TimescaleDB source lives on the target cluster.
  const sourceName = `src_backfill_tsdb_${process.pid}`;
  const source = (): string => clusterUrl('target', sourceName);
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createDatabases('backfill_tsdb');
    await sql(clusterUrl('target'), `CREATE DATABASE "${sourceName}"`);
    await sql(source(), `CREATE EXTENSION IF NOT EXISTS timescaledb; ${DDL};
      SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
      INSERT INTO public.metrics SELECT ${ROW} FROM ${ROWS}; ANALYZE public.metrics;`);
    // No caggs on the target; another hypertable's retention policy and a user job are paused too.
    await sql(dbs.target, `CREATE EXTENSION IF NOT EXISTS timescaledb; ${DDL};
      SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
      -- what dual-writes put there: the source's rows from an hour before T on
      INSERT INTO public.metrics SELECT ${ROW} FROM ${ROWS} WHERE timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds' >= timestamptz '${T}' - interval '1 hour';
      CREATE TABLE public.other (time timestamptz NOT NULL, x int);
      SELECT create_hypertable('public.other', by_range('time', interval '1 day'));
      SELECT add_retention_policy('public.metrics', interval '100 years');
      SELECT add_retention_policy('public.other', interval '100 years');
      CREATE PROCEDURE public.noop(job_id int, config jsonb) LANGUAGE plpgsql AS 'BEGIN END';
      SELECT add_job('public.noop', interval '1 hour');
      SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE hypertable_name = 'other';`);
  });

  afterAll(async () => {
    await dbs?.drop();
    await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${sourceName}" WITH (FORCE)`);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('pauses all jobs (id >= 1000) on the target, and restores each one\'s scheduled state', async () => {
    const before = await jobs(dbs.target);
    expect(before).toHaveLength(3);
    const dry = await runCli(['backfill', '--source', source(), '--target', dbs.target, '--dir', tmp(),
      '--table', 'public.metrics', '--until', T, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr + dry.stdout).toMatch(/Would pause every background job/);
    expect(dry.stdout).not.toMatch(/refresh_continuous_aggregate/);
    expect(await jobs(dbs.target)).toEqual(before);

    const result = await runBackfill(input, context(source(), dbs.target));
    expect(result.complete).toBe(true);
    const below = `time < '${T}'::timestamptz`;
    expect(await fingerprint(dbs.target, 'public.metrics', below)).toEqual(await fingerprint(source(), 'public.metrics', below));
    const expected = before.map((j) => ({ jobId: j.job_id, hypertable: j.hypertable_name ? `public.${j.hypertable_name}` : '',
      wasScheduled: j.scheduled }));
    expect(expected.map((j) => j.hypertable).sort()).toEqual(['', 'public.metrics', 'public.other']);
    expect(result.pausedPolicies).toEqual(expected);
    expect(result.restoredPolicies).toEqual(expected);
    expect(result.refreshedAggregates).toEqual([]);
    expect(await jobs(dbs.target)).toEqual(before);
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] refresh windows and the refresh policy', () => {
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createDatabases('refresh_window');
    await sql(dbs.target, `CREATE EXTENSION IF NOT EXISTS timescaledb; ${DDL};
      SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
      CREATE MATERIALIZED VIEW public.metrics_hourly WITH (timescaledb.continuous, timescaledb.materialized_only = true)
        AS ${HOURLY} WITH NO DATA;
      SELECT add_continuous_aggregate_policy('public.metrics_hourly', start_offset => interval '3 days', end_offset => interval '2 hours',
        schedule_interval => interval '1 hour', initial_start => now() + interval '1 day');`);
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  it('a window never reaches past the policy\'s end_offset (the bucket in progress is the policy\'s)', async () => {
    const until = (await sql<{ t: string }>(dbs.target, "SELECT (now() - interval '30 minutes')::text AS t"))[0]?.t as string;
    const client = new pg.Client({ connectionString: dbs.target });
    await client.connect();
    try {
      const [refresh] = await plannedRefreshes(client, [{ table: { schema: 'public', table: 'metrics' }, type: 'timestamp with time zone',
        from: '-infinity', until }]);
      expect(refresh?.start).toBeNull();
      // Widened one bucket past T would be T + 1 hour; the policy stops 2 hours before now.
      const [check] = await sql<{ ok: boolean }>(dbs.target,
        "SELECT $1::timestamptz <= now() - interval '2 hours' AND $1::timestamptz > now() - interval '3 hours' AS ok", [refresh?.end]);
      expect(check?.ok, `${String(refresh?.end)} (T ${until})`).toBe(true);
    } finally {
      await client.end();
    }
  });
});
