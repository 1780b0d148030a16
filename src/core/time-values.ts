/**
 * The one place that reads, checks and casts time values (completion points, --from, --until).
 *
 * A time value is always typed like its column: `2023-08-10T12:00:00Z` for timestamptz,
 * `1695036737000` for bigint. A timestamptz value must carry its offset (or --timezone must say
 * which zone it is in): we never let the session's time zone decide by accident. Values travel to
 * SQL as text parameters cast to the column's type (`$1::timestamptz`), never spliced in.
 */
import type { Client } from './db.js';
import { UsageError, isPgError } from './errors.js';

export const TIME_TYPES = ['timestamp with time zone', 'timestamp without time zone', 'date', 'bigint', 'integer',
  'smallint'] as const;
export type TimeType = (typeof TIME_TYPES)[number];

const ALIASES: Record<string, TimeType> = {
  timestamptz: 'timestamp with time zone',
  timestamp: 'timestamp without time zone',
  int8: 'bigint',
  int4: 'integer',
  int: 'integer',
  int2: 'smallint',
};

/** Map `format_type()` output (or a common alias) to a supported time type; undefined otherwise. */
export function toTimeType(formatted: string): TimeType | undefined {
  const base = formatted.trim().toLowerCase().replace(/\(\d+\)/, '');
  if ((TIME_TYPES as readonly string[]).includes(base)) return base as TimeType;
  return ALIASES[base];
}

/**
 * A column's time type. A domain over a time type counts as its base type: values, casts and
 * comparisons all work on the base type, and the target column gets the base type.
 */
export function columnTimeType(column: { type: string; baseType?: string }): TimeType | undefined {
  return toTimeType(column.baseType ?? column.type);
}

export function isIntegerTimeType(type: TimeType): boolean {
  return type === 'bigint' || type === 'integer' || type === 'smallint';
}

/** The SQL cast for a parameter of this type: `$1::timestamptz`. */
export function castParam(index: number, type: TimeType): string {
  return `$${index}::${type}`;
}

/** Short names for messages and file keys. */
export function shortTypeName(type: TimeType): string {
  switch (type) {
    case 'timestamp with time zone': return 'timestamptz';
    case 'timestamp without time zone': return 'timestamp';
    default: return type;
  }
}

const INTEGER_RANGES: Record<'bigint' | 'integer' | 'smallint', [bigint, bigint]> = {
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
  integer: [-(2n ** 31n), 2n ** 31n - 1n],
  smallint: [-(2n ** 15n), 2n ** 15n - 1n],
};

const DATE = String.raw`\d{4,}-\d{2}-\d{2}`;
const TIME = String.raw`\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?`;
const OFFSET = String.raw`(?:Z|z|[+-]\d{2}(?::?\d{2})?)`;
const TIMESTAMP_WITH_OFFSET = new RegExp(`^${DATE}[T ]${TIME}\\s*${OFFSET}$`);
const TIMESTAMP_NO_OFFSET = new RegExp(`^${DATE}(?:[T ]${TIME})?$`);
const DATE_ONLY = new RegExp(`^${DATE}$`);
const INFINITE = /^[+-]?infinity$/i;

export interface ParseOptions {
  /** IANA zone (e.g. Europe/Berlin) for timestamptz values written without an offset. */
  timezone?: string;
  /** What the value is, for messages: "--until", "the completion point", … */
  label?: string;
  /** Allow -infinity / infinity (a --from may be -infinity; a completion point may not). */
  allowInfinite?: boolean;
}

/** A checked time value, still as text; `timezone` is set when the zone came from --timezone. */
export interface TimeValue {
  type: TimeType;
  text: string;
  timezone?: string;
}

/** Check a value's form against the column type, before any database sees it. */
export function parseTimeValue(raw: string, type: TimeType, options: ParseOptions = {}): TimeValue {
  const text = raw.trim();
  const label = options.label ?? 'The time value';
  const bad = (why: string, example: string): never => {
    throw new UsageError(`${label} ${JSON.stringify(raw)} does not fit a ${shortTypeName(type)} column: ${why}.`, {
      hint: `Write it like ${example}.`,
    });
  };
  if (INFINITE.test(text) && !isIntegerTimeType(type)) {
    if (!options.allowInfinite) bad('an infinite value cannot be used here', exampleFor(type));
    // PostgreSQL reads `infinity` and `-infinity` but not `+infinity`.
    return { type, text: text.toLowerCase().replace(/^\+/, '') };
  }
  if (INFINITE.test(text)) {
    bad(`${type} has no infinity${options.allowInfinite ? ' (leave the lower bound out to start from the first row)' : ''}`,
      exampleFor(type));
  }
  switch (type) {
    case 'bigint':
    case 'integer':
    case 'smallint': {
      if (!/^[+-]?\d+$/.test(text)) bad('it is not a whole number', exampleFor(type));
      const value = BigInt(text);
      const [min, max] = INTEGER_RANGES[type];
      if (value < min || value > max) bad(`it is outside the ${type} range ${min}..${max}`, exampleFor(type));
      return { type, text: value.toString() };
    }
    case 'date':
      if (!DATE_ONLY.test(text)) bad('a date column takes a date without a time', exampleFor(type));
      return { type, text };
    case 'timestamp without time zone':
      if (TIMESTAMP_WITH_OFFSET.test(text)) {
        bad('the column has no time zone, so an offset would be silently ignored; drop it', exampleFor(type));
      }
      if (!TIMESTAMP_NO_OFFSET.test(text)) bad('it is not a timestamp', exampleFor(type));
      return { type, text };
    case 'timestamp with time zone':
      if (TIMESTAMP_WITH_OFFSET.test(text)) return { type, text };
      if (TIMESTAMP_NO_OFFSET.test(text)) {
        if (options.timezone) return { type, text, timezone: options.timezone };
        bad('it has no time-zone offset, and we never guess one from the session', `${exampleFor(type)} (or pass --timezone Europe/Berlin)`);
      }
      return bad('it is not a timestamp', exampleFor(type));
  }
}

export function exampleFor(type: TimeType): string {
  switch (type) {
    case 'timestamp with time zone': return '2023-08-10T12:00:00Z or 2023-08-10 14:00:00+02:00';
    case 'timestamp without time zone': return '2023-08-10T12:00:00';
    case 'date': return '2023-08-10';
    case 'bigint': return '1695036737000';
    case 'integer': return '1695036737';
    case 'smallint': return '2023';
  }
}

/**
 * Let PostgreSQL have the final word (month 13, 24:61, Feb 30, unknown zone) and return its
 * canonical text in UTC, which is what we store and compare.
 */
export async function normalizeTimeValue(client: Client, value: TimeValue, label = 'The time value'): Promise<string> {
  if (isIntegerTimeType(value.type)) return value.text;
  // Render timestamptz in UTC explicitly rather than trusting the session's TimeZone: `SET LOCAL`
  // outside a transaction is a no-op (with a WARNING), and inside the caller's transaction it would
  // change their zone behind their back. `(v AT TIME ZONE 'UTC')::text || '+00'` is exactly what a
  // UTC session prints for a finite value.
  const source = value.timezone ? `(($1::timestamp) AT TIME ZONE $2)` : `($1::${value.type})`;
  const sql = value.type === 'timestamp with time zone'
    ? `SELECT CASE WHEN isfinite(v) THEN (v AT TIME ZONE 'UTC')::text || '+00' ELSE v::text END AS v FROM (SELECT ${source} AS v) s`
    : `SELECT (${source})::text AS v`;
  try {
    const { rows } = await client.query<{ v: string }>(sql, value.timezone ? [value.text, value.timezone] : [value.text]);
    return rows[0]?.v as string;
  } catch (error) {
    if (isPgError(error) && /^22/.test(error.code ?? '')) {
      throw new UsageError(`${label} ${JSON.stringify(value.text)} is not a valid ${shortTypeName(value.type)}: ${error.message}.`, {
        hint: `Write it like ${exampleFor(value.type)}${value.timezone ? ' and check the --timezone name (e.g. Europe/Berlin)' : ''}.`,
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * A normalized time value as an SQL literal with an explicit cast: `'2024-01-01 00:00:00+00'::timestamp with time zone`.
 * Only for statements that cannot take parameters (COPY (SELECT …) TO STDOUT). Values reaching it were
 * normalized by PostgreSQL; quotes are doubled anyway, and a backslash switches to an E'' literal with
 * backslashes doubled, so the literal is safe whatever standard_conforming_strings says.
 */
export function timeLiteral(text: string, type: TimeType): string {
  if (text.includes('\0')) throw new UsageError('A time value cannot contain a NUL character.');
  if (!(TIME_TYPES as readonly string[]).includes(type)) throw new Error(`Not a time type: ${String(type)}`);
  const quoted = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${quoted.replace(/\\/g, '\\\\')}'::${type}` : `'${quoted}'::${type}`;
}
