/**
 * Per-slice row counts and content checksums, computed inside each database in one pass.
 *
 * A row's fingerprint is md5 of its text, `ROW(c1, c2, …)::text`, over the columns both sides
 * share, matched by name and listed in one fixed order (so the physical column order does not
 * matter). The slice checksum is two independent 64-bit sums of the fingerprints (md5 bytes 1-8 and
 * 9-16) plus the count: order-independent, and a changed value in one row changes both sums.
 * Sums are numeric, so they never overflow.
 *
 * Text output depends on session settings (TimeZone, DateStyle, float digits, bytea format,
 * money locale): pinSessionFormats() fixes all of them on both sides before we hash.
 */
import type { Client } from '../core/db.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { castParam, isIntegerTimeType, type TimeType } from '../core/time-values.js';
import { highestValue } from './backfill/axis.js';
import type { ColumnInfo } from '../core/catalog.js';

export interface HashColumns {
  /** The shared columns, sorted by name: the fixed order both sides hash in. */
  names: string[];
  /**
   * Columns whose type differs between the sides, and how they are made comparable: cast on one
   * side to the other's type. By default the target's value goes to the source type;
   * castTowardsTarget() turns that round where the source has the target's type (the way the
   * backfill converted them: json → jsonb normalizes, and jsonb → json would not restore the text).
   */
  casts: Map<string, { side: 'source' | 'target'; type: string }>;
  onlyOnSource: string[];
  onlyOnTarget: string[];
}

export function hashColumns(source: ColumnInfo[], target: ColumnInfo[]): HashColumns {
  const targetByName = new Map(target.map((c) => [c.name, c]));
  const sourceNames = new Set(source.map((c) => c.name));
  const names = source.filter((c) => targetByName.has(c.name)).map((c) => c.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const casts = new Map<string, { side: 'source' | 'target'; type: string }>();
  // A domain prints like its base type, so a domain column on one side and its base type on the other need no cast.
  const printedAs = (c: ColumnInfo): string => c.baseType ?? c.type;
  for (const column of source) {
    const other = targetByName.get(column.name);
    if (other && printedAs(other) !== printedAs(column)) casts.set(column.name, { side: 'target', type: column.type });
  }
  return {
    names, casts,
    onlyOnSource: source.filter((c) => !targetByName.has(c.name)).map((c) => c.name),
    onlyOnTarget: target.filter((c) => !sourceNames.has(c.name)).map((c) => c.name),
  };
}

/**
 * Cast towards the target's type wherever the source knows that type (to_regtype on the source), so
 * both sides print values as the target stores them; a type only the target has (an enum made for
 * it, say) keeps the default, the target's value cast to the source type.
 */
export async function castTowardsTarget(source: Client, columns: HashColumns, target: ColumnInfo[]): Promise<void> {
  for (const [name, cast] of columns.casts) {
    const targetType = target.find((c) => c.name === name)?.type;
    if (!targetType) continue;
    const { rows } = await source.query<{ ok: boolean }>('SELECT to_regtype($1) IS NOT NULL AS ok', [targetType]);
    if (rows[0]?.ok) columns.casts.set(name, { side: 'source', type: targetType });
    else columns.casts.set(name, cast);
  }
}

/** Every setting that changes how values print; UTC is also set by connect(), but say it here too. */
export async function pinSessionFormats(client: Client): Promise<void> {
  await client.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
    SET extra_float_digits = 1; SET bytea_output = 'hex'; SET lc_monetary = 'C'`);
}

export interface SliceFigures {
  rows: number;
  /** Sum of md5 bytes 1-8 (as signed 64-bit integers), numeric text. */
  sum1: string;
  /** Sum of md5 bytes 9-16, numeric text. */
  sum2: string;
}

export interface ChecksumQuery {
  table: QualifiedName;
  column: string;
  type: TimeType;
  from: string;
  until: string;
  /** Inner slice edges, ascending, strictly between from and until. */
  edges: string[];
  columns: HashColumns;
  side: 'source' | 'target';
}

/** One row's hash input: the shared columns, cast on the target where the types differ. */
export function rowHashInput(q: Pick<ChecksumQuery, 'columns' | 'side'>): string {
  const values = q.columns.names.map((name) => {
    const cast = q.columns.casts.get(name);
    return cast?.side === q.side ? `${quoteIdent(name)}::${cast.type}` : quoteIdent(name);
  });
  return `ROW(${values.join(', ')})::text`;
}

const SUMS = `count(*)::int8 AS rows,
       coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::int8::numeric), 0)::text AS sum1,
       coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::int8::numeric), 0)::text AS sum2`;

/** The SQL and parameters; exported for --dry-run and tests. */
export function checksumSql(q: ChecksumQuery): { sql: string; params: unknown[] } {
  const col = quoteIdent(q.column);
  // width_bucket(v, [e1, …, until]) is 0 below e1, i for e_i <= v < e_(i+1): the slice index.
  const sql = `SELECT width_bucket(${col}, $3::${q.type}[]) AS slice, count(*)::int8 AS rows,
       sum(('x' || substr(h, 1, 16))::bit(64)::int8::numeric)::text AS sum1,
       sum(('x' || substr(h, 17, 16))::bit(64)::int8::numeric)::text AS sum2
  FROM (SELECT ${col}, md5(${rowHashInput(q)}) AS h FROM ${quoteQualified(q.table)}
         WHERE ${col} >= ${castParam(1, q.type)} AND ${col} < ${castParam(2, q.type)}) r
 GROUP BY 1`;
  return { sql, params: [q.from, q.until, [...q.edges, q.until]] };
}

/** Figures per slice index (0 … edges.length); slices without rows are absent. */
export async function sliceChecksums(client: Client, q: ChecksumQuery): Promise<Map<number, SliceFigures>> {
  const { sql, params } = checksumSql(q);
  try {
    const { rows } = await client.query<{ slice: number; rows: string; sum1: string; sum2: string }>(sql, params);
    return new Map(rows.map((r) => [Number(r.slice), { rows: Number(r.rows), sum1: r.sum1, sum2: r.sum2 }]));
  } catch (error) {
    if (error instanceof Error) error.message = `checksums of ${displayName(q.table)} on the ${q.side}: ${error.message}`;
    throw error;
  }
}

/**
 * Rows outside every slice (time-edge-rows.ts): a NULL time, or +infinity. Counted and checksummed
 * like a slice, so a source row of either kind that the target lacks is a difference, not a "match".
 */
export type EdgeSet = 'null' | 'infinity';

export async function edgeChecksum(client: Client, q: Pick<ChecksumQuery, 'table' | 'column' | 'columns' | 'side' | 'type'>,
  edge: EdgeSet): Promise<SliceFigures> {
  const col = quoteIdent(q.column);
  // For integer columns "infinity" is the type's maximum: the window's last slice stops just below it.
  const top = highestValue(q.type);
  const where = edge === 'null' ? `${col} IS NULL` : `${col} = ${isIntegerTimeType(q.type) ? top : `'${top}'`}`;
  return figuresOf(client, quoteQualified(q.table), q, where);
}

/**
 * A whole table's figures (plain tables, validate-plain.ts): one pass inside the database, only the
 * sums come back. `only`: the table's own rows, not its inheritance children's (listed on their own).
 */
/** `filter`: a condition on the rows (with its parameters), for rows left out on purpose. */
export function tableChecksum(client: Client, q: Pick<ChecksumQuery, 'table' | 'columns' | 'side'>, only: boolean,
  filter: { where: string; params: unknown[] } = { where: 'true', params: [] }): Promise<SliceFigures> {
  return figuresOf(client, `${only ? 'ONLY ' : ''}${quoteQualified(q.table)}`, q, filter.where, filter.params);
}

async function figuresOf(client: Client, from: string, q: Pick<ChecksumQuery, 'columns' | 'side'>, where: string, params: unknown[] = []):
  Promise<SliceFigures> {
  const { rows } = await client.query<{ rows: string; sum1: string; sum2: string }>(
    `SELECT ${SUMS} FROM (SELECT md5(${rowHashInput(q)}) AS h FROM ${from} WHERE ${where}) r`, params);
  const row = rows[0];
  return { rows: Number(row?.rows ?? 0), sum1: row?.sum1 ?? '0', sum2: row?.sum2 ?? '0' };
}

/** What the shared-column comparison leaves out or converts, for the report. */
export function columnWarnings(columns: HashColumns): string[] {
  const warnings: string[] = [];
  if (columns.onlyOnSource.length > 0) warnings.push(`not compared, only on the source: ${columns.onlyOnSource.join(', ')}`);
  if (columns.onlyOnTarget.length > 0) warnings.push(`not compared, only on the target: ${columns.onlyOnTarget.join(', ')}`);
  for (const [name, cast] of columns.casts) {
    warnings.push(`${name} differs in type; the ${cast.side}'s values are cast to ${cast.type} to compare them`);
  }
  return warnings;
}

export const EMPTY_SLICE: SliceFigures = { rows: 0, sum1: '0', sum2: '0' };

export function sameFigures(a: SliceFigures, b: SliceFigures): boolean {
  return a.rows === b.rows && a.sum1 === b.sum1 && a.sum2 === b.sum2;
}
