/**
 * `migrate validate`: does the target hold exactly the source's rows below the completion point?
 *
 * Per table and slice of [from, T): row counts and content checksums, computed in each database
 * (validate-checksums.ts), each side read from one snapshot. A differing slice is reported with
 * both sides' figures; `--repair` re-backfills just those slices and checks them again.
 * `--estimate` is the reference procedure's fast approximate check instead (validate-estimate.ts).
 * With `plainTables`, the tables the schema step copied whole are compared afterwards and reported
 * apart (validate-plain.ts): they do not change `ok`.
 */
import { createHash } from 'node:crypto';
import { resolveFrom, resolveTimeTables, resolveUntil, type TimeTablePair } from '../core/completion-points.js';
import type { StepContext } from '../core/context.js';
import { withClient, type Client } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { suggestCommand } from '../core/suggest.js';
import { displayName, type TableSpec } from '../core/identifiers.js';
import { shortTypeName } from '../core/time-values.js';
import { highestValue, lowestValue } from './backfill/axis.js';
import { guardCompletionPoints } from './completion-point-guard.js';
import { DEFAULT_LATENESS, readInterval } from './completion-point.js';
import { compareWindow, type WindowValidation } from './validate-window.js';
import {
  EMPTY_SLICE, castTowardsTarget, checksumSql, columnWarnings, edgeChecksum, hashColumns, pinSessionFormats, sameFigures, sliceChecksums, type EdgeSet, type HashColumns,
  type SliceFigures,
} from './validate-checksums.js';
import { describeDifferences } from './validate-describe.js';
import { estimateTable, type EstimateRow } from './validate-estimate.js';
import type { UserTriggerChoice } from './backfill/user-triggers.js';
import { compareAggregates, type AggregateValidation } from './validate-aggregates.js';
import { comparePlainTables, summarizePlainTables, type PlainTableValidation, type PlainTablesSummary } from './validate-plain.js';
import { checkRange, sliceEdges, type SliceEdges } from './validate-slices.js';

export interface ValidateInput {
  tables: TableSpec[];
  /** --until flags (VALUE or schema.table=VALUE); default: the recorded completion points. */
  until?: string[];
  /** --from flags; default: everything below T. */
  from?: string[];
  timezone?: string;
  estimate?: boolean;
  repair?: boolean;
  /** Rows this recent (before and after now) may still be in flight: left out of the dual-write window. */
  lateness?: string;
  /** For --repair's backfill: what the tables' user triggers do for re-copied rows. */
  userTriggers?: UserTriggerChoice;
  /** Also compare the plain tables (validate-plain.ts); default false, the CLI decides. Not with estimate. */
  plainTables?: boolean;
}

export interface SliceDifference {
  start: string;
  end: string;
  source: SliceFigures & { checksum: string };
  target: SliceFigures & { checksum: string };
  /** missing-rows: target has fewer; extra-rows: more; changed-rows: same count, different content. */
  kind: 'missing-rows' | 'extra-rows' | 'changed-rows';
  /** Set for the rows outside every slice: a NULL time, or +infinity (start and end then say which). */
  edge?: EdgeSet;
}

export interface TableValidation {
  table: string;
  column: string;
  type: string;
  from: string;
  until: string;
  slicing: SliceEdges['origin'];
  slices: number;
  rows: { source: number; target: number };
  /** Shared columns, in hashing order. */
  columns: string[];
  warnings: string[];
  differences: SliceDifference[];
  /** Rows at or after T (validate-window.ts); absent when it could not be placed (see warnings). */
  window?: WindowValidation;
  ok: boolean;
}

export interface ValidateResult {
  mode: 'checksums' | 'estimate';
  ok: boolean;
  /** --dry-run without --repair: nothing was compared; `tables` is empty. */
  dryRun?: true;
  tables: TableValidation[];
  estimates?: EstimateRow[];
  /** With plainTables: every plain table's figures; never part of `ok` (they may differ during dual-writes). */
  plainTables?: PlainTableValidation[];
  plainTablesSummary?: PlainTablesSummary;
  /** Continuous aggregates on the validated hypertables (validate-aggregates.ts); part of `ok`. */
  aggregates?: AggregateValidation[];
  /** With --repair: what was re-backfilled and how the second check went. */
  repair?: { ranges: { table: string; start: string; end: string }[]; dryRun: boolean; after: TableValidation[] };
}

interface Prepared {
  pair: TimeTablePair;
  from: string;
  until: string;
  edges: SliceEdges;
  columns: HashColumns;
  dualWritesFrom?: string;
  lateness: string;
  timezone?: string | undefined;
}

export async function runValidate(input: ValidateInput, ctx: StepContext): Promise<ValidateResult> {
  if (input.tables.length === 0) {
    throw new UsageError('Name the tables to validate.', {
      hint: 'Pass --table schema.table[:time_column] once per backfilled table, e.g. --table public.metrics ' +
        '(without --table, the command validates the tables whose completion points were recorded).',
    });
  }
  if (input.estimate && input.repair) {
    throw new UsageError('--estimate and --repair do not go together: an estimate cannot say which slices differ.', {
      hint: `Run \`${suggestCommand(ctx.repeat, 'validate', [], ['--repair'])}\` (exact checksums) to find and repair differing slices.`,
    });
  }
  if (input.estimate && input.plainTables) {
    throw new UsageError('--estimate and --plain-tables do not go together: plain tables are compared by exact checksums.', {
      hint: `Run \`${suggestCommand(ctx.repeat, 'validate', [], ['--plain-tables'])}\` without --estimate.`,
    });
  }
  return withClient(ctx.source, (source) => withClient(ctx.target, async (target) => {
    // Before anything is read as text: values and slice edges travel between the two sessions.
    await Promise.all([pinSessionFormats(source), pinSessionFormats(target)]);
    const pairs = await resolveTimeTables(source, target, input.tables);
    if (input.estimate) {
      const estimates: EstimateRow[] = [];
      for (const pair of pairs) estimates.push(await estimateTable(source, target, pair, ctx));
      return { mode: 'estimate', ok: estimates.every((e) => e.status === 'match'), tables: [], estimates };
    }
    const prepared = await prepare(source, target, pairs, input, ctx);
    // A dry run checks everything a real run checks first (tables, T, the guard, the slice edges),
    // then says what it would read instead of reading every row. With --repair it must compare to
    // know what it would repair (reads only; the repair itself is the dry part).
    if (ctx.dryRun && !input.repair) return describeDryRun(prepared, input, ctx);
    const tables = await compareAll(source, target, prepared, ctx);
    const result: ValidateResult = { mode: 'checksums', ok: tables.every((t) => t.ok), tables };
    if (input.plainTables) {
      result.plainTables = await inSnapshots(source, target, () => comparePlainTables(source, target, pairs.map((p) => p.spec), ctx));
      result.plainTablesSummary = summarizePlainTables(result.plainTables);
    }
    if (input.repair && !result.ok) result.repair = await repair(source, target, prepared, tables, ctx, input);
    if (result.repair && !ctx.dryRun) result.ok = result.repair.after.every((t) => t.ok);
    // After any repair: the aggregates are read as they are now.
    const aggregates = await inSnapshots(source, target, () => compareAggregates(source, target,
      prepared.map((p) => ({ table: p.pair.spec, until: p.until }))));
    if (aggregates.length > 0) {
      result.aggregates = aggregates;
      for (const a of aggregates) {
        ctx.emit({ type: 'done', id: 'validate-aggregate', ok: a.ok, message: a.ok
          ? `${a.view}: ${a.below === undefined ? 'nothing materialized on one side yet, not compared' : `${a.rows.source.toLocaleString('en-US')} rows below ${a.below} match`}.`
          : `${a.view}: rows below ${a.below} differ (source ${a.rows.source.toLocaleString('en-US')}, target ${a.rows.target.toLocaleString('en-US')}).` });
      }
      if (!ctx.dryRun) result.ok &&= aggregates.every((a) => a.ok);
    }
    return result;
  }));
}

async function prepare(source: Client, target: Client, pairs: TimeTablePair[], input: ValidateInput, ctx: StepContext):
  Promise<Prepared[]> {
  const common = { tables: pairs.map((p) => p.spec), dir: ctx.dir, source, ...(input.timezone ? { timezone: input.timezone } : {}) };
  const untils = await resolveUntil({ ...common, untilFlags: input.until ?? [] });
  const froms = await resolveFrom({ ...common, fromFlags: input.from ?? [] });
  // A T that loses rows would also hide them here: [T, first dual-written row) is compared by nobody.
  const guard = await guardCompletionPoints(target, pairs.map((p) => ({ table: p.spec, key: p.key, column: p.column, type: p.type,
    until: untils.get(p.key)?.until as string })), { dir: ctx.dir, repeat: ctx.repeat, timezone: input.timezone });
  for (const warning of guard.warnings) ctx.emit({ type: 'warn', message: warning });
  const prepared: Prepared[] = [];
  for (const pair of pairs) {
    const until = untils.get(pair.key)?.until as string;
    const from = froms.get(pair.key)?.from ?? lowestValue(pair.type);
    await checkRange(source, pair, from, until);
    const columns = hashColumns(pair.source.columns, pair.target.columns);
    await castTowardsTarget(source, columns, pair.target.columns);
    const dualWritesFrom = guard.starts.get(pair.key)?.earliest;
    prepared.push({ pair, from, until, columns, edges: await sliceEdges(source, target, pair, from, until),
      lateness: await readInterval(target, input.lateness ?? DEFAULT_LATENESS, '--lateness'), timezone: guard.zones.get(pair.key),
      ...(dualWritesFrom ? { dualWritesFrom } : {}) });
  }
  return prepared;
}

function describeDryRun(prepared: Prepared[], input: ValidateInput, ctx: StepContext): ValidateResult {
  for (const p of prepared) {
    const query = { table: p.pair.spec, column: p.pair.column, type: p.pair.type, from: p.from, until: p.until, edges: p.edges.edges,
      columns: p.columns };
    ctx.emit({ type: 'info', message: `Would compare ${p.pair.key} over [${p.from}, ${p.until}) in ${p.edges.edges.length + 1} ` +
      `slice(s) (${p.edges.origin}), counting and checksumming each on both sides in one read-only snapshot, then the rows at or ` +
      'after T (the dual-write window):', detail: columnWarnings(p.columns) });
    const { sql, params } = checksumSql({ ...query, side: 'source' });
    ctx.emit({ type: 'sql', side: 'source', sql, params });
  }
  if (input.plainTables) ctx.emit({ type: 'info', message: 'Would then compare every plain table the schema step copied, whole.' });
  ctx.emit({ type: 'info', message: 'Would also compare the continuous aggregates on these tables, if any. Nothing was read or compared.' });
  return { mode: 'checksums', ok: true, dryRun: true, tables: [] };
}

/** Compare every table, each side in one read-only snapshot, both sides at the same time. */
function compareAll(source: Client, target: Client, prepared: Prepared[], ctx: StepContext): Promise<TableValidation[]> {
  return inSnapshots(source, target, async () => {
    const results: TableValidation[] = [];
    for (const [i, p] of prepared.entries()) {
      ctx.emit({ type: 'phase', id: 'validate', message: `Checksumming ${p.pair.key} on both sides (${i + 1}/${prepared.length})…` });
      results.push(await compareTable(source, target, p));
      ctx.emit({ type: 'done', id: 'validate', message: describeOutcome(results[results.length - 1] as TableValidation), ok: results[results.length - 1]?.ok });
    }
    return results;
  });
}

/** Run `work` with each side in one read-only snapshot, begun together; nothing is written, so it ends in ROLLBACK. */
async function inSnapshots<T>(source: Client, target: Client, work: () => Promise<T>): Promise<T> {
  // Session settings were pinned before (a SET inside this transaction would end with its ROLLBACK).
  await Promise.all([source, target].map((client) => client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')));
  try {
    return await work();
  } finally {
    await Promise.all([source, target].map((client) => client.query('ROLLBACK').catch(() => undefined)));
  }
}

async function compareTable(source: Client, target: Client, p: Prepared): Promise<TableValidation> {
  const { pair } = p;
  const query = { table: pair.spec, column: pair.column, type: pair.type, from: p.from, until: p.until, edges: p.edges.edges,
    columns: p.columns };
  const [onSource, onTarget] = await Promise.all([
    sliceChecksums(source, { ...query, side: 'source' }), sliceChecksums(target, { ...query, side: 'target' })]);
  const bounds = [p.from, ...p.edges.edges, p.until];
  const differences: SliceDifference[] = [];
  const total = { source: 0, target: 0 };
  for (let i = 0; i + 1 < bounds.length; i += 1) {
    const s = onSource.get(i) ?? EMPTY_SLICE;
    const t = onTarget.get(i) ?? EMPTY_SLICE;
    total.source += s.rows;
    total.target += t.rows;
    if (sameFigures(s, t)) continue;
    differences.push({
      start: bounds[i] as string, end: bounds[i + 1] as string,
      source: { ...s, checksum: shortChecksum(s) }, target: { ...t, checksum: shortChecksum(t) },
      kind: t.rows < s.rows ? 'missing-rows' : t.rows > s.rows ? 'extra-rows' : 'changed-rows',
    });
  }
  for (const edge of edgeSets(p)) {
    const [s, t] = await Promise.all([edgeChecksum(source, { ...query, side: 'source' }, edge),
      edgeChecksum(target, { ...query, side: 'target' }, edge)]);
    const top = highestValue(pair.type);
    total.source += s.rows;
    total.target += t.rows;
    if (sameFigures(s, t)) continue;
    const label = edge === 'null' ? 'NULL' : top;
    differences.push({ start: label, end: label, edge, source: { ...s, checksum: shortChecksum(s) }, target: { ...t, checksum: shortChecksum(t) },
      kind: t.rows < s.rows ? 'missing-rows' : t.rows > s.rows ? 'extra-rows' : 'changed-rows' });
  }
  const warnings: string[] = [];
  const { window, skipped } = await compareWindow(source, target, { pair, until: p.until, columns: p.columns, lateness: p.lateness,
    timezone: p.timezone, dualWritesFrom: p.dualWritesFrom });
  if (skipped) warnings.push(`the dual-write window (rows at or after T) was not compared: ${skipped}`);
  warnings.push(...columnWarnings(p.columns));
  return {
    table: pair.key, column: pair.column, type: shortTypeName(pair.type), from: p.from, until: p.until, slicing: p.edges.origin,
    slices: bounds.length - 1, rows: total, columns: p.columns.names, warnings, differences, ...(window ? { window } : {}),
    ok: differences.length === 0 && (window?.differences.length ?? 0) === 0,
  };
}

/** Rows no slice holds that this table can have: NULL times where the column is nullable, +infinity for time types. */
function edgeSets(p: Prepared): EdgeSet[] {
  const nullable = [p.pair.source, p.pair.target].some((info) => !info.columns.find((c) => c.name === p.pair.column)?.notNull);
  // 'infinity' is the type's maximum for integer columns (a "forever" sentinel): no slice holds it either.
  return [...(nullable ? ['null' as const] : []), 'infinity'];
}

/** A short, stable label for a slice's figures (the full sums are in --json). */
function shortChecksum(f: SliceFigures): string {
  return f.rows === 0 ? '-' : createHash('sha256').update(`${f.rows}:${f.sum1}:${f.sum2}`).digest('hex').slice(0, 12);
}

function describeOutcome(t: TableValidation): string {
  return t.ok
    ? `${t.table}: ${t.slices} slice(s) match (${t.rows.source.toLocaleString('en-US')} rows).`
    : `${t.table}: ${describeDifferences(t)}.`;
}


/** Re-backfill the differing slices, then check those tables again. */
async function repair(source: Client, target: Client, prepared: Prepared[], tables: TableValidation[], ctx: StepContext,
  { timezone, userTriggers }: Pick<ValidateInput, 'timezone' | 'userTriggers'>):
  Promise<NonNullable<ValidateResult['repair']>> {
  const { runBackfill } = await import('./backfill/index.js');
  const broken = prepared.filter((_, i) => !tables[i]?.ok);
  const differences = broken.flatMap((p) => (tables.find((t) => t.table === p.pair.key)?.differences ?? [])
    .map((d) => ({ table: p.pair.spec, key: p.pair.key, ...d })));
  for (const d of differences.filter((x) => x.edge !== undefined)) {
    ctx.emit({ type: 'warn', message: d.edge === 'null'
      ? `${d.key}: rows with a NULL time differ; no slice holds them, so --repair cannot copy them: give them a time on the source, then backfill.`
      : `${d.key}: rows at +infinity differ; --repair does not copy them: run \`migrate backfill --include-infinity\` for this table.` });
  }
  const ranges = differences.filter((d) => d.edge === undefined).map((d) => ({ table: d.table, start: d.start, end: d.end }));
  const result = { ranges: ranges.map((r) => ({ table: displayName(r.table), start: r.start, end: r.end })), dryRun: ctx.dryRun };
  // No slice to re-copy: an empty onlyRanges would mean "every slice" to the backfill.
  if (ranges.length === 0) return { ...result, after: broken.map((p) => tables.find((t) => t.table === p.pair.key) as TableValidation) };
  ctx.emit({ type: 'info', message: `Repairing ${ranges.length} slice(s) by backfilling them again…` });
  await runBackfill({
    tables: broken.map((p) => ({ table: p.pair.spec, timeColumn: p.pair.column, from: p.from, until: p.until })),
    onlyRanges: ranges.map((r) => ({ table: { schema: r.table.schema, table: r.table.table }, start: r.start, end: r.end })),
    ...(timezone ? { timezone } : {}),
    ...(userTriggers ? { userTriggers } : {}),
  }, ctx);
  if (ctx.dryRun) return { ...result, after: [] };
  return { ...result, after: await compareAll(source, target, broken, ctx) };
}
