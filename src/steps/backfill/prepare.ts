/**
 * Before any row moves: resolve each table on both sides, match columns, and record the slice plan
 * in the ledger. Planning is idempotent and safe when several processes start together: it runs
 * under a transaction advisory lock, and a table that already has a plan keeps it (its done slices
 * stay done) unless --redo asks for a new one.
 */
import { resolveTable, resolveTimeColumn, type TableInfo } from '../../core/catalog.js';
import type { Emit } from '../../core/context.js';
import type { RepeatFlags } from '../../core/suggest.js';
import { withTransaction, type Client } from '../../core/db.js';
import { UsageError } from '../../core/errors.js';
import { displayIdent, displayName, quoteIdent, quoteQualified, sameTable, type QualifiedName, type TableSpec } from '../../core/identifiers.js';
import { castParam, shortTypeName, type TimeType } from '../../core/time-values.js';
import { guardCompletionPoints, recordDualWriteStart, type DualWriteStart } from '../completion-point-guard.js';
import { countEdgeRows, rowCount, type EdgeRows } from '../time-edge-rows.js';
import { acquireAdvisoryLock } from './advisory-lock.js';
import { isInfinite } from './axis.js';
import { matchColumns, type CopyColumns } from './columns.js';
import { PLAN_LOCK, addInfinitySlice, ensureLedger, readPlan, reopenRange, writePlan, type LedgerPlan } from './ledger.js';
import { describePlan, planSlices, type SlicePlan } from './slices.js';

export interface BackfillTableInput {
  /** The source table; the target table has the same name. */
  table: TableSpec;
  timeColumn?: string;
  /** Normalized text, or '-infinity' / undefined for "below every row". */
  from?: string;
  /** Normalized text (exclusive): the completion point T. */
  until: string;
  /** This table's slice width (--slice schema.table=WIDTH); overrides the run's. */
  slice?: string;
  /**
   * Set when this "table" is a continuous aggregate's materialization hypertable whose history is
   * copied from the source (materializations.ts); `until` is then its bound C, not a completion point.
   */
  history?: { view: QualifiedName; type: TimeType };
}

export interface RangeRequest { table: QualifiedName; start: string; end: string }

export interface PreparedTable {
  input: BackfillTableInput;
  name: QualifiedName;
  key: string;
  sourceInfo: TableInfo;
  targetInfo: TableInfo;
  column: string;
  type: TimeType;
  columns: CopyColumns;
  /** Where dual-writes began; recorded in the ledger with the plan when it was only observed now. */
  dualWriteStart?: DualWriteStart;
  /** Source rows at NULL / ±infinity times (counted before planning). */
  edgeRows?: EdgeRows;
}

export interface PrepareOptions {
  emit: Emit;
  dir: string;
  /** The shared flags the command was given, for suggested command lines. */
  repeat?: RepeatFlags | undefined;
  /** The zone of timestamp/date columns' values, for "T is in the future". */
  timezone?: string | undefined;
  /** Copy source rows at +infinity with one more slice (--include-infinity). */
  includeInfinity?: boolean | undefined;
}

export async function prepareTables(source: Client, target: Client, inputs: BackfillTableInput[],
  { emit, dir, repeat, timezone, includeInfinity = false }: PrepareOptions): Promise<PreparedTable[]> {
  const prepared: PreparedTable[] = [];
  for (const input of inputs) {
    const sourceInfo = await resolveTable(source, input.table, 'source');
    const targetInfo = await resolveTable(target, input.table, 'target');
    const { column, type } = await resolveTimeColumn(source, sourceInfo, input.timeColumn ?? input.table.column);
    const columns = await matchColumns(source, target, sourceInfo.name);
    const key = displayName(sourceInfo.name);
    if (columns.missingOnTarget.length > 0) {
      emit({ type: 'warn', message: `${key}: the target has no column ${columns.missingOnTarget.join(', ')}; that data is not copied.` });
    }
    if (columns.missingOnSource.length > 0) {
      emit({ type: 'info', message: `${key}: target-only column ${columns.missingOnSource.join(', ')} gets its default.` });
    }
    if (columns.format === 'text') {
      emit({ type: 'info', message: `${key}: copying in text format because column types differ between source and target:`,
        detail: columns.textReasons });
    }
    prepared.push({ input, name: sourceInfo.name, key, sourceInfo, targetInfo, column, type, columns });
  }
  // T is checked here, on every path into the backfill, before anything changes. An aggregate's
  // history has no dual-writes and no T of its own (its bound derives from its hypertable's T).
  const guard = await guardCompletionPoints(target, prepared.filter((t) => !t.input.history).map((t) => ({ table: t.name, key: t.key, column: t.column, type: t.type,
    until: t.input.until })), { dir, repeat, timezone });
  for (const warning of guard.warnings) emit({ type: 'warn', message: warning });
  for (const table of prepared) {
    const start = guard.starts.get(table.key);
    if (start) table.dualWriteStart = start;
  }
  const problems: string[] = [];
  // An aggregate's buckets come from TimescaleDB's time_bucket: never NULL, never infinite.
  const counted = prepared.filter((t) => !t.input.history);
  if (counted.length > 0) emit({ type: 'phase', id: 'backfill-edges', message: 'Counting source rows with a NULL or infinite time' });
  for (const table of counted) {
    table.edgeRows = await countEdgeRows(source, table.sourceInfo, table.column, table.type);
    problems.push(...edgeProblems(table, table.edgeRows, includeInfinity));
  }
  if (counted.length > 0) {
    emit({ type: 'done', id: 'backfill-edges', message: 'Counted source rows with a NULL or infinite time', ok: problems.length === 0 });
  }
  if (problems.length > 0) {
    throw new UsageError(`Some source rows cannot be backfilled as asked; nothing was changed:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Fix each as it says, then run the same command again.',
    });
  }
  return prepared;
}

/**
 * Rows the slices cannot carry (time-edge-rows.ts), refused before anything changes: NULL times
 * always; -infinity when the range reaches it and the target is a hypertable (which cannot store
 * it); +infinity unless --include-infinity adds the slice that copies them.
 */
function edgeProblems(table: PreparedTable, edges: EdgeRows, includeInfinity: boolean): string[] {
  const problems: string[] = [];
  const col = displayIdent(table.column);
  if (edges.nulls > 0) {
    problems.push(`${table.key}: ${rowCount(edges.nulls)} with ${col} IS NULL. No time range holds them (and a hypertable's ` +
      `time column is NOT NULL), so the backfill would leave them behind. Give them a time or delete them on the source ` +
      `(SELECT * FROM ${quoteQualified(table.name)} WHERE ${quoteIdent(col)} IS NULL shows them).`);
  }
  const from = table.input.from;
  if (edges.minusInfinity > 0 && table.targetInfo.hypertable && (from === undefined || isInfinite(from))) {
    problems.push(`${table.key}: ${rowCount(edges.minusInfinity)} with ${col} = -infinity, which a hypertable cannot store. ` +
      'Start the range after them with --from (they then stay on the source only), or change or delete them on the source.');
  }
  if (edges.plusInfinity > 0 && !includeInfinity) {
    problems.push(`${table.key}: ${rowCount(edges.plusInfinity)} with ${col} = +infinity. They lie at or after every T, so no ` +
      'slice copies them, and no dual-write will bring rows that are already written. Add --include-infinity to copy them ' +
      '(one more slice replaces the target\'s +infinity rows with the source\'s), or change or delete them on the source.');
  }
  return problems;
}

export function slicePlanFor(source: Client, target: Client, table: PreparedTable, slice: string | undefined): Promise<SlicePlan> {
  return planSlices(source, target, {
    table: table.name, timeColumn: table.column, until: table.input.until, sourceInfo: table.sourceInfo, targetInfo: table.targetInfo,
    ...(table.input.from !== undefined ? { from: table.input.from } : {}), ...(slice !== undefined ? { slice } : {}),
  });
}

async function sameValue(client: Client, type: TimeType, a: string, b: string): Promise<boolean> {
  const { rows } = await client.query<{ same: boolean }>(`SELECT ${castParam(1, type)} = ${castParam(2, type)} AS same`, [a, b]);
  return Boolean(rows[0]?.same);
}

export interface PlanOptions {
  redo?: boolean | undefined;
  slice?: string | undefined;
  onlyRanges?: RangeRequest[] | undefined;
  includeInfinity?: boolean | undefined;
  by: string;
  emit: Emit;
}

/** Record (or reuse) each table's plan in the ledger; returns the plans the workers follow. */
export async function recordPlans(source: Client, target: Client, tables: PreparedTable[], options: PlanOptions): Promise<LedgerPlan[]> {
  const problems: string[] = [];
  const plans = await withTransaction(target, async () => {
    await acquireAdvisoryLock(target, { key: PLAN_LOCK, mode: 'xact', what: 'the backfill ledger (another process is planning)',
      emit: options.emit });
    await ensureLedger(target);
    const result: LedgerPlan[] = [];
    for (const table of tables) {
      // A start read from an older plan's T is a bound, not an observation: not recorded as one.
      if (table.dualWriteStart && table.dualWriteStart.origin !== 'plan') {
        await recordDualWriteStart(target, { table: table.name, key: table.key, column: table.column, type: table.type,
          until: table.input.until }, table.dualWriteStart.earliest);
      }
      const existing = await readPlan(target, table.name);
      const ranges = (options.onlyRanges ?? []).filter((r) => sameTable(r.table, table.name));
      const atInfinity = options.includeInfinity ? table.edgeRows?.plusInfinity ?? 0 : 0;
      const slice = table.input.slice ?? options.slice;
      if (existing && (ranges.length > 0 || !options.redo)) {
        if (slice !== undefined && ranges.length === 0) {
          options.emit({ type: 'warn', message: `${table.key}: --slice ${slice} is not used: the ledger already holds this table's ` +
            'plan and its done slices stay done. Add --redo to plan again with it (and copy the whole range again).' });
        }
        // An aggregate's history keeps the bound it was planned with (the source's watermark moves on).
        const problem = ranges.length > 0 ? await reopen(target, existing, ranges)
          : table.input.history ? undefined : await mismatch(target, existing, table);
        if (problem) problems.push(problem);
        if (atInfinity > 0 && ranges.length === 0) await addInfinitySlice(target, existing, atInfinity);
        result.push(existing);
        continue;
      }
      const plan = await slicePlanFor(source, target, table, slice);
      const recorded: LedgerPlan = { table: table.name, column: plan.column, type: plan.type, targetType: plan.targetType,
        from: plan.from, until: plan.until, alignment: plan.alignment };
      await writePlan(target, recorded, plan.slices, options.by);
      if (atInfinity > 0) await addInfinitySlice(target, recorded, atInfinity);
      const of = table.input.history ? ` (the materialized history of ${displayName(table.input.history.view)})` : '';
      options.emit({ type: 'info', message: `Planned ${describePlan(plan)}${of}.` });
      for (const warning of plan.warnings) options.emit({ type: 'warn', message: warning });
      result.push(recorded);
    }
    if (problems.length > 0) {
      throw new UsageError(`The backfill ledger in the target already has a different plan:\n  - ${problems.join('\n  - ')}`, {
        hint: 'Run with the recorded --until/--from to continue that backfill, or add --redo to plan again and re-copy the whole range.',
      });
    }
    return result;
  });
  return plans;
}

/** Why a recorded plan does not fit this run (another column, T or --from); undefined when it does. */
export async function mismatch(target: Client, existing: LedgerPlan, table: PreparedTable): Promise<string | undefined> {
  const recorded = `recorded: [${existing.from}, ${existing.until}) on ${existing.column} (${shortTypeName(existing.type)})`;
  if (existing.column !== table.column || existing.type !== table.type) {
    return `${table.key}: asked for the time column ${table.column}, ${recorded}`;
  }
  if (!(await sameValue(target, existing.type, existing.until, table.input.until))) {
    return `${table.key}: asked for --until ${table.input.until}, ${recorded}`;
  }
  const from = table.input.from;
  if (from !== undefined && !isInfinite(from) && !(await sameValue(target, existing.type, existing.from, from))) {
    return `${table.key}: asked for --from ${from}, ${recorded}`;
  }
  return undefined;
}

async function reopen(target: Client, plan: LedgerPlan, ranges: RangeRequest[]): Promise<string | undefined> {
  const t = plan.type;
  for (const range of ranges) {
    const { rows } = await target.query<{ inside: boolean }>(
      `SELECT ${castParam(1, t)} >= ${castParam(3, t)} AND ${castParam(2, t)} <= ${castParam(4, t)} AND ${castParam(1, t)} < ${castParam(2, t)} AS inside`,
      [range.start, range.end, plan.from, plan.until]);
    if (!rows[0]?.inside) {
      return `${displayName(plan.table)}: the range [${range.start}, ${range.end}) to re-copy is not inside the recorded plan [${plan.from}, ${plan.until})`;
    }
    await reopenRange(target, plan, range.start, range.end);
  }
  return undefined;
}
