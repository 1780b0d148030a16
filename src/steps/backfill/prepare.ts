/**
 * Before any row moves: resolve each table on both sides, match columns, and record the slice plan
 * in the ledger. Planning is idempotent and safe when several processes start together: it runs
 * under a transaction advisory lock, and a table that already has a plan keeps it (its done slices
 * stay done) unless --redo asks for a new one.
 */
import { resolveTable, resolveTimeColumn, type TableInfo } from '../../core/catalog.js';
import type { Emit } from '../../core/context.js';
import { withTransaction, type Client } from '../../core/db.js';
import { UsageError } from '../../core/errors.js';
import { displayName, quoteIdent, quoteQualified, sameTable, type QualifiedName, type TableSpec } from '../../core/identifiers.js';
import { castParam, isIntegerTimeType, shortTypeName, type TimeType } from '../../core/time-values.js';
import { isInfinite } from './axis.js';
import { matchColumns, type CopyColumns } from './columns.js';
import { PLAN_LOCK, ensureLedger, readPlan, reopenRange, writePlan, type LedgerPlan } from './ledger.js';
import { describePlan, planSlices, type SlicePlan } from './slices.js';

export interface BackfillTableInput {
  /** The source table; the target table has the same name. */
  table: TableSpec;
  timeColumn?: string;
  /** Normalized text, or '-infinity' / undefined for "below every row". */
  from?: string;
  /** Normalized text (exclusive): the completion point T. */
  until: string;
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
}

export async function prepareTables(source: Client, target: Client, inputs: BackfillTableInput[], emit: Emit): Promise<PreparedTable[]> {
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
  const problems: string[] = [];
  for (const table of prepared) {
    const problem = await infiniteTimeProblem(source, table);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) {
    throw new UsageError(`A hypertable cannot store infinite times, and the range to backfill holds some:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Start the range after them with --from (those rows then stay on the source only), or change or delete them ' +
        'on the source first. Nothing was changed on the target.',
    });
  }
  return prepared;
}

/**
 * Rows at -infinity in [from, until) on the way to a hypertable would fail their slice (SQLSTATE
 * 22008) half-way through the run; say so before anything changes. Only `from` open below can reach
 * them (T is finite), and only an index makes the check cheap: without one the slice still fails
 * cleanly, just later.
 */
async function infiniteTimeProblem(source: Client, table: PreparedTable): Promise<string | undefined> {
  const from = table.input.from;
  if (!table.targetInfo.hypertable || isIntegerTimeType(table.type) || (from !== undefined && !isInfinite(from))) return undefined;
  const indexed = table.sourceInfo.indexes.some((i) => i.method === 'btree' && i.columns[0] === table.column && !i.partial);
  if (!indexed) return undefined;
  const { rows } = await source.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${quoteQualified(table.name)} WHERE ${quoteIdent(table.column)} = '-infinity'`);
  const count = Number(rows[0]?.n ?? 0);
  return count > 0 ? `${table.key}: ${count} row(s) with ${table.column} = -infinity` : undefined;
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

export interface PlanOptions { redo?: boolean; slice?: string; onlyRanges?: RangeRequest[]; by: string; emit: Emit }

/** Record (or reuse) each table's plan in the ledger; returns the plans the workers follow. */
export async function recordPlans(source: Client, target: Client, tables: PreparedTable[], options: PlanOptions): Promise<LedgerPlan[]> {
  const problems: string[] = [];
  const plans = await withTransaction(target, async () => {
    await target.query(`SELECT pg_advisory_xact_lock(${PLAN_LOCK})`);
    await ensureLedger(target);
    const result: LedgerPlan[] = [];
    for (const table of tables) {
      const existing = await readPlan(target, table.name);
      const ranges = (options.onlyRanges ?? []).filter((r) => sameTable(r.table, table.name));
      if (existing && (ranges.length > 0 || !options.redo)) {
        const problem = ranges.length > 0 ? await reopen(target, existing, ranges) : await mismatch(target, existing, table);
        if (problem) problems.push(problem);
        result.push(existing);
        continue;
      }
      const plan = await slicePlanFor(source, target, table, options.slice);
      const recorded: LedgerPlan = { table: table.name, column: plan.column, type: plan.type, targetType: plan.targetType,
        from: plan.from, until: plan.until, alignment: plan.alignment };
      await writePlan(target, recorded, plan.slices, options.by);
      options.emit({ type: 'info', message: `Planned ${describePlan(plan)}.` });
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

async function mismatch(target: Client, existing: LedgerPlan, table: PreparedTable): Promise<string | undefined> {
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
