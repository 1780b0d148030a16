/**
 * The SQL `migrate hypertables` runs, built in one place. Identifiers go through quoteIdent; values
 * are parameters, except the compression column lists: `ALTER TABLE … SET (…)` takes no
 * parameters, so those lists become string literals here, in `sqlStringLiteral`, and nowhere else.
 */
import { sqlStringLiteral } from '../core/sql-literal.js';
import { UsageError } from '../core/errors.js';
import { quoteIdent, quoteQualified, parseColumnName, type QualifiedName } from '../core/identifiers.js';
import type { TimeType } from '../core/time-values.js';

export interface OrderByItem {
  column: string;
  direction?: 'ASC' | 'DESC';
  nulls?: 'FIRST' | 'LAST';
}

/** Split on commas that are not inside double quotes. */
function splitList(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) { parts.push(current); current = ''; } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

const badList = (text: string, why: string, example: string): UsageError =>
  new UsageError(`Cannot read the column list ${JSON.stringify(text)}: ${why}.`, { hint: `Write it like ${example}.` });

/** `device_id, "Tenant Id"` → ['device_id', 'Tenant Id'] (SQL folding: unquoted names fold to lower case). */
export function parseColumnList(text: string): string[] {
  return splitList(text).map((part) => {
    if (part === '') throw badList(text, 'a column name is empty', `device_id,"Tenant Id"`);
    return parseColumnName(part);
  });
}

/** `time DESC, "Created At" ASC NULLS LAST` → items. */
export function parseOrderBy(text: string): OrderByItem[] {
  const example = `'time DESC' or '"Created At" DESC NULLS LAST, id'`;
  return splitList(text).map((part) => {
    const match = /^("(?:[^"]|"")+"|[^\s"]+)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?$/i.exec(part);
    if (!match) throw badList(text, `${JSON.stringify(part)} is not "column [ASC|DESC] [NULLS FIRST|LAST]"`, example);
    const item: OrderByItem = { column: parseColumnName(match[1] as string) };
    if (match[2]) item.direction = match[2].toUpperCase() as 'ASC' | 'DESC';
    if (match[3]) item.nulls = match[3].toUpperCase() as 'FIRST' | 'LAST';
    return item;
  });
}

/** A PostgreSQL string literal, escaped the way quote_literal() does (E'' when there is a backslash). */

export function formatOrderBy(items: OrderByItem[]): string {
  return items.map((i) => [quoteIdent(i.column), i.direction, i.nulls && `NULLS ${i.nulls}`].filter(Boolean).join(' '))
    .join(', ');
}

/** `ALTER TABLE … SET (timescaledb.compress, …)`; column names are checked to exist by the caller. */
export function compressionSql(table: QualifiedName, segmentBy: string[], orderBy: OrderByItem[]): string {
  const options = ['timescaledb.compress'];
  if (segmentBy.length > 0) {
    options.push(`timescaledb.compress_segmentby = ${sqlStringLiteral(segmentBy.map(quoteIdent).join(', '))}`);
  }
  if (orderBy.length > 0) options.push(`timescaledb.compress_orderby = ${sqlStringLiteral(formatOrderBy(orderBy))}`);
  return `ALTER TABLE ${quoteQualified(table)} SET (${options.join(', ')})`;
}

export interface CreateHypertableOptions {
  /** The schema TimescaleDB's functions live in. */
  extensionSchema: string;
  /** by_range() exists (TimescaleDB 2.13+). */
  byRange: boolean;
  type: TimeType;
}

/** create_hypertable with parameters $1 regclass text, $2 column, $3 interval, $4 migrate_data. */
export function createHypertableSql(options: CreateHypertableOptions): string {
  const fn = (name: string): string => `${quoteIdent(options.extensionSchema)}.${name}`;
  const interval = options.type === 'bigint' || options.type === 'integer' || options.type === 'smallint'
    ? '$3::bigint' : '$3::interval';
  return options.byRange
    ? `SELECT ${fn('create_hypertable')}($1::regclass, ${fn('by_range')}($2::name, ${interval}), migrate_data => $4::boolean)`
    : `SELECT ${fn('create_hypertable')}($1::regclass, $2::name, chunk_time_interval => ${interval}, migrate_data => $4::boolean)`;
}

/**
 * add_compression_policy with $1 regclass text and $2 the threshold: compress_after (an interval,
 * or an integer in the column's units) or compress_created_before (an interval of chunk age).
 */
export function compressionPolicySql(extensionSchema: string, threshold: 'interval' | 'integer' | 'created-before',
  type: TimeType): string {
  const argument = threshold === 'interval' ? 'compress_after => $2::interval'
    : threshold === 'integer' ? `compress_after => $2::${type}` : 'compress_created_before => $2::interval';
  return `SELECT ${quoteIdent(extensionSchema)}.add_compression_policy($1::regclass, ${argument}, if_not_exists => true)`;
}

export { sqlStringLiteral } from '../core/sql-literal.js';
