/**
 * `migrate backfill`: copy [from, until) of each table from source to target, exactly once,
 * resumably, in parallel (issue #3, DESIGN.md §2-3).
 *
 * Order of work: check that a TimescaleDB source and the target still run the same TimescaleDB
 * version; plan the slices in the ledger; join the running backfills (shared RUN_LOCK);
 * pause background jobs (policies.ts); decompress compressed chunks in the range; run the workers;
 * once every slice is done, refresh the continuous aggregates over the range; then, always, leave
 * RUN_LOCK and, if no other backfill is running, restore the paused jobs.
 * Ctrl-C stops claiming slices and rolls back the ones in flight (they are redone next time).
 */
import os from 'node:os';
import type { StepContext } from '../../core/context.js';
import { withClient, type Client } from '../../core/db.js';
import { InterruptedError, MigrateError, UsageError } from '../../core/errors.js';
import { displayName, sameTable } from '../../core/identifiers.js';
import { describeDryRun } from './dry-run.js';
import { RUN_LOCK, readPlan, type LedgerPlan } from './ledger.js';
import { describeRefresh, refreshContinuousAggregates } from './continuous-aggregates.js';
import { refreshMaterializedViews } from './materialized-views.js';
import { ChunkCompressor, sourceCompressedRanges, type TimeRange } from './compression.js';
import { copiedHistories, historyInputs, isMaterialization, type CopiedHistory } from './materializations.js';
import { compressedChunks, decompressChunks, jobLabel, jobsToPause, pauseJobs, pauseScope, timescaleSchema, type PausedJob } from './policies.js';
import { prepareTables, recordPlans, type BackfillTableInput, type PreparedTable, type RangeRequest } from './prepare.js';
import { Progress, type TableCounters } from './progress.js';
import { restoreWhenLast } from './restore.js';
import { requireTimescaleMatch } from './timescale-version.js';
import { acquireAdvisoryLock } from './advisory-lock.js';
import { endSession } from './session.js';
import { alterTriggers, alterationLines, describeHandling, planTriggerHandling, type TriggerHandling, type TriggerPlan, type UserTriggerChoice } from './user-triggers.js';
import { Watchdog, type WorkerActivity } from './watchdog.js';
import { discard, openSession, runWorker, type TableWork } from './worker.js';

export type { BackfillTableInput, RangeRequest } from './prepare.js';
export { planSlices, type SlicePlan, type PlannedSlice } from './slices.js';
export { readLedger, readBackfillProgress, type LedgerSlice, type TableProgress } from './ledger.js';
export { restorePausedPolicies } from './restore.js';
export { USER_TRIGGER_CHOICES, type UserTriggerChoice } from './user-triggers.js';

export interface BackfillInput {
  tables: BackfillTableInput[];
  /** Parallel workers in this process (default 4). */
  workers?: number;
  /** Slice width: an interval ('1 day') for time columns, a whole number for integer ones. */
  slice?: string;
  /** Plan again and re-copy everything (or, with onlyRanges, just those ranges). */
  redo?: boolean;
  /** Re-copy just the slices overlapping these ranges (validate --repair). */
  onlyRanges?: RangeRequest[];
  /** The zone timestamp/date columns' values are in (default UTC), for the check that T is not in the future. */
  timezone?: string;
  /** Copy the source's rows at +infinity too, with one more slice (--include-infinity). */
  includeInfinity?: boolean;
  /** What the tables' user triggers do for copied rows (user-triggers.ts); default skip. */
  userTriggers?: UserTriggerChoice;
}

export interface BackfillTableResult {
  table: string;
  column: string;
  from: string;
  until: string;
  format: 'binary' | 'text';
  slicesTotal: number;
  slicesDone: number;
  /** This run. */
  slicesCopied: number;
  rowsCopied: number;
  bytesCopied: number;
  /** Target rows removed before copying (dual-written overlap, earlier copies). */
  rowsReplaced: number;
  durationMs: number;
  rowsPerSecond: number;
  mbPerSecond: number;
  decompressedChunks: string[];
  /** Target chunks this run compressed because the source has them compressed (compression.ts). */
  compressedChunks: string[];
}

export interface BackfillResult {
  dryRun: boolean;
  /** Every slice of these tables is done. */
  complete: boolean;
  workers: number;
  durationMs: number;
  tables: BackfillTableResult[];
  pausedPolicies: PausedJob[];
  restoredPolicies: PausedJob[];
  /** Continuous aggregates refreshed over the backfilled range (view, window), bottom-up. */
  refreshedAggregates: string[];
  /** Plain materialized views that read the backfilled tables, refreshed in dependency order. */
  refreshedViews: string[];
  /** Those whose refresh failed (their query fails over the full data); reported, not fatal. */
  viewRefreshFailures: { view: string; reason: string }[];
  /** How the tables' user triggers were treated for the copied rows. */
  userTriggers: TriggerHandling;
  /** Ranges whose chunks could not be compressed (the rows are complete; reported, not fatal). */
  compressionFailures: string[];
}

export const DEFAULT_WORKERS = 4;

export async function runBackfill(input: BackfillInput, ctx: StepContext): Promise<BackfillResult> {
  const workers = input.workers ?? DEFAULT_WORKERS;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new UsageError(`--workers ${workers} is not a number of workers between 1 and 64.`, { hint: 'Try --workers 4.' });
  }
  const inputs = input.onlyRanges?.length
    ? input.tables.filter((t) => input.onlyRanges?.some((r) => sameTable(r.table, t.table))) : input.tables;
  if (inputs.length === 0) {
    throw new UsageError('No table to backfill.', { hint: 'Name the tables with --table schema.table (and their --until).' });
  }
  const started = Date.now();
  const by = `${os.hostname()}:${process.pid}`;
  const source = await openSession(ctx.source);
  let target: Client | undefined;
  try {
    target = await openSession(ctx.target);
    await requireTimescaleMatch(source, target);
    ctx.emit({ type: 'phase', id: 'backfill-plan', message: 'Planning the backfill' });
    const prepareOptions = { emit: ctx.emit, dir: ctx.dir, repeat: ctx.repeat, timezone: input.timezone, includeInfinity: input.includeInfinity };
    const tables = await prepareTables(source, target, inputs, prepareOptions);
    const sourceIsTimescale = (await timescaleSchema(source)) !== undefined;
    // From a TimescaleDB source the continuous aggregates' history comes along (materializations.ts);
    // a repair (--only ranges) re-copies raw rows only.
    if (sourceIsTimescale && !input.onlyRanges?.length) tables.push(...await prepareHistories(source, target, tables, prepareOptions, ctx));
    // Before anything is written: a choice the operator must make stops the run here.
    const triggers = await planTriggerHandling(target, tables.map((t) => t.name), input.userTriggers);
    const triggerNote = describeHandling(triggers.handling);
    if (triggerNote) ctx.emit({ type: 'info', message: triggerNote });
    if (ctx.dryRun) {
      const result = await describeDryRun(source, target, tables, { ...input, workers, sourceIsTimescale, triggers }, ctx);
      ctx.emit({ type: 'done', id: 'backfill-plan', message: 'Dry run: nothing was changed' });
      return result;
    }
    const plans = await recordPlans(source, target, tables, { redo: input.redo, slice: input.slice, onlyRanges: input.onlyRanges,
      includeInfinity: input.includeInfinity,
      by, emit: ctx.emit });
    const compressor = new ChunkCompressor(await compressionRanges(source, plans, sourceIsTimescale), ctx.emit);
    ctx.emit({ type: 'done', id: 'backfill-plan', message: 'Backfill planned' });
    discard(source); // the workers open their own
    return await runPlanned(ctx, target, tables, plans, { workers, by, started, sourceIsTimescale, triggers, compressor });
  } finally {
    discard(target);
    discard(source);
  }
}

/** The aggregates' materialization hypertables to copy, prepared like any table (materializations.ts). */
async function prepareHistories(source: Client, target: Client, tables: PreparedTable[], options: Parameters<typeof prepareTables>[3],
  ctx: StepContext): Promise<PreparedTable[]> {
  const hypertables = tables.filter((t) => t.targetInfo.hypertable).map((t) => ({ name: t.name, until: t.input.until }));
  const history = await historyInputs(source, target, hypertables);
  for (const reason of history.skipped) ctx.emit({ type: 'warn', message: reason });
  return history.inputs.length > 0 ? prepareTables(source, target, history.inputs, options) : [];
}

/** Per table: the source's compressed chunk ranges below T, to compress on the target (compression.ts). */
async function compressionRanges(source: Client, plans: LedgerPlan[], sourceIsTimescale: boolean): Promise<Map<string, TimeRange[]>> {
  const ranges = new Map<string, TimeRange[]>();
  if (!sourceIsTimescale) return ranges;
  for (const plan of plans) ranges.set(displayName(plan.table), await sourceCompressedRanges(source, plan));
  return ranges;
}

interface Refreshed { aggregates: string[]; views: string[]; viewFailures: { view: string; reason: string }[] }

interface RunOptions {
  workers: number;
  by: string;
  started: number;
  sourceIsTimescale: boolean;
  triggers: TriggerPlan;
  compressor: ChunkCompressor;
}

async function runPlanned(ctx: StepContext, target: Client, tables: PreparedTable[], plans: LedgerPlan[],
  { workers, by, started, sourceIsTimescale, triggers, compressor }: RunOptions): Promise<BackfillResult> {
  const counters = await readCounters(target, plans);
  const pendingSlices = [...counters.values()].reduce((n, c) => n + c.slicesTotal - c.slicesDone, 0);
  const decompressed = new Map<string, string[]>();
  let paused: PausedJob[] = [];
  let restored: PausedJob[] = [];
  let refreshed: Refreshed = { aggregates: [], views: [], viewFailures: [] };
  let used = 0;
  // Joining the running backfills before pausing: whoever leaves last restores the policies.
  await acquireAdvisoryLock(target, { key: RUN_LOCK, mode: 'shared', what: 'the backfill run lock (migrate clean holds it)',
    emit: ctx.emit, signal: ctx.signal });
  try {
    if (pendingSlices === 0) {
      ctx.emit({ type: 'info', message: 'Every slice is done already; nothing to copy (use --redo to copy again).' });
    } else {
      const busy = plans.filter((p) => (counters.get(displayName(p.table))?.slicesDone ?? 0) < (counters.get(displayName(p.table))?.slicesTotal ?? 0));
      const busyTables = busy.map((p) => p.table);
      const scope = await pauseScope(target, busyTables, sourceIsTimescale);
      paused = await pauseJobs(target, await jobsToPause(target, busyTables, scope), by);
      if (paused.length > 0) {
        ctx.emit({ type: 'info', message: scope === 'all'
          ? 'Paused every background job (id >= 1000) until the backfill ends (TimescaleDB source or continuous aggregates):'
          : 'Paused the backfilled hypertables\' policies until the backfill ends:',
        detail: paused.map((j) => `${jobLabel(j)} (was ${j.wasScheduled ? 'scheduled' : 'not scheduled'})`) });
      }
      await alterTriggers(target, triggers.toAlter, by);
      if (triggers.toAlter.length > 0) {
        ctx.emit({ type: 'info', message: 'Triggers altered until the backfill ends (recorded in _migrate.altered_trigger):',
          detail: alterationLines(triggers.handling) });
      }
      for (const plan of busy) decompressed.set(displayName(plan.table), await decompressRange(target, plan, ctx));
      used = Math.min(workers, pendingSlices);
      await runWorkers(ctx, plans, tables, counters, used, by, triggers.replicaSessions, compressor);
    }
    // Also when nothing was pending: a run that stopped after its last slice may not have compressed yet.
    if (!compressor.empty) await withClient(ctx.target, (client) => compressor.sweep(client, plans), { applicationName: 'migrate backfill' });
    // Also when nothing was pending: a run that stopped after its last slice has not refreshed yet.
    refreshed = await refreshIfComplete(ctx, plans, sourceIsTimescale);
  } finally {
    await endSession(target, ctx.target, `SELECT pg_advisory_unlock_shared(${RUN_LOCK})`);
    restored = await restoreWhenLast(ctx);
  }
  // The control session may have been cut meanwhile (a server restart): the totals come from a new one.
  const after = await withClient(ctx.target, (client) => readCounters(client, plans), { applicationName: 'migrate backfill' });
  const complete = [...after.values()].every((c) => c.slicesDone === c.slicesTotal);
  const durationMs = Date.now() - started;
  const results = plans.map((plan) => ({ ...tableResult(plan, tables, counters, after, decompressed, durationMs),
    compressedChunks: compressor.compressed.get(displayName(plan.table)) ?? [] }));
  return { dryRun: false, complete, workers: used, durationMs, tables: results, pausedPolicies: paused, restoredPolicies: restored,
    refreshedAggregates: refreshed.aggregates, refreshedViews: refreshed.views, viewRefreshFailures: refreshed.viewFailures,
    userTriggers: triggers.handling, compressionFailures: compressor.failures };
}

/**
 * Refresh the continuous aggregates over the backfilled ranges once every slice is done, while the
 * jobs are still paused. On a connection of its own: refresh_continuous_aggregate cannot run in a
 * transaction block. Of several backfills sharing the ledger, the one that finishes the last slice
 * sees every slice done (a second refresh of the same window would find nothing to do).
 */
async function refreshIfComplete(ctx: StepContext, plans: LedgerPlan[], sourceIsTimescale: boolean): Promise<Refreshed> {
  const raw = plans.filter((p) => !isMaterialization(p.table));
  return withClient(ctx.target, async (client) => {
    const histories = sourceIsTimescale
      ? await withClient(ctx.source, (source) => copiedHistories(source, raw.map((p) => p.table),
        async (materialization) => (await readPlan(client, materialization))?.until), { applicationName: 'migrate backfill' })
      : new Map<string, CopiedHistory>();
    const counters = await readCounters(client, plans);
    if (![...counters.values()].every((c) => c.slicesDone === c.slicesTotal)) {
      ctx.emit({ type: 'info', message: 'Another backfill is still copying slices; the one that finishes last refreshes the ' +
        'continuous aggregates and materialized views.' });
      return { aggregates: [], views: [], viewFailures: [] };
    }
    const ranges = raw.map((p) => ({ table: p.table, type: p.targetType, from: p.from, until: p.until }));
    const aggregates = (await refreshContinuousAggregates(client, ranges, ctx.emit, histories)).map(describeRefresh);
    const views = await refreshMaterializedViews(client, raw.map((p) => p.table), ctx.emit);
    return { aggregates, views: views.refreshed, viewFailures: views.failed };
  }, { applicationName: 'migrate backfill' });
}

async function runWorkers(ctx: StepContext, plans: LedgerPlan[], tables: PreparedTable[], counters: Map<string, TableCounters>,
  workers: number, by: string, replicaRole: boolean, compressor: ChunkCompressor): Promise<void> {
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  const work: TableWork[] = plans.map((plan) => ({
    plan, columns: (tables.find((t) => sameTable(t.name, plan.table)) as PreparedTable).columns,
  }));
  const progress = new Progress(ctx.emit, counters);
  const failures = new Map<string, number>();
  const watchdog = new Watchdog(ctx, ctx.emit);
  const activities = Array.from({ length: workers }, (_, i) => watchdog.register(`w${i + 1}`));
  ctx.emit({ type: 'phase', id: 'backfill', message: `Backfilling with ${workers} worker${workers === 1 ? '' : 's'}` });
  progress.start();
  watchdog.start();
  // Each worker gets its own signal (following the shared one): 16 workers' pipeline and sleep listeners
  // on one signal would pass Node's limit of 10 and print a MaxListenersExceededWarning.
  const outcomes = await Promise.allSettled(Array.from({ length: workers }, (_, i) =>
    runWorker({ source: ctx.source, target: ctx.target, tables: work, signal: AbortSignal.any([signal]), progress, emit: ctx.emit, by,
      failures, activityFor: (index) => activities[index] as WorkerActivity, replicaRole,
      ...(compressor.empty ? {} : { afterSlice: compressor.afterSlice.bind(compressor) }) }, i)
      .catch((error: unknown) => { stop.abort(); throw error; })));
  watchdog.stop();
  progress.stop();
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  const done = [...counters.values()].reduce((n, c) => n + c.slicesDone, 0);
  const total = [...counters.values()].reduce((n, c) => n + c.slicesTotal, 0);
  if (failure) {
    ctx.emit({ type: 'done', id: 'backfill', ok: false, message: done === total
      ? `Every slice is done (${done} of ${total}), but a backfill worker failed after the last one (see the error below)`
      : `Backfill failed (${done} of ${total} slices done)` });
    throw failure.reason instanceof MigrateError ? failure.reason : new MigrateError(String(failure.reason), { cause: failure.reason });
  }
  if (ctx.signal.aborted) {
    ctx.emit({ type: 'done', id: 'backfill', message: `Backfill interrupted (${done} of ${total} slices done)`, ok: false });
    throw new InterruptedError(`The backfill was interrupted: ${done} of ${total} slices are done and kept; ` +
      'slices in flight were rolled back and will be copied again.', {
      hint: 'Run the same `migrate backfill` command again, or `migrate resume`, to continue where it stopped.',
    });
  }
  ctx.emit({ type: 'done', id: 'backfill', message: `Backfill done: ${total} slices` });
}

async function decompressRange(target: Client, plan: LedgerPlan, ctx: StepContext): Promise<string[]> {
  const t = plan.type;
  const { rows } = await target.query<{ lo: string | null; hi: string | null }>(
    `SELECT min(range_start::${t})::text AS lo, max(range_end::${t})::text AS hi FROM _migrate.backfill_slice
      WHERE schema_name = $1 AND table_name = $2 AND status = 'pending'`, [plan.table.schema, plan.table.table]);
  const lo = rows[0]?.lo;
  const hi = rows[0]?.hi;
  if (lo == null || hi == null) return [];
  const chunks = await compressedChunks(target, plan.table, plan.targetType, lo, hi);
  if (chunks.length === 0) return [];
  const names = chunks.map(displayName);
  ctx.emit({ type: 'info', message: `Decompressing ${chunks.length} compressed chunk${chunks.length === 1 ? '' : 's'} of ` +
    `${displayName(plan.table)} in the backfill range (the compression policy compresses them again once it is restored):`,
  detail: names });
  await decompressChunks(target, chunks);
  return names;
}

async function readCounters(target: Client, plans: LedgerPlan[]): Promise<Map<string, TableCounters>> {
  const { rows } = await target.query<{ schema: string; table: string; done: string; total: string; rows: string; est: string; bytes: string }>(
    `SELECT schema_name AS schema, table_name AS table, count(*) FILTER (WHERE status = 'done') AS done, count(*) AS total,
            coalesce(sum(rows) FILTER (WHERE status = 'done'), 0) AS rows,
            coalesce(sum(CASE WHEN status = 'done' THEN rows ELSE est_rows END), 0) AS est,
            coalesce(sum(bytes) FILTER (WHERE status = 'done'), 0) AS bytes
       FROM _migrate.backfill_slice s JOIN unnest($1::text[], $2::text[]) t(s, n) ON s.schema_name = t.s AND s.table_name = t.n
      GROUP BY 1, 2`, [plans.map((p) => p.table.schema), plans.map((p) => p.table.table)]);
  const counters = new Map<string, TableCounters>();
  for (const plan of plans) {
    const key = displayName(plan.table);
    const row = rows.find((r) => r.schema === plan.table.schema && r.table === plan.table.table);
    counters.set(key, {
      table: key, slicesTotal: Number(row?.total ?? 0), slicesDone: Number(row?.done ?? 0), rowsDone: Number(row?.rows ?? 0),
      rowsTotal: Number(row?.est ?? 0), bytesDone: Number(row?.bytes ?? 0), rowsCopied: 0, bytesCopied: 0, slicesCopied: 0, rowsDeleted: 0,
    });
  }
  return counters;
}

function tableResult(plan: LedgerPlan, tables: PreparedTable[], during: Map<string, TableCounters>, after: Map<string, TableCounters>,
  decompressed: Map<string, string[]>, runMs: number): BackfillTableResult {
  const key = displayName(plan.table);
  const c = during.get(key) as TableCounters;
  const durationMs = c.firstStart !== undefined && c.lastFinish !== undefined ? c.lastFinish - c.firstStart : runMs;
  const seconds = Math.max(durationMs, 1) / 1000;
  return {
    table: key, column: plan.column, from: plan.from, until: plan.until,
    format: tables.find((t) => sameTable(t.name, plan.table))?.columns.format ?? 'binary',
    slicesTotal: after.get(key)?.slicesTotal ?? c.slicesTotal, slicesDone: after.get(key)?.slicesDone ?? c.slicesDone,
    slicesCopied: c.slicesCopied, rowsCopied: c.rowsCopied, bytesCopied: c.bytesCopied, rowsReplaced: c.rowsDeleted, durationMs,
    rowsPerSecond: Math.round(c.rowsCopied / seconds), mbPerSecond: Number((c.bytesCopied / 1048576 / seconds).toFixed(2)),
    decompressedChunks: decompressed.get(key) ?? [], compressedChunks: [],
  };
}
