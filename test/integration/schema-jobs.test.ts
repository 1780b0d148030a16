/**
 * Issue #9, item 4: from a TimescaleDB source, `migrate schema` pauses every background job (id >= 1000)
 * in its load's transaction, before timescaledb_post_restore() restarts the scheduler, and records each
 * one's state in the target's ledger. The jobs stay paused until every table the dump left empty is
 * completely backfilled (not when the first of several backfills ends), then come back exactly as on
 * the source; `migrate status` says so, and `migrate clean --force` restores them at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectingContext, type MigrateEvent } from '../../src/core/context.js';
import { restorePausedPolicies, runBackfill, type BackfillResult } from '../../src/steps/backfill/index.js';
import type { SchemaResult } from '../../src/steps/schema.js';
import type { StatusReport } from '../../src/wizard/overview.js';
import { runCli } from '../helpers/cli.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const T = '2024-01-07 12:30:00+00';
const AT = (step: string): string => `timestamptz '2024-01-01 00:00:00+00' + i * interval '${step}'`;

// Two hypertables (both arrive empty), a continuous aggregate, a refresh, a compression and a retention
// policy, and a user job that is switched off. Policies that change nothing on the source: 100 years.
const SOURCE = `
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value double precision);
SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
INSERT INTO public.metrics SELECT ${AT('97 seconds')}, i % 5, i FROM generate_series(0, 7999) i;
ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
CREATE TABLE public.events (time timestamptz NOT NULL, kind text NOT NULL);
SELECT create_hypertable('public.events', by_range('time', interval '1 day'));
INSERT INTO public.events SELECT ${AT('7 minutes')}, 'kind ' || i % 3 FROM generate_series(0, 1999) i;
CREATE TABLE public.devices (id int PRIMARY KEY, name text);
INSERT INTO public.devices SELECT i, 'device ' || i FROM generate_series(0, 4) i;
CREATE MATERIALIZED VIEW public.metrics_hourly WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
  SELECT time_bucket('1 hour', time) AS bucket, device, count(*) AS n FROM public.metrics GROUP BY 1, 2 WITH NO DATA;
SELECT add_continuous_aggregate_policy('public.metrics_hourly', start_offset => NULL, end_offset => interval '1 hour',
  schedule_interval => interval '1 hour');
SELECT add_compression_policy('public.metrics', interval '100 years');
SELECT add_retention_policy('public.events', interval '100 years');
CREATE PROCEDURE public.noop(job_id int, config jsonb) LANGUAGE plpgsql AS 'BEGIN END';
SELECT add_job('public.noop', interval '1 hour');
SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'noop';
ANALYZE;`;

interface Job { job_id: number; proc_name: string; hypertable_name: string | null; scheduled: boolean }

/** Every job with id >= 1000, in order. */
function jobs(url: string): Promise<Job[]> {
  return sql<Job>(url, `SELECT job_id, proc_name, hypertable_name, scheduled FROM timescaledb_information.jobs
    WHERE job_id >= 1000 ORDER BY job_id`);
}

/** The result object: with --json, stdout holds only it (NDJSON events go to stderr). */
function lastJson<T>(stdout: string): T {
  const start = stdout.startsWith('{\n') ? 0 : stdout.lastIndexOf('\n{\n') + 1;
  return JSON.parse(stdout.slice(start)) as T;
}

/** Waits until the target's job scheduler has run a job of its own (id < 1000): it is running, and would have run ours. */
async function schedulerHasRun(url: string): Promise<void> {
  for (let i = 0; i < 50; i += 1) {
    const ran = await sql(url, 'SELECT 1 FROM timescaledb_information.job_stats WHERE job_id < 1000 AND total_runs > 0');
    if (ran.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const dirs: string[] = [];
const tmp = (): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-schema-jobs-'));
  dirs.push(dir);
  return dir;
};

describe.skipIf(!hasTimescale)('[timescaledb] jobs stay paused from the schema load until the backfill is complete', () => {
  // The target cluster preloads TimescaleDB, so a second database there is the TimescaleDB source.
  const sourceName = `schema_jobs_src_${process.pid}`;
  const source = (): string => clusterUrl('target', sourceName);
  let dbs: TestDatabases;
  let dir: string;
  let sourceJobs: Job[];
  const context = (): ReturnType<typeof collectingContext> => collectingContext({
    source: { side: 'source', connectionString: source() }, target: { side: 'target', connectionString: dbs.target },
    dir, dryRun: false });
  const backfill = async (table: string): Promise<BackfillResult & { events: MigrateEvent[] }> => {
    const ctx = context();
    const result = await runBackfill({ tables: [{ table: { schema: 'public', table }, until: T }], workers: 2, slice: '1 day' }, ctx);
    return { ...result, events: ctx.events };
  };
  const status = async (): Promise<StatusReport> => {
    const result = await runCli(['status', '--dir', dir, '--target', dbs.target, '--json']);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as StatusReport;
  };

  beforeAll(async () => {
    dbs = await createDatabases('schema_jobs');
    dir = tmp();
    await sql(clusterUrl('target'), `CREATE DATABASE "${sourceName}"`);
    await sql(source(), SOURCE);
    sourceJobs = await jobs(source());
  });

  afterAll(async () => {
    await dbs?.drop();
    await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${sourceName}" WITH (FORCE)`);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('--dry-run shows each pause it would do and changes nothing', async () => {
    expect(sourceJobs.map((j) => [j.proc_name, j.scheduled])).toEqual([['policy_refresh_continuous_aggregate', true],
      ['policy_compression', true], ['policy_retention', true], ['noop', false]]);
    const result = await runCli(['schema', '--source', source(), '--target', dbs.target, '--dir', tmp(), '--table', 'public.metrics:time',
      '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    const out = result.stdout + result.stderr;
    expect(out).toContain('Would pause 4 background jobs (id >= 1000) in the load\'s transaction');
    const [refresh, compression, retention, noop] = sourceJobs.map((j) => j.job_id);
    expect(out).toContain(`job ${refresh} on public.metrics_hourly: scheduled, paused`);
    expect(out).toContain(`job ${compression} on public.metrics: scheduled, paused`);
    expect(out).toContain(`job ${retention} on public.events: scheduled, paused`);
    expect(out).toContain(`job ${noop}: not scheduled, stays so`);
    expect(out).toContain('tables to backfill: public.metrics, public.events');
    // The script runs after the dump and before post_restore, with the tables as a psql variable.
    expect(out).toMatch(/-f \S*dump\.sql -f \S*pause-jobs\.sql -c 'SELECT "public"\.timescaledb_post_restore\(\)'/);
    expect(out).toContain('migrate_expected=[{"schema_name":"public","table_name":"metrics"},{"schema_name":"public","table_name":"events"}]');
    expect(out).toContain('alter_job(job_id, scheduled => false)');
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = '_migrate'")).toEqual([]);
  });

  it('pauses every job in the load\'s transaction, records its source state, and no job runs', async () => {
    const result = await runCli(['schema', '--source', source(), '--target', dbs.target, '--dir', dir, '--table', 'public.metrics:time',
      '--json']);
    expect(result.code, result.stderr).toBe(0);
    const summary = lastJson<SchemaResult>(result.stdout);
    const recorded = sourceJobs.map((j) => ({ jobId: j.job_id, hypertable: j.hypertable_name ? `public.${j.hypertable_name}` : '',
      wasScheduled: j.scheduled }));
    expect(summary.jobPause).toEqual({ jobs: recorded,
      expectedBackfill: [{ schema: 'public', table: 'metrics' }, { schema: 'public', table: 'events' }] });
    expect(await jobs(dbs.target)).toEqual(sourceJobs.map((j) => ({ ...j, scheduled: false })));
    expect(await sql(dbs.target, 'SELECT job_id, was_scheduled, paused_by FROM _migrate.paused_job ORDER BY job_id'))
      .toEqual(sourceJobs.map((j) => ({ job_id: j.job_id, was_scheduled: j.scheduled, paused_by: 'schema load' })));
    expect(await sql(dbs.target, 'SELECT schema_name, table_name FROM _migrate.expected_backfill ORDER BY 2'))
      .toEqual([{ schema_name: 'public', table_name: 'events' }, { schema_name: 'public', table_name: 'metrics' }]);
    // The scheduler runs (post_restore restarted it), yet none of the jobs has run: they arrived paused.
    await schedulerHasRun(dbs.target);
    expect(await sql(dbs.target, 'SELECT job_id FROM timescaledb_information.job_stats WHERE job_id >= 1000 AND total_runs > 0'))
      .toEqual([]);
  });

  it('migrate status says how many jobs are paused since the schema load, and which tables they wait for', async () => {
    const report = await status();
    expect(report.pausedJobs?.sinceSchemaLoad.map((j) => j.jobId)).toEqual(sourceJobs.map((j) => j.job_id));
    expect(report.pausedJobs?.waitingFor).toEqual(['public.events', 'public.metrics']);
    expect(report.pausedJobs?.byBackfill).toEqual([]);
    const human = await runCli(['status', '--dir', dir, '--target', dbs.target]);
    expect(human.stdout).toContain('4 since the schema load: they come back as they are on the source once every table it left empty');
    expect(human.stdout).toContain('still waiting for the backfill of: public.events, public.metrics');
    expect(human.stdout).toContain(`job ${sourceJobs[3]?.job_id} (was not scheduled)`);
  });

  it('after the first of two backfills the schema load\'s jobs stay paused; a job the backfill paused itself comes back', async () => {
    // Dual-writes from an hour before T on, and a job the operator added after the load (the backfill pauses it on its own).
    const dualWrites = (step: string): string => `${AT(step)} >= timestamptz '${T}' - interval '1 hour'`;
    await sql(dbs.target, `INSERT INTO public.metrics SELECT ${AT('97 seconds')}, i % 5, i FROM generate_series(0, 7999) i
        WHERE ${dualWrites('97 seconds')};
      INSERT INTO public.events SELECT ${AT('7 minutes')}, 'kind ' || i % 3 FROM generate_series(0, 1999) i WHERE ${dualWrites('7 minutes')};`);
    const [added] = await sql<{ id: number }>(dbs.target, "SELECT add_job('public.noop', interval '1 hour') AS id");
    const result = await backfill('metrics');
    expect(result.complete).toBe(true);
    expect(result.pausedPolicies.map((j) => j.jobId)).toEqual([...sourceJobs.map((j) => j.job_id), added?.id]);
    // The schema load's record is the first: the backfill's pause keeps its original state and its rule.
    expect(result.pausedPolicies.slice(0, 4).map((j) => j.wasScheduled)).toEqual(sourceJobs.map((j) => j.scheduled));
    expect(result.restoredPolicies).toEqual([{ jobId: added?.id, hypertable: '', wasScheduled: true }]);
    expect(result.events.some((e) => e.type === 'info' && e.message.startsWith('4 background jobs stay paused since the schema load') &&
      e.message.includes('public.events'))).toBe(true);
    expect((await jobs(dbs.target)).map((j) => [j.job_id, j.scheduled]))
      .toEqual([...sourceJobs.map((j) => [j.job_id, false]), [added?.id, true]]);
    await sql(dbs.target, 'SELECT delete_job($1)', [added?.id]);

    // `migrate resume` (and the wizard's finish) follow the same rule.
    const ctx = context();
    expect(await restorePausedPolicies(ctx)).toEqual([]);
    expect(ctx.events.some((e) => e.type === 'info' && /stay paused since the schema load/.test(e.message))).toBe(true);
    expect((await jobs(dbs.target)).every((j) => !j.scheduled)).toBe(true);
    expect((await status()).pausedJobs?.waitingFor).toEqual(['public.events']);
    // clean without --force keeps the record it would otherwise forget.
    const clean = await runCli(['clean', '--target', dbs.target]);
    expect(clean.code).toBe(1);
    expect(clean.stderr).toContain('4 background jobs paused by migrate are not restored yet');
  });

  it('after the last expected table is backfilled, each job is back exactly as on the source', async () => {
    const result = await backfill('events');
    expect(result.complete).toBe(true);
    expect(result.restoredPolicies).toEqual(sourceJobs.map((j) => ({ jobId: j.job_id,
      hypertable: j.hypertable_name ? `public.${j.hypertable_name}` : '', wasScheduled: j.scheduled })));
    expect(await jobs(dbs.target)).toEqual(sourceJobs);
    expect(await sql(dbs.target, 'SELECT * FROM _migrate.paused_job')).toEqual([]);
    const report = await status();
    expect(report.pausedJobs).toBeUndefined();
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] migrate clean --force restores the jobs the schema load paused', () => {
  const sourceName = `schema_jobs_clean_src_${process.pid}`;
  const source = (): string => clusterUrl('target', sourceName);
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createDatabases('schema_jobs_clean');
    await sql(clusterUrl('target'), `CREATE DATABASE "${sourceName}"`);
    await sql(source(), SOURCE);
  });

  afterAll(async () => {
    await dbs?.drop();
    await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${sourceName}" WITH (FORCE)`);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('puts each job back as on the source and drops the ledger, although no table was backfilled', async () => {
    const dir = tmp();
    const loaded = await runCli(['schema', '--source', source(), '--target', dbs.target, '--dir', dir, '--table', 'public.metrics']);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.stdout).toMatch(/Background jobs paused until every table loaded empty is backfilled: \d+, \d+, \d+, \d+/);
    expect((await jobs(dbs.target)).every((j) => !j.scheduled)).toBe(true);
    const clean = await runCli(['clean', '--target', dbs.target, '--force']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(await jobs(dbs.target)).toEqual(await jobs(source()));
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = '_migrate'")).toEqual([]);
  });
});
