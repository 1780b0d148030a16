/**
 * Issue #3: `migrate backfill` copies [from, T) exactly once. The target starts with what
 * dual-writes put there: identical rows on both sides of T, stale rows inside the range (which
 * must be replaced) and target-only rows at or after T (which must survive untouched). Plain
 * PostgreSQL targets everywhere; [timescaledb] tests add hypertables, chunks and policies.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectingContext, type MigrateEvent } from '../../src/core/context.js';
import { withClient, type Client } from '../../src/core/db.js';
import { InterruptedError } from '../../src/core/errors.js';
import { planSlices, readBackfillProgress, readLedger, restorePausedPolicies, runBackfill, type BackfillInput } from '../../src/steps/backfill/index.js';
import { runCli } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const T = '2024-01-08 00:00:00+00';
const TABLE = '"public"."metrics"';
const BELOW = `time < '${T}'::timestamptz`;
const AT_OR_AFTER = `time >= '${T}'::timestamptz`;
const ROW = `timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds', i % 10, i * 1.5, 'n' || i`;
const DDL = 'CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value double precision, note text)';

let dbs: TestDatabases;
const dirs: string[] = [];

function contextFor(databases: TestDatabases, signal?: AbortSignal): ReturnType<typeof collectingContext> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-backfill-'));
  dirs.push(dir);
  return collectingContext({ source: { side: 'source', connectionString: databases.source },
    target: { side: 'target', connectionString: databases.target }, dir, dryRun: false, ...(signal ? { signal } : {}) });
}

/** Physical identity of rows (xmin, ctid): changes when a row is rewritten, not only when it changes. */
async function physical(url: string, where: string): Promise<string> {
  const [row] = await sql<{ h: string }>(url,
    `SELECT md5(string_agg(t.ctid::text || t.xmin::text || t::text, ',' ORDER BY t.ctid)) AS h FROM ${TABLE} t WHERE ${where}`);
  return row?.h ?? '';
}

function onTarget<T>(work: (client: Client) => Promise<T>): Promise<T> {
  return withClient({ side: 'target', connectionString: dbs.target }, work);
}

async function resetTarget(url: string): Promise<void> {
  await sql(url, `DROP SCHEMA IF EXISTS _migrate CASCADE; DROP TABLE IF EXISTS public.metrics; ${DDL};
    -- dual-written rows, identical on both sides, from 12 hours before T on
    INSERT INTO public.metrics SELECT ${ROW} FROM generate_series(0, 49999) i
      WHERE timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds' >= '2024-01-07 12:00:00+00';
    -- stale rows inside the range (not on the source): the backfill must remove them
    INSERT INTO public.metrics SELECT timestamptz '2024-01-03 00:00:00+00' + i * interval '1 minute', 99, -1, 'stale'
      FROM generate_series(0, 99) i;
    -- target-only rows at or after T: must survive untouched
    INSERT INTO public.metrics SELECT timestamptz '2024-01-09 00:00:00+00' + i * interval '1 minute', 77, -2, 'only on target'
      FROM generate_series(0, 49) i;`);
}

const input = (extra: Partial<BackfillInput> = {}): BackfillInput => ({
  tables: [{ table: { schema: 'public', table: 'metrics' }, until: T }], workers: 3, slice: '1 day', ...extra,
});

async function expectExact(): Promise<void> {
  const want = await fingerprint(dbs.source, TABLE, BELOW);
  expect(want.count).toBe(35_577);
  expect(await fingerprint(dbs.target, TABLE, BELOW)).toEqual(want);
}

beforeAll(async () => {
  dbs = await createDatabases('backfill');
  await sql(dbs.source, `${DDL}; INSERT INTO public.metrics SELECT ${ROW} FROM generate_series(0, 49999) i;
    CREATE INDEX ON public.metrics (time); ANALYZE public.metrics;`);
});

afterAll(async () => {
  await dbs?.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('backfill to a plain PostgreSQL target', () => {
  it('copies [−∞, T) exactly, replaces the overlap, leaves rows >= T alone; a re-run is a no-op; --redo gives the same data', async () => {
    await resetTarget(dbs.target);
    const untouched = await physical(dbs.target, AT_OR_AFTER);
    const ctx = contextFor(dbs);
    const result = await runBackfill(input(), ctx);
    expect(result.complete).toBe(true);
    await expectExact();
    expect(await physical(dbs.target, AT_OR_AFTER)).toBe(untouched);
    const table = result.tables[0];
    expect(table).toMatchObject({ table: 'public.metrics', rowsCopied: 35_577, format: 'binary', from: '-infinity', until: T });
    // 100 stale rows + the dual-written rows in [12:00, T) were replaced.
    expect(table?.rowsReplaced).toBe(100 + 2541);
    expect(table?.slicesTotal).toBeGreaterThanOrEqual(7);
    expect(table?.slicesDone).toBe(table?.slicesTotal);
    const progress = ctx.events.filter((e): e is Extract<MigrateEvent, { type: 'progress' }> => e.type === 'progress');
    expect(progress.at(-1)).toMatchObject({ id: 'backfill', table: 'public.metrics', rowsDone: 35_577, rowsTotal: 35_577 });
    expect(await onTarget(readBackfillProgress)).toEqual([
      { table: 'public.metrics', slicesDone: table?.slicesTotal, slicesTotal: table?.slicesTotal, rowsDone: 35_577,
        rowsEstimated: 35_577, bytesDone: expect.any(Number) }]);

    const below = await physical(dbs.target, BELOW);
    const again = await runBackfill(input(), contextFor(dbs));
    expect(again.tables[0]).toMatchObject({ rowsCopied: 0, slicesCopied: 0, slicesDone: table?.slicesTotal });
    expect(await physical(dbs.target, BELOW)).toBe(below);

    const redo = await runBackfill(input({ redo: true }), contextFor(dbs));
    expect(redo.tables[0]).toMatchObject({ rowsCopied: 35_577, rowsReplaced: 35_577 });
    expect(await physical(dbs.target, BELOW)).not.toBe(below);
    await expectExact();
    expect(await physical(dbs.target, AT_OR_AFTER)).toBe(untouched);
  });

  it('sizes slices from statistics when no width is given, and the ledger slices tile the range', async () => {
    await resetTarget(dbs.target);
    const result = await runBackfill(input({ slice: undefined }), contextFor(dbs));
    expect(result.complete).toBe(true);
    await expectExact();
    const [row] = await sql<{ n: string }>(dbs.target, 'SELECT count(*) AS n FROM _migrate.backfill_slice');
    expect(Number(row?.n)).toBeGreaterThanOrEqual(1);
    const slices = await onTarget((c) => readLedger(c, { schema: 'public', table: 'metrics' }));
    expect(slices[0]?.start).toBe('-infinity');
    expect(slices.at(-1)?.end).toBe(T);
    for (let i = 1; i < slices.length; i += 1) expect(slices[i]?.start).toBe(slices[i - 1]?.end);
  });

  it('copies only [from, T) with --from, and re-copies only the given ranges with onlyRanges', async () => {
    await resetTarget(dbs.target);
    const from = '2024-01-05 00:00:00+00';
    const ranged = { tables: [{ table: { schema: 'public', table: 'metrics' }, from, until: T }], workers: 2, slice: '1 day' };
    await runBackfill(ranged, contextFor(dbs));
    const inRange = `time >= '${from}'::timestamptz AND ${BELOW}`;
    expect(await fingerprint(dbs.target, TABLE, inRange)).toEqual(await fingerprint(dbs.source, TABLE, inRange));
    // Stale rows before --from were not touched.
    expect((await fingerprint(dbs.target, TABLE, "note = 'stale'")).count).toBe(100);
    // Damage one row in a slice, repair just that range.
    await sql(dbs.target, "DELETE FROM public.metrics WHERE note = 'n26683'");
    const before = await physical(dbs.target, `time >= '2024-01-05 00:00:00+00' AND time < '2024-01-06 00:00:00+00'`);
    const repair = await runBackfill({ ...ranged, onlyRanges: [{ table: { schema: 'public', table: 'metrics' },
      start: '2024-01-06 06:00:00+00', end: '2024-01-06 07:00:00+00' }] }, contextFor(dbs));
    expect(repair.tables[0]?.slicesCopied).toBe(1);
    expect(await fingerprint(dbs.target, TABLE, inRange)).toEqual(await fingerprint(dbs.source, TABLE, inRange));
    expect(await physical(dbs.target, `time >= '2024-01-05 00:00:00+00' AND time < '2024-01-06 00:00:00+00'`)).toBe(before);
  });

  it('refuses a different --until than the recorded plan unless --redo (exit 2), and needs --until (exit 2)', async () => {
    await resetTarget(dbs.target);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-backfill-cli-'));
    dirs.push(dir);
    const args = ['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'metrics', '--slice', '1 day'];
    const first = await runCli([...args, '--until', '2024-01-08T00:00:00Z', '--workers', '2']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/public\.metrics.*35,577/);
    await expectExact();
    const other = await runCli([...args, '--until', '2024-01-07T00:00:00Z']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/different plan/);
    expect(other.stderr).toMatch(/--redo/);
    // The dry run fails the same way, instead of reporting "0 slices" with exit 0.
    const dry = await runCli([...args, '--until', '2024-01-07T00:00:00Z', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(2);
    expect(dry.stderr).toMatch(/different plan/);
    const redo = await runCli([...args, '--until', '2024-01-07T00:00:00Z', '--redo']);
    expect(redo.code, redo.stderr).toBe(0);
    const missing = await runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'metrics']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--until/);
    expect(missing.stderr).toMatch(/migrate completion-point/);
  });

  it('--dry-run prints the slices and SQL and changes nothing, not even the ledger', async () => {
    await resetTarget(dbs.target);
    const before = await physical(dbs.target, 'true');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-backfill-dry-'));
    dirs.push(dir);
    const r = await runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'metrics',
      '--until', '2024-01-08T00:00:00Z', '--slice', '1 day', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/CREATE SCHEMA IF NOT EXISTS _migrate/);
    expect(r.stdout).toMatch(/DELETE FROM "public"\."metrics" WHERE "time" >= '-infinity'::timestamp with time zone AND "time" < '[^']+'::timestamp with time zone;/);
    expect(r.stdout).toMatch(/COPY \(SELECT "time", "device", "value", "note" FROM "public"\."metrics" WHERE "time" >= '-infinity'::timestamp with time zone/);
    expect(r.stdout).toMatch(/FORMAT binary/);
    expect(r.stderr).toMatch(/\[2024-01-07 00:00:00\+00, 2024-01-08 00:00:00\+00\)/);
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = '_migrate'")).toEqual([]);
    expect(await physical(dbs.target, 'true')).toBe(before);
  });

  it('stops on a non-transient error with exit 1; the failed slice is untouched and a re-run finishes', async () => {
    await resetTarget(dbs.target);
    await sql(dbs.target, "ALTER TABLE public.metrics ADD CONSTRAINT no_n20000 CHECK (note IS DISTINCT FROM 'n20000')");
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-backfill-fail-'));
    dirs.push(dir);
    const args = ['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'metrics',
      '--until', '2024-01-08T00:00:00Z', '--slice', '1 day', '--workers', '1'];
    const failed = await runCli(args);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/no_n20000/);
    expect(failed.stderr).toMatch(/\[2024-01-04 00:00:00\+00, 2024-01-05 00:00:00\+00\)/);
    expect(failed.stderr).toMatch(/migrate backfill/);
    const slices = await onTarget((c) => readLedger(c, { schema: 'public', table: 'metrics' }));
    const bad = slices.find((s) => s.start === '2024-01-04 00:00:00+00');
    expect(bad).toMatchObject({ status: 'pending', attempts: 1 });
    expect(bad?.lastError).toMatch(/no_n20000/);
    await sql(dbs.target, 'ALTER TABLE public.metrics DROP CONSTRAINT no_n20000');
    const rerun = await runCli(args);
    expect(rerun.code, rerun.stderr).toBe(0);
    await expectExact();
  });

  it('Ctrl-C stops at a safe point (exit 130 semantics), keeps done slices, and the next run completes exactly', async () => {
    await resetTarget(dbs.target);
    const abort = new AbortController();
    const ctx = contextFor(dbs, abort.signal);
    const emit = ctx.emit;
    ctx.emit = (event) => { emit(event); if (event.type === 'progress' && (event.unitsDone ?? 0) >= 2) abort.abort(); };
    await expect(runBackfill(input({ workers: 1, slice: '10 minutes' }), ctx)).rejects.toBeInstanceOf(InterruptedError);
    const slices = await onTarget((c) => readLedger(c, { schema: 'public', table: 'metrics' }));
    const done = slices.filter((s) => s.status === 'done').length;
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(slices.length);
    const result = await runBackfill(input({ slice: '10 minutes' }), contextFor(dbs));
    expect(result.tables[0]?.slicesCopied).toBe(slices.length - done);
    await expectExact();
  });

  it('Ctrl-C on the command exits 130, says how to continue, and leaves every slice done or untouched', async () => {
    await resetTarget(dbs.target);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-backfill-int-'));
    dirs.push(dir);
    const args = ['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'metrics',
      '--until', '2024-01-08T00:00:00Z', '--slice', '30 minutes', '--workers', '2'];
    let child: ChildProcess | undefined;
    const run = runCli(args, { onSpawn: (c) => { child = c; } });
    for (let i = 0; i < 600; i += 1) {
      const rows = await sql<{ n: string }>(dbs.target,
        "SELECT count(*) FILTER (WHERE status = 'done') AS n FROM _migrate.backfill_slice").catch(() => []);
      if (Number(rows[0]?.n ?? 0) >= 3) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child?.kill('SIGINT');
    const interrupted = await run;
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toMatch(/interrupted/);
    expect(interrupted.stderr).toMatch(/migrate resume/);
    const slices = await onTarget((c) => readLedger(c, { schema: 'public', table: 'metrics' }));
    expect(slices.some((s) => s.status === 'pending')).toBe(true);
    for (const slice of slices) {
      const where = `time >= '${slice.start}'::timestamptz AND time < '${slice.end}'::timestamptz AND note <> 'stale'`;
      const target = await fingerprint(dbs.target, TABLE, where);
      if (slice.status === 'done') expect(target).toEqual(await fingerprint(dbs.source, TABLE, where));
      else if (slice.start < '2024-01-07 12:00:00+00') expect(target.count).toBe(0);
    }
    const rerun = await runCli(args);
    expect(rerun.code, rerun.stderr).toBe(0);
    await expectExact();
  });

  it('two backfills at once share the ledger and copy every slice once', async () => {
    await resetTarget(dbs.target);
    const [a, b] = await Promise.all([runBackfill(input({ workers: 2, slice: '3 hours' }), contextFor(dbs)),
      runBackfill(input({ workers: 2, slice: '3 hours' }), contextFor(dbs))]);
    expect(a.complete && b.complete).toBe(true);
    expect((a.tables[0]?.slicesCopied ?? 0) + (b.tables[0]?.slicesCopied ?? 0)).toBe(a.tables[0]?.slicesTotal);
    expect((a.tables[0]?.rowsCopied ?? 0) + (b.tables[0]?.rowsCopied ?? 0)).toBe(35_577);
    await expectExact();
  });

  it('clean drops the ledger, and refuses (exit 1) while a paused policy is not restored', async () => {
    await resetTarget(dbs.target);
    await runBackfill(input(), contextFor(dbs));
    await sql(dbs.target, `INSERT INTO _migrate.paused_job (job_id, hypertable_schema, hypertable_name, was_scheduled, paused_by)
      VALUES (999999, 'public', 'metrics', true, 'test')`);
    const base = ['clean', '--target', dbs.target];
    const dry = await runCli([...base, '--dry-run']);
    expect(dry.code).toBe(1);
    const refused = await runCli(base);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not restored/);
    expect(refused.stderr).toMatch(/migrate resume/);
    await sql(dbs.target, 'DELETE FROM _migrate.paused_job');
    const dryOk = await runCli([...base, '--dry-run']);
    expect(dryOk.code, dryOk.stderr).toBe(0);
    expect(dryOk.stdout).toMatch(/DROP SCHEMA "_migrate" CASCADE/);
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = '_migrate'")).toHaveLength(1);
    const cleaned = await runCli(base);
    expect(cleaned.code, cleaned.stderr).toBe(0);
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = '_migrate'")).toEqual([]);
    expect(await onTarget(readBackfillProgress)).toEqual([]);
    const again = await runCli(base);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Nothing to clean/);
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] backfill into a hypertable', () => {
  /**
   * A target hypertable with dual-written and stale rows and a compression policy. `compressed`
   * compresses every chunk first, as the policy would have: before the policy exists, because its
   * job starts at once and would race a compress_chunk of our own ("already compressed").
   */
  async function hypertableTarget(options: { compressed?: boolean } = {}): Promise<void> {
    await sql(dbs.target, `CREATE EXTENSION IF NOT EXISTS timescaledb; DROP SCHEMA IF EXISTS _migrate CASCADE;
      DROP TABLE IF EXISTS public.metrics; ${DDL};
      SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
      ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
      INSERT INTO public.metrics SELECT ${ROW} FROM generate_series(0, 49999) i
        WHERE timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds' >= '2024-01-07 12:00:00+00';
      INSERT INTO public.metrics SELECT timestamptz '2024-01-03 00:00:00+00' + i * interval '1 minute', 99, -1, 'stale'
        FROM generate_series(0, 99) i;
      ${options.compressed ? "SELECT compress_chunk(c) FROM show_chunks('public.metrics') c;" : ''}
      SELECT add_compression_policy('public.metrics', interval '1 day');`);
  }

  it('aligns slices to chunks, decompresses compressed chunks in range, pauses and restores the policy', async () => {
    // The chunks holding dual-written and stale rows are compressed, as the policy would have.
    await hypertableTarget({ compressed: true });
    const [job] = await sql<{ job_id: number }>(dbs.target,
      "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'metrics'");
    const ctx = contextFor(dbs);
    const result = await runBackfill(input({ slice: undefined }), ctx);
    expect(result.complete).toBe(true);
    await expectExact();
    expect(result.pausedPolicies).toEqual([{ jobId: job?.job_id, hypertable: 'public.metrics', wasScheduled: true }]);
    expect(result.restoredPolicies).toEqual([{ jobId: job?.job_id, hypertable: 'public.metrics', wasScheduled: true }]);
    const [after] = await sql<{ scheduled: boolean }>(dbs.target, `SELECT scheduled FROM timescaledb_information.jobs WHERE job_id = ${job?.job_id}`);
    expect(after?.scheduled).toBe(true);
    expect(await sql(dbs.target, 'SELECT * FROM _migrate.paused_job')).toEqual([]);
    expect(result.tables[0]?.decompressedChunks.length).toBeGreaterThanOrEqual(2);
    expect(ctx.events.some((e) => e.type === 'info' && /Decompressing/.test(e.message))).toBe(true);
    // Rows >= T in compressed chunks stayed where they were (their chunk was outside the range or just decompressed).
    expect(await fingerprint(dbs.target, TABLE, AT_OR_AFTER)).toEqual(await fingerprint(dbs.source, TABLE, AT_OR_AFTER));
  });

  it('plans slice edges on the target\'s chunk edges (multiples of the interval from the Unix epoch)', async () => {
    await sql(dbs.target, `DROP SCHEMA IF EXISTS _migrate CASCADE; DROP TABLE IF EXISTS public.metrics; ${DDL};
      SELECT create_hypertable('public.metrics', by_range('time', interval '2 days'));
      INSERT INTO public.metrics SELECT ${ROW} FROM generate_series(0, 49999) i;`);
    const plan = await withClient({ side: 'source', connectionString: dbs.source }, (source) => onTarget((target) =>
      planSlices(source, target, { table: { schema: 'public', table: 'metrics' }, until: T, targetRows: 9000 })));
    expect(plan.alignment).toMatch(/chunks \(2 days\)/);
    const chunkStarts = (await sql<{ s: string }>(dbs.target, `SELECT range_start::text AS s FROM timescaledb_information.chunks
      WHERE hypertable_name = 'metrics'`)).map((r) => r.s);
    // 2-day chunks from the epoch start on odd January days in 2024: Dec 31, Jan 2, 4, 6, 8.
    expect(plan.slices.map((s) => s.start)).toEqual(['-infinity', '2024-01-02 00:00:00+00', '2024-01-04 00:00:00+00',
      '2024-01-06 00:00:00+00']);
    for (const s of plan.slices.slice(1)) expect(chunkStarts).toContain(s.start);
    expect(plan.slices.at(-1)?.end).toBe(T);
  });

  it('keeps a policy that was off, off; a crashed run\'s pause is restored by restorePausedPolicies', async () => {
    await hypertableTarget();
    const [job] = await sql<{ job_id: number }>(dbs.target,
      "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'metrics'");
    await sql(dbs.target, `SELECT alter_job(${job?.job_id}, scheduled => false)`);
    const result = await runBackfill(input(), contextFor(dbs));
    expect(result.pausedPolicies).toEqual([{ jobId: job?.job_id, hypertable: 'public.metrics', wasScheduled: false }]);
    const scheduled = async (): Promise<boolean | undefined> => (await sql<{ scheduled: boolean }>(dbs.target,
      `SELECT scheduled FROM timescaledb_information.jobs WHERE job_id = ${job?.job_id}`))[0]?.scheduled;
    expect(await scheduled()).toBe(false);
    // Simulate a crash after the pause: the job is off and recorded as "was on".
    await sql(dbs.target, `SELECT alter_job(${job?.job_id}, scheduled => false);
      INSERT INTO _migrate.paused_job (job_id, hypertable_schema, hypertable_name, was_scheduled, paused_by)
      VALUES (${job?.job_id}, 'public', 'metrics', true, 'crashed')`);
    const clean = await runCli(['clean', '--target', dbs.target]);
    expect(clean.code).toBe(1);
    const restored = await restorePausedPolicies(contextFor(dbs));
    expect(restored).toEqual([{ jobId: job?.job_id, hypertable: 'public.metrics', wasScheduled: true }]);
    expect(await scheduled()).toBe(true);
    const cleaned = await runCli(['clean', '--target', dbs.target]);
    expect(cleaned.code, cleaned.stderr).toBe(0);
  });

  it('restores the policy after a failed run', async () => {
    await hypertableTarget();
    await sql(dbs.target, "ALTER TABLE public.metrics ADD CONSTRAINT no_n100 CHECK (note IS DISTINCT FROM 'n100')");
    await expect(runBackfill(input({ workers: 1 }), contextFor(dbs))).rejects.toThrow(/no_n100/);
    const [job] = await sql<{ scheduled: boolean }>(dbs.target,
      "SELECT scheduled FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'metrics'");
    expect(job?.scheduled).toBe(true);
    expect(await sql(dbs.target, 'SELECT * FROM _migrate.paused_job')).toEqual([]);
  });
});

