/**
 * `migrate backfill --dry-run`: show the slices and the SQL a run would execute, and change
 * nothing (not even the ledger is created). Reads only catalogs and statistics.
 */
import type { StepContext } from '../../core/context.js';
import { UsageError } from '../../core/errors.js';
import type { Client } from '../../core/db.js';
import { displayName, sameTable } from '../../core/identifiers.js';
import { copyInSql, copyOutSql, deleteSql } from './copy.js';
import type { BackfillInput, BackfillResult, BackfillTableResult } from './index.js';
import { LEDGER_DDL, ledgerExists, readLedger, readPlan, slicesToCopy } from './ledger.js';
import { describeRefresh, plannedRefreshes, refreshParams, refreshSql, type BackfilledRange } from './continuous-aggregates.js';
import { compressedChunks, jobLabel, jobsToPause, pauseScope, timescaleSchema, type TargetJob } from './policies.js';
import { sourceCompressedRanges } from './compression.js';
import { copiedHistories, isMaterialization, type CopiedHistory } from './materializations.js';
import { dependentMaterializedViews, refreshSql as refreshViewSql } from './materialized-views.js';
import { mismatch, slicePlanFor, type PreparedTable } from './prepare.js';
import { describePlan, type PlannedSlice } from './slices.js';
import { ALTERED_TRIGGER_DDL, alterationLines, alterationSql, type TriggerPlan } from './user-triggers.js';

const SHOWN = 40;

function sliceLines(slices: PlannedSlice[]): string[] {
  const line = (s: PlannedSlice, i: number): string => `${String(i + 1).padStart(5)}  [${s.start}, ${s.end})  ~${s.estRows.toLocaleString('en-US')} rows`;
  if (slices.length <= SHOWN) return slices.map(line);
  return [...slices.slice(0, SHOWN - 5).map(line), `       … ${slices.length - SHOWN} more …`,
    ...slices.slice(-5).map((s, i) => line(s, slices.length - 5 + i))];
}

export async function describeDryRun(source: Client, target: Client, tables: PreparedTable[],
  input: BackfillInput & { workers: number; sourceIsTimescale: boolean; triggers: TriggerPlan }, ctx: StepContext): Promise<BackfillResult> {
  const hasLedger = await ledgerExists(target);
  if (!hasLedger) ctx.emit({ type: 'sql', side: 'target', sql: LEDGER_DDL.trim() });
  const tsSchema = await timescaleSchema(target);
  const scope = await pauseScope(target, tables.map((t) => t.name), input.sourceIsTimescale);
  const pauseSql = (jobs: TargetJob[]): void => {
    // A job that is off already is only recorded, not altered (and stays off afterwards).
    for (const job of jobs) {
      if (job.scheduled) ctx.emit({ type: 'sql', side: 'target', sql: `SELECT ${tsSchema}.alter_job($1, scheduled => false)`, params: [job.jobId] });
    }
  };
  if (tsSchema && scope === 'all') {
    const jobs = await jobsToPause(target, [], 'all');
    if (jobs.length > 0) {
      ctx.emit({ type: 'info', message: 'Would pause every background job (id >= 1000) until the backfill ends (TimescaleDB source or ' +
        'continuous aggregates), then restore each one\'s scheduled state:', detail: jobs.map((j) => jobLabel(labelled(j))) });
      pauseSql(jobs);
    }
  }
  if (input.triggers.toAlter.length > 0) {
    ctx.emit({ type: 'info', message: 'Would alter these triggers until the backfill ends (each recorded first, then put back):',
      detail: alterationLines(input.triggers.handling) });
    ctx.emit({ type: 'sql', side: 'target', sql: [ALTERED_TRIGGER_DDL.trim(), ...alterationSql(input.triggers.toAlter).map((q) => `${q};`)].join('\n') });
  }
  if (input.triggers.replicaSessions) {
    ctx.emit({ type: 'sql', side: 'target', sql: 'SET session_replication_role = replica; -- in every backfill worker\'s target session' });
  }
  const backfilled: BackfilledRange[] = [];
  const results: BackfillTableResult[] = [];
  for (const table of tables) {
    const ranges = (input.onlyRanges ?? []).filter((r) => sameTable(r.table, table.name));
    const recorded = hasLedger && (!input.redo || ranges.length > 0) ? await readPlan(target, table.name) : undefined;
    let slices: PlannedSlice[];
    let from: string;
    let until: string;
    let targetType = table.type;
    if (recorded) {
      // What would refuse the real run (recordPlans) refuses the dry run too, instead of "0 slices".
      const problem = ranges.length > 0 || table.input.history ? undefined : await mismatch(target, recorded, table);
      if (problem) {
        throw new UsageError(`The backfill ledger in the target already has a different plan:\n  - ${problem}`, {
          hint: 'Run with the recorded --until/--from to continue that backfill, or add --redo to plan again and re-copy the whole range.',
        });
      }
      const total = (await readLedger(target, table.name)).length;
      slices = await slicesToCopy(target, recorded, ranges);
      ({ from, until, targetType } = recorded);
      ctx.emit({ type: 'info', message: `${table.key}: the ledger has a plan of ${total} slices over [${from}, ${until}); ` +
        `these ${slices.length} would be copied${ranges.length > 0 ? ' (pending, or overlapping the ranges to re-copy)' : ''}:`,
      detail: sliceLines(slices) });
    } else {
      const plan = await slicePlanFor(source, target, table, table.input.slice ?? input.slice);
      slices = plan.slices;
      ({ from, until, targetType } = plan);
      ctx.emit({ type: 'info', message: `Would plan ${describePlan(plan)}:`, detail: sliceLines(slices) });
      for (const warning of plan.warnings) ctx.emit({ type: 'warn', message: warning });
    }
    backfilled.push({ table: table.name, type: targetType, from, until });
    if (table.input.history) {
      ctx.emit({ type: 'info', message: `${table.key} holds the materialized rows of ${displayName(table.input.history.view)}: its ` +
        `buckets below ${until} are copied from the source (they may outlive the raw rows); the rest is refreshed on the target.` });
    }
    const compress = input.sourceIsTimescale
      ? await sourceCompressedRanges(source, { table: table.name, type: table.type, from, until }) : [];
    if (compress.length > 0 && tsSchema) {
      ctx.emit({ type: 'info', message: `${table.key}: ${compress.length} chunk range${compress.length === 1 ? ' is' : 's are'} compressed ` +
        'on the source; each would be compressed on the target as soon as its last slice is done:',
      detail: compress.map((r) => `[${r.start}, ${r.end})`) });
      ctx.emit({ type: 'sql', side: 'target', sql: `SELECT ${tsSchema}.compress_chunk(c, if_not_compressed => true) ` +
        `FROM ${tsSchema}.show_chunks($1::regclass, older_than => $3, newer_than => $2) c`, params: [displayName(table.name), compress[0]?.start, compress[0]?.end] });
    }
    if (tsSchema && slices.length > 0) {
      if (scope === 'tables') pauseSql(await jobsToPause(target, [table.name], 'tables'));
      for (const chunk of await compressedChunks(target, table.name, targetType, from, until)) {
        ctx.emit({ type: 'sql', side: 'target', sql: `SELECT ${tsSchema}.decompress_chunk($1::regclass, if_compressed => true)`,
          params: [displayName(chunk)] });
      }
    }
    const first = slices[0];
    if (first) {
      const job = { table: table.name, column: table.column, sourceType: table.type, targetType,
        start: first.start, end: first.end, columns: table.columns };
      ctx.emit({ type: 'info', message: `For each slice, e.g. the first one (${table.columns.format} format, ${input.workers} workers):` });
      ctx.emit({ type: 'sql', side: 'target', sql: `BEGIN;\nSELECT … FROM _migrate.backfill_slice WHERE … status = 'pending' ` +
        'ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED' });
      ctx.emit({ type: 'sql', side: 'target', sql: deleteSql(job), params: [first.start, first.end] });
      ctx.emit({ type: 'sql', side: 'source', sql: `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n${copyOutSql(job)}` });
      ctx.emit({ type: 'sql', side: 'target', sql: `${copyInSql(job)};\nUPDATE _migrate.backfill_slice SET status = 'done', … ;\nCOMMIT` });
    }
    results.push({
      table: table.key, column: table.column, from, until, format: table.columns.format, slicesTotal: slices.length, slicesDone: 0,
      slicesCopied: 0, rowsCopied: 0, bytesCopied: 0, rowsReplaced: 0, durationMs: 0, rowsPerSecond: 0, mbPerSecond: 0, decompressedChunks: [],
      compressedChunks: [],
    });
  }
  const raw = backfilled.filter((b) => !isMaterialization(b.table));
  const histories = input.sourceIsTimescale ? await copiedHistories(source, raw.map((b) => b.table), async (materialization) =>
    backfilled.find((b) => sameTable(b.table, materialization))?.until ?? (hasLedger ? (await readPlan(target, materialization))?.until : undefined))
    : new Map<string, CopiedHistory>();
  const refreshes = await plannedRefreshes(target, raw, histories);
  if (refreshes.length > 0) {
    ctx.emit({ type: 'info', message: 'Once every slice is done, before the jobs are restored, would refresh the continuous aggregates ' +
      '(autocommit, bottom-up):', detail: refreshes.map(describeRefresh) });
    for (const refresh of refreshes) ctx.emit({ type: 'sql', side: 'target', sql: refreshSql(refresh), params: refreshParams(refresh) });
  }
  const views = await dependentMaterializedViews(target, tables.map((t) => t.name));
  if (views.length > 0) {
    ctx.emit({ type: 'info', message: 'Then would refresh the materialized views that read the backfilled tables, in dependency order:',
      detail: views.map(displayName) });
    for (const view of views) ctx.emit({ type: 'sql', side: 'target', sql: refreshViewSql(view) });
  }
  return { dryRun: true, complete: false, workers: input.workers, durationMs: 0, tables: results, pausedPolicies: [], restoredPolicies: [],
    refreshedAggregates: [], refreshedViews: [], viewRefreshFailures: [], userTriggers: input.triggers.handling, compressionFailures: [] };
}

function labelled(job: TargetJob): { jobId: number; hypertable: string } {
  return { jobId: job.jobId, hypertable: job.hypertable ? displayName(job.hypertable) : '' };
}
