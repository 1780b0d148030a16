/**
 * Issue #8.6-7: `migrate readiness` on one finished migration (completion point, backfill, validate,
 * sequences — through the real CLI). The clean migration is ready (exit 0, every check ok); then one
 * thing at a time is broken, the checklist must fail on exactly that line with a fix that works (the
 * test runs the printed SQL), and the test restores it. `--queries` compares real reads on both sides.
 * With TimescaleDB the target table is a hypertable with a compression policy and a continuous
 * aggregate, so those checks run too (they are `skipped` without it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectingContext } from '../../src/core/context.js';
import { CLUSTER_PASSWORD } from '../../src/core/local-cluster.js';
import { runReadiness, type Check, type ReadinessResult } from '../../src/steps/readiness/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let dir: string;
let T: string;
let reader: string;
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const connections = (): string[] => ['--source', dbs.source, '--target', dbs.target, '--dir', dir];
const cli = (args: string[]): Promise<CliResult> => runCli([...args, ...connections()]);
/** The result document: with --json, stdout holds only it (NDJSON events go to stderr). */
const lastJson = (stdout: string): ReadinessResult => JSON.parse(stdout.slice(stdout.lastIndexOf('\n{\n') + 1)) as ReadinessResult;

const DDL = (role: string): string => `
  CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value float8, PRIMARY KEY (device, time));
  CREATE TABLE public.orders (id serial PRIMARY KEY, note text);
  CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
  CREATE TRIGGER audit BEFORE INSERT ON public.metrics FOR EACH ROW EXECUTE FUNCTION public.touch();
  GRANT SELECT ON public.metrics TO "${role}";`;
// Five devices, one row every 10 minutes for three days, up to 20 minutes ago (settled: outside the lateness).
const ROWS = `SELECT date_trunc('minute', now()) - i * interval '10 minutes' AS time, d AS device, i * 0.5 AS value
  FROM generate_series(2, 432) i, generate_series(1, 5) d`;
const TIMESCALE = `CREATE EXTENSION IF NOT EXISTS timescaledb;
  SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
  ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
  SELECT add_compression_policy('public.metrics', interval '30 days');`;
const CAGG = `CREATE MATERIALIZED VIEW public.metrics_hourly WITH (timescaledb.continuous) AS
  SELECT time_bucket('1 hour', time) AS bucket, device, avg(value) FROM public.metrics GROUP BY 1, 2 WITH NO DATA`;

/** One check of an in-process run (the same step function the CLI calls). */
async function check(id: string): Promise<{ result: ReadinessResult; check: Check }> {
  const ctx = collectingContext({ source: { side: 'source', connectionString: dbs.source },
    target: { side: 'target', connectionString: dbs.target }, dir, dryRun: false });
  const result = await runReadiness({ tables: [] }, ctx);
  const found = result.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${JSON.stringify(result.checks)}`);
  return { result, check: found };
}

/** The SQL lines of a fix ("On the target…:" then one statement a line). */
const fixSql = (c: Check): string => (c.fix ?? '').split('\n').slice(1).join('\n');

beforeAll(async () => {
  dbs = await createDatabases('readiness');
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-readiness-'));
  reader = `readiness_reader_${dbs.sourceName.slice(-8)}`;
  await Promise.all(['source', 'target'].map((side) => sql(clusterUrl(side as 'source' | 'target'), `CREATE ROLE "${reader}" NOLOGIN`)));
  const [row] = await sql<{ t: string }>(dbs.target, "SELECT date_trunc('hour', now() - interval '1 day')::text AS t");
  T = row?.t as string;
  await sql(dbs.source, `${DDL(reader)}
    INSERT INTO public.metrics ${ROWS}; INSERT INTO public.orders (note) SELECT 'o' FROM generate_series(1, 50);
    CREATE MATERIALIZED VIEW public.per_device AS SELECT device, count(*) AS n FROM public.metrics GROUP BY device;
    CREATE TABLE public.only_on_source (x int)`);
  // The target after the schema copy and a day and a half of dual-writes (from six hours before T on).
  await sql(dbs.target, `${DDL(reader)} ${hasTimescale ? TIMESCALE : ''}
    INSERT INTO public.metrics SELECT * FROM (${ROWS}) r WHERE r.time >= timestamptz '${T}' - interval '6 hours';
    INSERT INTO public.orders SELECT i, 'o' FROM generate_series(1, 50) i;
    CREATE MATERIALIZED VIEW public.per_device AS SELECT device, count(*) AS n FROM public.metrics GROUP BY device;`);
  if (hasTimescale) await sql(dbs.target, CAGG);
  for (const step of [['completion-point', '--table', 'metrics:time', '--until', T], ['backfill'], ['validate'], ['sequences']]) {
    const r = await runCli([...step, '--source', dbs.source, '--target', dbs.target, ...(step[0] === 'sequences' ? [] : ['--dir', dir])]);
    expect(r.code, output(r)).toBe(0);
  }
});

afterAll(async () => {
  await dbs?.drop();
  await Promise.all(['source', 'target'].map((side) => sql(clusterUrl(side as 'source' | 'target'), `DROP ROLE IF EXISTS "${reader}"`)));
  rmSync(dir, { recursive: true, force: true });
});

describe('migrate readiness', () => {
  it('a finished migration is ready: exit 0, every check ok', async () => {
    const r = await cli(['readiness', '--json']);
    expect(r.code, output(r)).toBe(0);
    const result = lastJson(r.stdout);
    const timescaleChecks = ['background-jobs', 'compression', 'continuous-aggregates'];
    expect(result.checks.map((c) => [c.id, c.status])).toEqual([
      // public.only_on_source never came across: the plain-table line warns (dual-writes may explain a difference).
      ['backfill', 'ok'], ['validation', 'ok'], ['plain-tables', 'warn'], ['dual-write-window', 'ok'], ['source-only-rows', 'ok'],
      ['sequences', 'ok'],
      ['privileges', 'ok'], ['materialized-views', 'ok'],
      ...timescaleChecks.map((id) => [id, hasTimescale ? 'ok' : 'skipped']),
      ['ledger', 'ok'], ['triggers', 'ok']]);
    expect(result).toMatchObject({ ready: true, sourceOnlyNewest: [], tables: [{ table: 'public.metrics', column: 'time' }] });
    expect(result.checks.find((c) => c.id === 'source-only-rows')?.detail).toBe('none');
    expect(result.checks.find((c) => c.id === 'plain-tables')?.detail).toContain('public.only_on_source (source-only)');
    expect(result.checks.find((c) => c.id === 'plain-tables')?.fix).toContain('validate --plain-tables');
    expect(result.checks.find((c) => c.id === 'privileges')?.detail).toMatch(/^\d+ object\(s\) as on the source$/);
    if (hasTimescale) expect(result.checks.find((c) => c.id === 'continuous-aggregates')?.detail).toContain('public.metrics_hourly');
  });

  it('a source-only row at or after T: exit 1, naming the newest one, with fixes for this migration (no password)', async () => {
    const [row] = await sql<{ early: string; late: string }>(dbs.source,
      "SELECT date_trunc('minute', now() - interval '3 hours')::text AS early, date_trunc('minute', now() - interval '2 hours')::text AS late");
    await sql(dbs.source, 'INSERT INTO public.metrics VALUES ($1, 99, 1), ($2, 99, 2)', [row?.early, row?.late]);
    try {
      const r = await cli(['readiness']);
      expect(r.code, output(r)).toBe(1);
      expect(r.stdout).toMatch(/dual-write window \(rows at or after T\)\s+FAIL\s+public\.metrics: 2 row\(s\) only on the source/);
      expect(r.stdout).toMatch(new RegExp(`last source row the target lacks\\s+FAIL\\s+${row?.late.replace(/[+.]/g, '\\$&')} in public\\.metrics`));
      expect(r.stderr).toContain('Not ready to switch over: dual-write window (rows at or after T), last source row the target lacks.');
      // The suggested commands work on this migration: its connections (password left out) and --dir.
      const [, port, db] = /@127\.0\.0\.1:(\d+)\/(\w+)$/.exec(dbs.source) ?? [];
      expect(r.stdout).toContain(`migrate validate --source postgres://postgres@127.0.0.1:${port}/${db} --target `);
      expect(r.stdout).toContain(`--dir ${dir}`);
      expect(r.stdout + r.stderr).not.toContain(CLUSTER_PASSWORD);
    } finally {
      await sql(dbs.source, 'DELETE FROM public.metrics WHERE device = 99');
    }
  });

  it('a sequence behind the ids fails with the `migrate sequences` fix', async () => {
    await sql(dbs.target, "SELECT setval('public.orders_id_seq', 10)");
    const { result, check: seq } = await check('sequences');
    expect(result.ready).toBe(false);
    expect(seq).toMatchObject({ status: 'fail', detail: 'public.orders_id_seq at 10, needs 50 (highest id 50, source at 50)' });
    expect(seq.fix).toBe('Run `migrate sequences`; run it again right before switching: the source keeps counting while dual-writes run.');
    const r = await runCli(['sequences', '--source', dbs.source, '--target', dbs.target]);
    expect(r.code, output(r)).toBe(0);
    expect((await check('sequences')).check.status).toBe('ok');
  });

  it('a grant missing on the target fails, and the printed GRANT restores it', async () => {
    await sql(dbs.target, `REVOKE SELECT ON public.metrics FROM "${reader}"`);
    const { check: grants } = await check('privileges');
    expect(grants.status).toBe('fail');
    expect(grants.detail).toMatch(new RegExp(`^1 of \\d+ object\\(s\\) differ: table public\\.metrics: SELECT for ${reader} missing$`));
    expect(fixSql(grants)).toBe(`GRANT SELECT ON TABLE "public"."metrics" TO "${reader}";`);
    await sql(dbs.target, fixSql(grants));
    expect((await check('privileges')).check.status).toBe('ok');
  });

  it('a user trigger left disabled fails, and the printed ALTER TABLE enables it', async () => {
    await sql(dbs.target, 'ALTER TABLE public.metrics DISABLE TRIGGER audit');
    const { check: triggers } = await check('triggers');
    expect(triggers).toMatchObject({ status: 'fail', detail: 'public.metrics: audit is disabled on the target, enabled on the source' });
    expect(fixSql(triggers)).toBe('ALTER TABLE "public"."metrics" ENABLE TRIGGER "audit";');
    await sql(dbs.target, fixSql(triggers));
    expect((await check('triggers')).check.status).toBe('ok');
    const [row] = await sql<{ e: string }>(dbs.target, "SELECT tgenabled::text AS e FROM pg_trigger WHERE tgname = 'audit'");
    expect(row?.e).toBe('O');
  });

  it('an unpopulated materialized view fails, and the printed REFRESH fills it', async () => {
    await sql(dbs.target, 'REFRESH MATERIALIZED VIEW public.per_device WITH NO DATA');
    const { check: views } = await check('materialized-views');
    expect(views).toMatchObject({ status: 'fail', detail: 'public.per_device is not populated' });
    expect(fixSql(views)).toBe('REFRESH MATERIALIZED VIEW "public"."per_device";');
    await sql(dbs.target, fixSql(views));
    expect((await check('materialized-views')).check.status).toBe('ok');
    const count = 'SELECT sum(n)::int AS n FROM public.per_device';
    expect((await sql<{ n: number }>(dbs.target, count))[0]?.n).toBe((await sql<{ n: number }>(dbs.source, count))[0]?.n);
  });

  it.skipIf(!hasTimescale)('[timescaledb] a job a crashed backfill left paused fails until it is restored', async () => {
    const [job] = await sql<{ id: number }>(dbs.target,
      "SELECT job_id AS id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'metrics'");
    await sql(dbs.target, `SELECT alter_job(${job?.id}, scheduled => false);
      INSERT INTO _migrate.paused_job (job_id, hypertable_schema, hypertable_name, was_scheduled, paused_by)
      VALUES (${job?.id}, 'public', 'metrics', true, 'crashed:1')`);
    const { check: jobs } = await check('background-jobs');
    expect(jobs).toMatchObject({ status: 'fail', detail: `1 job(s) still paused by the backfill: job ${job?.id} on public.metrics` });
    expect(jobs.fix).toMatch(/^Run `migrate backfill` again: with every slice done it only refreshes the views and restores the jobs/);
    const r = await cli(['backfill']);
    expect(r.code, output(r)).toBe(0);
    expect((await check('background-jobs')).check.status).toBe('ok');
  });

  it.skipIf(!hasTimescale)('[timescaledb] a continuous aggregate that has not taken in the backfill fails; the printed refresh fixes it', async () => {
    await sql(dbs.target, CAGG.replace('metrics_hourly', 'metrics_daily').replace("'1 hour'", "'1 day'"));
    try {
      const { check: caggs } = await check('continuous-aggregates');
      expect(caggs.status).toBe('fail');
      expect(caggs.detail).toBe(`public.metrics_daily has materialized nothing below T ${T}`);
      expect(fixSql(caggs)).toMatch(/^CALL public\.refresh_continuous_aggregate\('"public"\."metrics_daily"', NULL, '[^']+'::timestamp with time zone\);$/);
      await sql(dbs.target, fixSql(caggs));
      expect((await check('continuous-aggregates')).check).toMatchObject({ status: 'ok' });
    } finally {
      await sql(dbs.target, 'DROP MATERIALIZED VIEW public.metrics_daily');
    }
  });

  it('--queries: each read runs on both sides; same results match, others are named (exit 1)', async () => {
    const file = path.join(dir, 'queries.sql');
    writeFileSync(file, `-- name: rows per device below T
SELECT device, count(*) FROM public.metrics WHERE time < '${T}' GROUP BY device ORDER BY device;

SELECT current_database();
SELECT count(*) FROM public.only_on_source;
`);
    const r = await cli(['readiness', '--queries', file, '--runs', '2', '--json']);
    expect(r.code, output(r)).toBe(1);
    const result = lastJson(r.stdout);
    expect(result.checks.every((c) => c.status !== 'fail')).toBe(true);
    const [same, other, missing] = result.queries ?? [];
    expect(same).toMatchObject({ label: 'rows per device below T', line: 2, match: true, sameOrder: true,
      source: { rows: 5 }, target: { rows: 5 } });
    expect(same?.source.runsMs).toHaveLength(2);
    expect(same?.target.runsMs).toHaveLength(2);
    expect(same?.source.medianMs).toBeGreaterThan(0);
    expect(same?.ratio).toBeGreaterThan(0);
    expect(other).toMatchObject({ label: 'SELECT current_database()', line: 4, match: false,
      difference: 'same number of rows (1), different contents' });
    expect(missing).toMatchObject({ line: 5, match: false, difference: 'failed on the target', source: { rows: 1 } });
    expect(missing?.target.error).toContain('relation "public.only_on_source" does not exist');
    expect(r.stderr).toContain('Not ready to switch over: 2 queries differ.');
  });

  it('--queries refuses a statement that is not a read before connecting anywhere (exit 2)', async () => {
    const file = path.join(dir, 'writes.sql');
    writeFileSync(file, "SELECT 1;\nUPDATE public.orders SET note = 'x';\n");
    // An unreachable target: had anything connected, this would be a connection error.
    const r = await runCli(['readiness', '--queries', file, '--source', dbs.source, '--target', 'postgres://nobody@127.0.0.1:1/none',
      '--dir', dir]);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain(`The --queries file ${file} has statements that are not plain reads; nothing was run:`);
    expect(r.stderr).toContain("line 2 (UPDATE public.orders SET note = 'x'): it starts with UPDATE: only reads are run");
  });
});
