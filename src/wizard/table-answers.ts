/**
 * The wizard's per-table answers (chunk interval, segment-by, order-by, compress-after) checked when
 * they are given: at the prompt (a reason instead of accepting), and for `--yes --plan` before the
 * first change. They are checked against the SOURCE's catalog: the target has no schema yet, and the
 * schema load copies these tables' definitions as they are on the source.
 */
import { resolveTable, resolveTimeColumn, type TableInfo } from '../core/catalog.js';
import { checkChunkInterval } from '../core/chunk-interval.js';
import type { Client } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { structuralBlockers } from '../core/hypertable-blockers.js';
import { displayName, type TableSpec } from '../core/identifiers.js';
import type { PlanTable } from '../core/plan.js';
import { isIntegerTimeType, type TimeType } from '../core/time-values.js';
import { parseOrderBy } from '../steps/hypertable-sql.js';
import { normalizeInterval } from '../steps/hypertables-target.js';

export interface SourceTime { column: string; type: TimeType }

/** The message of a UsageError from our own checks; anything else is a real failure. */
async function reason(check: () => unknown): Promise<string | undefined> {
  try {
    await check();
    return undefined;
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
}

/** A chunk interval for this time column: a whole number for integer time, else an interval PostgreSQL reads. */
export async function chunkIntervalProblem(client: Client, text: string, time: SourceTime): Promise<string | undefined> {
  return reason(async () => {
    const value = checkChunkInterval(text, time.type, time.column);
    if (!isIntegerTimeType(time.type)) await normalizeInterval(client, value, 'The chunk interval');
  });
}

/** compress-after: an interval (chunk age for integer time), or a whole number for integer time. */
export async function compressAfterProblem(client: Client, text: string, time: SourceTime): Promise<string | undefined> {
  if (isIntegerTimeType(time.type) && /^\+?\d+$/.test(text.trim())) return undefined;
  return reason(() => normalizeInterval(client, text.trim(), 'compress after'));
}

/** Columns the table does not have, named with the table's columns. */
export function columnsProblem(table: TableInfo, columns: string[], what: string): string | undefined {
  const missing = columns.filter((c) => !table.columns.some((x) => x.name === c));
  if (missing.length === 0) return undefined;
  return `${displayName(table.name)} has no column ${missing.map((c) => JSON.stringify(c)).join(', ')} (${what}); its columns are: ` +
    `${table.columns.map((c) => c.name).join(', ')}.`;
}

/** Every problem of the plan's per-table answers, `tables[i].field: why`; checked before any change. */
export async function planTableProblems(client: Client, tables: PlanTable[], specOf: (entry: PlanTable) => TableSpec): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, entry] of tables.entries()) {
    const at = `tables[${i}]`;
    const spec = specOf(entry);
    let table: TableInfo;
    try {
      table = await resolveTable(client, spec, 'source');
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problems.push(`${at} ${entry.table}: ${error.message}`);
      continue;
    }
    // A time column the plan names must be one; without it the selection step takes the candidates'
    // suggestion (a ranking this check does not repeat), so the checks that need it wait for that step.
    const time = await resolveTimeColumn(client, table, spec.column).catch((error: unknown) => {
      if (!(error instanceof UsageError)) throw error;
      if (spec.column !== undefined) problems.push(`${at}.timeColumn: ${error.message}`);
      return undefined;
    });
    if (time) problems.push(...await timeProblems(client, at, entry, table, time));
    if (entry.compress) {
      const segment = columnsProblem(table, entry.compress.segmentBy ?? [], 'segment by');
      if (segment) problems.push(`${at}.compress.segmentBy: ${segment}`);
      const orderBy = entry.compress.orderBy;
      if (orderBy !== undefined) {
        let columns: string[] = [];
        const syntax = await reason(() => { columns = parseOrderBy(orderBy).map((o) => o.column); });
        const order = syntax ?? columnsProblem(table, columns, 'order by');
        if (order) problems.push(`${at}.compress.orderBy: ${order}`);
      }
    }
  }
  return problems;
}

/** The answers that depend on the time column: chunk interval, compress-after, and a key without it. */
async function timeProblems(client: Client, at: string, entry: PlanTable, table: TableInfo, time: SourceTime): Promise<string[]> {
  const problems: string[] = [];
  if (entry.chunkInterval !== undefined) {
    const problem = await chunkIntervalProblem(client, entry.chunkInterval, time);
    if (problem) problems.push(`${at}.chunkInterval: ${problem}`);
  }
  const compressAfter = entry.compress ? entry.compress.compressAfter : undefined;
  if (compressAfter !== undefined) {
    const problem = await compressAfterProblem(client, compressAfter, time);
    if (problem) problems.push(`${at}.compress.compressAfter: ${problem}`);
  }
  // A key without the time column needs the operator's word (the plan's `fix`) before anything changes.
  // The other blockers (data, partitioning, inheritance) are judged by the hypertable selection step
  // from the candidates' report, which knows how the schema step carries such tables.
  const { blockers } = structuralBlockers(table, time.column, { foreignKeysToHypertables: true });
  if (entry.fix !== true) {
    for (const b of blockers.filter((x) => x.kind === 'unique-without-time')) {
      problems.push(`${at}.fix: ${b.message} Set "fix": true for this table to let the wizard fix it on the target after the ` +
        'schema load (as `migrate hypertables --fix` does; it lists the cost first), or leave the table out.');
    }
  }
  return problems;
}
