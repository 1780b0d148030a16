/**
 * Conversions between a time column's values (as PostgreSQL text) and the integer axis grid.ts
 * computes on. PostgreSQL does the calendar arithmetic; we only ever add and compare integers.
 * The expressions are exact on every server version (no float epoch round-trips).
 */
import type { Client } from '../../core/db.js';
import { UsageError } from '../../core/errors.js';
import { isIntegerTimeType, shortTypeName, type TimeType } from '../../core/time-values.js';

export type AxisKind = 'micros' | 'days' | 'integer';

export function axisKind(type: TimeType): AxisKind {
  if (isIntegerTimeType(type)) return 'integer';
  return type === 'date' ? 'days' : 'micros';
}

/** SQL turning the expression `x` (of the column's type, finite) into its axis position (bigint). */
export function toAxisSql(x: string, type: TimeType): string {
  switch (axisKind(type)) {
    case 'integer': return `(${x})::bigint`;
    case 'days': return `((${x}) - date '1970-01-01')::bigint`;
    case 'micros':
      return `(floor(extract(epoch from date_trunc('second', ${x})))::bigint * 1000000 + ` +
        `(extract(microseconds from ${x})::bigint % 1000000))`;
  }
}

/** SQL turning the bigint expression `n` back into the column type's text. */
export function fromAxisSql(n: string, type: TimeType): string {
  switch (axisKind(type)) {
    case 'integer': return `(${n})::${type}::text`;
    case 'days': return `(date '1970-01-01' + (${n})::int)::text`;
    case 'micros': {
      const epoch = type === 'timestamp with time zone' ? "timestamptz '1970-01-01 00:00:00+00'" : "timestamp '1970-01-01 00:00:00'";
      // Whole days, then the remaining microseconds (< 2^37): both products are exact. Sessions run in
      // UTC (db.ts), so adding days to a timestamptz never meets a DST jump.
      return `(${epoch} + ((${n}) / 86400000000)::int * interval '1 day' + ` +
        `((${n}) % 86400000000)::float8 * interval '1 microsecond')::text`;
    }
  }
}

/** The value below every row: `-infinity` for time types, the type's minimum for integer types. */
export function lowestValue(type: TimeType): string {
  switch (type) {
    case 'bigint': return '-9223372036854775808';
    case 'integer': return '-2147483648';
    case 'smallint': return '-32768';
    default: return '-infinity';
  }
}

/** The value above every row: `infinity` for time types, the type's maximum for integer types. */
export function highestValue(type: TimeType): string {
  switch (type) {
    case 'bigint': return '9223372036854775807';
    case 'integer': return '2147483647';
    case 'smallint': return '32767';
    default: return 'infinity';
  }
}

export function isInfinite(text: string): boolean {
  return /^[+-]?infinity$/i.test(text.trim());
}

/** Axis positions of finite values (text); undefined for ±infinity. */
export async function toAxis(client: Client, values: string[], type: TimeType): Promise<(bigint | undefined)[]> {
  if (values.length === 0) return [];
  const finite = values.filter((v) => !isInfinite(v));
  const { rows } = finite.length === 0 ? { rows: [] } : await client.query<{ v: string; a: string }>(
    `SELECT v, ${toAxisSql(`v::${type}`, type)}::text AS a FROM unnest($1::text[]) v`, [finite]);
  const map = new Map(rows.map((r) => [r.v, BigInt(r.a)]));
  return values.map((v) => map.get(v));
}

/** Text of axis positions, in order. */
export async function fromAxis(client: Client, positions: bigint[], type: TimeType): Promise<string[]> {
  if (positions.length === 0) return [];
  const { rows } = await client.query<{ t: string }>(
    `SELECT ${fromAxisSql('n', type)} AS t FROM unnest($1::bigint[]) WITH ORDINALITY u(n, i) ORDER BY i`,
    [positions.map(String)]);
  return rows.map((r) => r.t);
}

/** A --slice width (interval for time types, whole number for integer types) on the axis. */
export async function sliceWidth(client: Client, text: string, type: TimeType): Promise<bigint> {
  const kind = axisKind(type);
  const bad = (why: string): never => {
    throw new UsageError(`--slice ${JSON.stringify(text)} does not fit a ${shortTypeName(type)} time column: ${why}.`, {
      hint: `${kind === 'integer' ? 'Give a positive whole number, e.g. --slice 86400000' : "Give an interval, e.g. --slice '1 day' or --slice '6 hours'"}; ` +
        'tables with different time-column types take their own: --slice schema.table=WIDTH.',
    });
  };
  if (kind === 'integer') {
    if (!/^\s*\+?\d+\s*$/.test(text) || BigInt(text.trim()) <= 0n) bad('it is not a positive whole number');
    return BigInt(text.trim());
  }
  let micros: bigint;
  try {
    const { rows } = await client.query<{ us: string }>(
      `SELECT round(extract(epoch from $1::interval) * 1000000)::bigint::text AS us`, [text]);
    micros = BigInt(rows[0]?.us ?? '0');
  } catch (error) {
    return bad(`it is not an interval (${(error as Error).message})`);
  }
  if (micros <= 0n) bad('it must be positive');
  return kind === 'days' ? (micros + 86_400_000_000n - 1n) / 86_400_000_000n : micros;
}

/** A chunk interval as reported by the catalog ('7 days', or integer text) on the axis. */
export async function intervalOnAxis(client: Client, interval: string, type: TimeType): Promise<bigint | undefined> {
  try {
    return await sliceWidth(client, interval, type);
  } catch {
    return undefined;
  }
}
