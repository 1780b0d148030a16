/**
 * Chunk intervals: suggest one from a table's rate of rows, and check one a user typed.
 *
 * The aim is chunks of about TARGET_CHUNK_ROWS rows or TARGET_CHUNK_BYTES bytes, whichever is
 * reached first, rounded down to a readable value (1 hour, 1 day, 7 days, 30 days) so that recent
 * chunks and their indexes stay comfortably in memory. Integer time columns get an integer interval
 * in the column's own units; when the values look like Unix epoch seconds/ms/µs/ns we say so and
 * use readable durations in those units.
 */
import { UsageError } from './errors.js';
import { isIntegerTimeType, shortTypeName, type TimeType } from './time-values.js';

export const TARGET_CHUNK_ROWS = 10_000_000;
export const TARGET_CHUNK_BYTES = 1024 ** 3;
/** TimescaleDB's own default for time columns. */
export const DEFAULT_TIME_INTERVAL = '7 days';

const READABLE: [seconds: number, text: string][] = [
  [3600, '1 hour'], [86400, '1 day'], [7 * 86400, '7 days'], [30 * 86400, '30 days'],
];

export type EpochUnit = 'seconds' | 'milliseconds' | 'microseconds' | 'nanoseconds';
const UNITS_PER_SECOND: Record<EpochUnit, number> = { seconds: 1, milliseconds: 1e3, microseconds: 1e6, nanoseconds: 1e9 };
// Values from 1973 on (1e8 s) up to far in the future, per unit.
const EPOCH_RANGES: [EpochUnit, number, number][] = [
  ['nanoseconds', 1e17, 1e20], ['microseconds', 1e14, 1e17], ['milliseconds', 1e11, 1e14], ['seconds', 1e8, 1e11],
];

const INTEGER_MAX: Record<'bigint' | 'integer' | 'smallint', number> = {
  bigint: Number.MAX_SAFE_INTEGER, integer: 2 ** 31 - 1, smallint: 2 ** 15 - 1,
};

/** The epoch unit integer values look like (both ends in the same plausible range), if any. */
export function detectEpochUnit(min: number, max: number): EpochUnit | undefined {
  for (const [unit, low, high] of EPOCH_RANGES) {
    if (min >= low && max < high && max >= low) return unit;
  }
  return undefined;
}

export interface IntervalInput {
  type: TimeType;
  /** Epoch seconds for timestamp/date columns, raw values for integer columns; undefined = unknown. */
  min?: number;
  max?: number;
  rows: number;
  bytes: number;
}

export interface SuggestedInterval {
  /** `7 days`, or integer text for integer columns. */
  value: string;
  reason: string;
}

function pickReadable(idealSeconds: number): [number, string] {
  let pick = READABLE[0] as [number, string];
  for (const entry of READABLE) if (entry[0] <= idealSeconds) pick = entry;
  return pick;
}

function formatCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : `${Math.round(n)}`;
}

function formatSpan(seconds: number): string {
  if (seconds >= 86400) return `${(seconds / 86400).toFixed(1)} days`;
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} hours`;
  return `${Math.round(seconds)} seconds`;
}

/** Round down to 1, 2 or 5 × 10^k (at least 1). */
export function roundDownNice(value: number): number {
  if (value < 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const lead = value / power;
  return (lead >= 5 ? 5 : lead >= 2 ? 2 : 1) * power;
}

/** A chunk interval for a table, or undefined for an integer column whose units we cannot tell. */
export function suggestChunkInterval(input: IntervalInput): SuggestedInterval | undefined {
  const integer = isIntegerTimeType(input.type);
  const unit = integer && input.min !== undefined && input.max !== undefined
    ? detectEpochUnit(input.min, input.max) : undefined;
  const perSecond = integer ? (unit ? UNITS_PER_SECOND[unit] : undefined) : 1;
  const unitNote = unit ? `${shortTypeName(input.type)} values look like Unix epoch ${unit} (by magnitude); ` : '';
  const span = input.min !== undefined && input.max !== undefined ? input.max - input.min : 0;
  if (input.rows <= 0 || span <= 0) {
    if (perSecond === undefined) return undefined;
    const value = integer ? String(7 * 86400 * perSecond) : DEFAULT_TIME_INTERVAL;
    return { value, reason: `${unitNote}too little data to size chunks from; TimescaleDB's default of 7 days` };
  }
  const bytesPerRow = input.bytes > 0 ? input.bytes / input.rows : 0;
  const targetRows = Math.max(1, Math.min(TARGET_CHUNK_ROWS, bytesPerRow > 0 ? TARGET_CHUNK_BYTES / bytesPerRow : TARGET_CHUNK_ROWS));
  const rowsPerUnit = input.rows / span;
  const ideal = targetRows / rowsPerUnit;
  const aim = `aiming at chunks of at most ~${formatCount(targetRows)} rows / ~1 GB`;
  if (perSecond === undefined) {
    const max = INTEGER_MAX[input.type as 'bigint' | 'integer' | 'smallint'];
    const value = Math.min(roundDownNice(ideal), max);
    return {
      value: String(value),
      reason: `${shortTypeName(input.type)} values are not epoch-like, so the interval is in the column's own units: ` +
        `~${formatCount(input.rows)} rows over a span of ${formatCount(span)} units, ${aim}`,
    };
  }
  const idealSeconds = ideal / perSecond;
  const [seconds, text] = pickReadable(idealSeconds);
  const perDay = (input.rows / (span / perSecond)) * 86400;
  const rate = `~${formatCount(perDay)} rows/day (${formatCount(input.rows)} rows over ${formatSpan(span / perSecond)})`;
  const capped = idealSeconds >= READABLE[READABLE.length - 1]![0] ? ' (the largest we suggest)' : '';
  const floored = idealSeconds < 3600 ? ' (the smallest we suggest; consider a smaller one)' : '';
  if (!integer) return { value: text, reason: `${rate}, ${aim}: ${text}${capped}${floored}` };
  const max = INTEGER_MAX[input.type as 'bigint' | 'integer' | 'smallint'];
  const value = Math.min(seconds * (perSecond as number), max);
  return { value: String(value), reason: `${unitNote}${rate}, ${aim}: ${text} = ${value}${capped}${floored}` };
}

/**
 * Check a --chunk-interval for a column type. Integer columns take a positive whole number in the
 * column's units; time columns take an interval with a unit (a bare number would be read as seconds
 * by PostgreSQL but as microseconds by old TimescaleDB APIs, so we refuse it). Final interval
 * syntax checks are left to PostgreSQL (`$1::interval`).
 */
export function checkChunkInterval(text: string, type: TimeType, column: string): string {
  const value = text.trim();
  if (isIntegerTimeType(type)) {
    if (!/^\+?\d+$/.test(value) || BigInt(value) <= 0n) {
      throw new UsageError(`The chunk interval ${JSON.stringify(text)} does not fit the ${shortTypeName(type)} time column ` +
        `${JSON.stringify(column)}: an integer time column needs a positive whole number in the column's units.`, {
        hint: 'E.g. --chunk-interval 86400000 for one day of epoch milliseconds, 86400 for epoch seconds.',
      });
    }
    const max = INTEGER_MAX[type as 'bigint' | 'integer' | 'smallint'];
    if (BigInt(value) > BigInt(max)) {
      throw new UsageError(`The chunk interval ${value} is too large for the ${type} column ${JSON.stringify(column)} (max ${max}).`);
    }
    return BigInt(value).toString();
  }
  if (/^[+-]?\d+(\.\d+)?$/.test(value)) {
    throw new UsageError(`The chunk interval ${JSON.stringify(text)} has no unit, but ${JSON.stringify(column)} is a ` +
      `${shortTypeName(type)} column.`, { hint: `Write it with a unit, e.g. --chunk-interval '1 day' or '7 days'.` });
  }
  return value;
}
