/**
 * Which column is a table's time column, and what its data looks like (span, NULLs), read as
 * cheaply as the table allows: an index when there is one, planner statistics or a 1% sample for
 * big tables without one, a plain scan only for small tables.
 */
import type { Client } from './db.js';
import type { ColumnInfo, TableInfo, TableTree } from './catalog.js';
import { UsageError } from './errors.js';
import { displayName, displayTableSpec, quoteIdent, quoteQualified } from './identifiers.js';
import { formatCommandLine } from './shell.js';
import { TIME_TYPES, columnTimeType, isIntegerTimeType, shortTypeName, type TimeType } from './time-values.js';

export interface RankedTimeColumn {
  column: ColumnInfo;
  type: TimeType;
  score: number;
  /** Why, for people: "NOT NULL timestamptz, named like a time column, in the primary key". */
  reasons: string[];
}

export function supportedTypesText(): string {
  return `${TIME_TYPES.map(shortTypeName).join(', ')}, or a domain over one of them`;
}

/** snake_case words of a column name: "Created At" → created_at, "eventTime" → event_time. */
function words(name: string): string[] {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
}

const EXACT_NAMES = new Set(['time', 'ts', 'timestamp', 'datetime', 'date', 'day', 'event_time', 'time_stamp']);
const TIME_WORDS = new Set(['time', 'ts', 'timestamp', 'tstamp', 'datetime', 'date', 'day', 'at', 'on', 'epoch',
  'created', 'inserted', 'recorded', 'observed', 'logged', 'occurred', 'received', 'sampled', 'measured', 'event',
  'period', 'bucket', 'ms', 'millis', 'unix']);
// Columns that change after the row is written make poor partitioning columns.
const MUTABLE_WORDS = new Set(['updated', 'modified', 'changed', 'deleted', 'expires', 'expiry', 'last']);

/** Rank the columns that could be the time column, best first. Integer columns need a time-like name. */
export function rankTimeColumns(table: Pick<TableInfo, 'columns' | 'indexes'> & { tree?: Pick<TableTree, 'partitionColumns'> }):
  RankedTimeColumn[] {
  const ranked: RankedTimeColumn[] = [];
  for (const column of table.columns) {
    const type = columnTimeType(column);
    if (!type) continue;
    const parts = words(column.name);
    const exact = EXACT_NAMES.has(parts.join('_'));
    const timeish = exact || parts.some((w) => TIME_WORDS.has(w));
    if (isIntegerTimeType(type) && !timeish) continue;
    const reasons: string[] = [];
    let score = { 'timestamp with time zone': 40, 'timestamp without time zone': 35, date: 25, bigint: 12, integer: 10,
      smallint: 5 }[type];
    reasons.push(`${column.notNull ? 'NOT NULL ' : 'nullable '}${shortTypeName(type)}`);
    if (column.notNull) score += 15;
    if (exact) { score += 30; reasons.push('named like a time column'); } else if (timeish) {
      score += 20;
      reasons.push('named like a time column');
    }
    if (parts.some((w) => MUTABLE_WORDS.has(w))) { score -= 30; reasons.push('but its name suggests it changes after insert'); }
    const leading = table.indexes.find((i) => i.columns[0] === column.name);
    if (leading) { score += 15; reasons.push(`leading column of index ${leading.name}`); } else if (
      table.indexes.some((i) => i.columns.includes(column.name))) { score += 5; reasons.push('indexed'); }
    const key = table.indexes.find((i) => (i.primary || i.unique) && i.columns.includes(column.name));
    if (key) { score += 10; reasons.push(key.primary ? 'in the primary key' : `in unique index ${key.name}`); }
    // The column a tree is range-partitioned on is what its owners already treat as the time axis.
    if (table.tree?.partitionColumns?.[0] === column.name) { score += 20; reasons.push('the partition key'); }
    if (column.baseType !== undefined) reasons.push(`a domain (${column.type})`);
    if (column.generated) { score -= 10; reasons.push('generated'); }
    ranked.push({ column, type, score, reasons });
  }
  return ranked.sort((a, b) => b.score - a.score || a.column.ordinal - b.column.ordinal);
}

export interface TimeColumnStats {
  /** Epoch seconds for timestamp/date columns, the raw value for integer columns. */
  min?: number;
  max?: number;
  /** The column's min/max as PostgreSQL text, for display. */
  minText?: string;
  maxText?: string;
  /** How min/max were obtained. */
  method: 'index' | 'scan' | 'statistics' | 'sample' | 'empty';
  /** true/false when known; undefined when we could not tell cheaply. */
  hasNulls?: boolean;
}

/** Tables up to this size are cheap enough to scan for min/max and NULLs. */
export const SMALL_TABLE_BYTES = 256 * 1024 * 1024;

function epochExpr(expr: string, type: TimeType): string {
  return isIntegerTimeType(type) ? `(${expr})::float8` : `extract(epoch from ${expr})::float8`;
}

/** A plain btree index led by the column (on every table of an inheritance tree): min, max and lookups on it are cheap. */
export function hasTimeIndex(table: TableInfo, column: string): boolean {
  if (table.tree?.indexedOnEveryMember && !table.tree.indexedOnEveryMember.includes(column)) return false;
  return table.indexes.some((i) => i.method === 'btree' && i.columns[0] === column && !i.partial);
}

/** Min, max and NULLs of a time column, without reading a big table in full. */
export async function timeColumnStats(client: Client, table: TableInfo, column: string, type: TimeType):
  Promise<TimeColumnStats> {
  const relation = quoteQualified(table.name);
  const col = quoteIdent(column);
  const info = table.columns.find((c) => c.name === column);
  const indexed = hasTimeIndex(table, column);
  const small = table.totalBytes <= SMALL_TABLE_BYTES;
  const minMax = (from: string): string =>
    `SELECT ${epochExpr(`min(${col})`, type)} AS lo, ${epochExpr(`max(${col})`, type)} AS hi,
            min(${col})::text AS lo_text, max(${col})::text AS hi_text FROM ${from}`;
  let stats: TimeColumnStats;
  // Planner statistics (after ANALYZE): the histogram's ends are close to min and max, and free to read.
  const statistics = async (): Promise<{ lo: number | null; hi: number | null; lo_text: string | null;
    hi_text: string | null; null_frac: number | null } | undefined> => {
    const { rows } = await client.query<{ lo: number | null; hi: number | null; lo_text: string | null;
      hi_text: string | null; null_frac: number | null }>(
      `SELECT ${epochExpr('b[1]', type)} AS lo, ${epochExpr('b[array_upper(b, 1)]', type)} AS hi,
              b[1]::text AS lo_text, b[array_upper(b, 1)]::text AS hi_text, null_frac::float8 AS null_frac
         FROM (SELECT histogram_bounds::text::${type}[] AS b, null_frac FROM pg_stats
                WHERE schemaname = $1 AND tablename = $2 AND attname = $3 ORDER BY inherited DESC LIMIT 1) s`,
      [table.name.schema, table.name.table, column]);
    return rows[0];
  };
  const fromStats = indexed || small ? undefined : await statistics();
  if (indexed || small) {
    const { rows } = await client.query<{ lo: number | null; hi: number | null; lo_text: string | null;
      hi_text: string | null }>(minMax(relation));
    stats = toStats(rows[0], indexed ? 'index' : 'scan');
  } else if (fromStats?.lo != null) {
    stats = toStats(fromStats, 'statistics');
  } else {
    const { rows } = await client.query<{ lo: number | null; hi: number | null; lo_text: string | null;
      hi_text: string | null }>(minMax(`${relation} TABLESAMPLE SYSTEM (1)`));
    stats = toStats(rows[0], 'sample');
  }
  if (info?.notNull) {
    stats.hasNulls = false;
  } else if (indexed || small) {
    const { rows } = await client.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${relation} WHERE ${col} IS NULL) AS found`);
    stats.hasNulls = Boolean(rows[0]?.found);
  } else {
    const nullFrac = fromStats?.null_frac;
    if (nullFrac != null) stats.hasNulls = nullFrac > 0;
  }
  return stats;
}

function toStats(row: { lo: number | null; hi: number | null; lo_text: string | null; hi_text: string | null } | undefined,
  method: TimeColumnStats['method']): TimeColumnStats {
  if (!row || row.lo === null || row.hi === null) return { method: 'empty' };
  const stats: TimeColumnStats = { method };
  // ±infinity timestamps come back as ±Infinity: they say nothing about the data's span.
  if (Number.isFinite(Number(row.lo))) stats.min = Number(row.lo);
  if (Number.isFinite(Number(row.hi))) stats.max = Number(row.hi);
  if (row.lo_text !== null) stats.minText = row.lo_text;
  if (row.hi_text !== null) stats.maxText = row.hi_text;
  return stats;
}

/**
 * The table's time column: the one named (it must exist and have a supported type), else the
 * hypertable's own time dimension, else the best-looking candidate column.
 */
export async function resolveTimeColumn(_client: Client, table: TableInfo, column?: string):
  Promise<{ column: string; type: TimeType }> {
  const name = displayName(table.name);
  if (column !== undefined) {
    const info = table.columns.find((c) => c.name === column);
    if (!info) {
      const folded = table.columns.find((c) => c.name.toLowerCase() === column.toLowerCase());
      throw new UsageError(`The table ${name} has no column ${JSON.stringify(column)}.` +
        (folded ? ` Did you mean ${JSON.stringify(folded.name)}?` : ''), {
        hint: folded
          ? `Quote it: ${formatCommandLine(['--table', displayTableSpec({ ...table.name, column: folded.name })])}.`
          : `Its columns are: ${table.columns.map((c) => c.name).join(', ')}.`,
      });
    }
    const type = columnTimeType(info);
    if (!type) {
      const typeText = info.baseType === undefined ? info.type : `${info.type} (a domain over ${info.baseType})`;
      throw new UsageError(`The column ${JSON.stringify(column)} of ${name} has type ${typeText}, which cannot be a time column.`, {
        hint: `Supported time column types: ${supportedTypesText()}. Name another column with ${formatCommandLine(['--table', `${displayName(table.name)}:column`])}.`,
      });
    }
    return { column: info.name, type };
  }
  if (table.hypertable) {
    const info = table.columns.find((c) => c.name === table.hypertable?.column);
    const type = info ? columnTimeType(info) : undefined;
    if (info && type) return { column: info.name, type };
  }
  const best = rankTimeColumns(table)[0];
  if (!best) {
    throw new UsageError(`The table ${name} has no column that looks like a time column ` +
      `(${supportedTypesText()}; integer columns only when their name says so, e.g. ts or created_at).`, {
      hint: `Name the time column: ${formatCommandLine(['--table', displayTableSpec({ ...table.name, column: 'time_column' })])}.`,
    });
  }
  return { column: best.column.name, type: best.type };
}
