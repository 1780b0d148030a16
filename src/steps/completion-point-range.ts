/**
 * The consistency range of one table and a readable T inside it, computed in SQL on the target
 * (its clock is the one dual-writes stamp against; no JavaScript Date touches a value).
 *
 *   lower = earliest dual-written row + margin   (every writer is dual-writing by then)
 *   upper = now - lateness                       (late rows below T have arrived by then)
 *
 * T is `lower` rounded UP to the next full hour, else minute, else second, whichever still fits.
 * Integer time columns work the same once we know their units (epoch s/ms/µs/ns, by magnitude).
 */
import type { Client } from '../core/db.js';
import { castParam, isIntegerTimeType, type TimeType } from '../core/time-values.js';

export type EpochUnit = 'seconds' | 'milliseconds' | 'microseconds' | 'nanoseconds';
export const UNIT_FACTORS: Record<EpochUnit, bigint> = {
  seconds: 1n, milliseconds: 1000n, microseconds: 1_000_000n, nanoseconds: 1_000_000_000n,
};

const Y2000 = 946_684_800n;

/**
 * Guess the epoch unit of integer time values from their magnitude: every value must read as a time
 * between 2000-01-01 and a year from now in exactly one unit. Undefined when none fits (a counter,
 * a sequence, days since something): then the operator must choose T with --until.
 */
export function detectEpochUnit(values: (string | null | undefined)[], nowEpochSeconds: bigint): EpochUnit | undefined {
  const present = values.filter((v): v is string => typeof v === 'string' && /^-?\d+$/.test(v)).map((v) => BigInt(v));
  if (present.length === 0) return undefined;
  const latest = nowEpochSeconds + 366n * 86_400n;
  const fits = (Object.keys(UNIT_FACTORS) as EpochUnit[]).filter((unit) => {
    const factor = UNIT_FACTORS[unit];
    return present.every((v) => v >= Y2000 * factor && v <= latest * factor);
  });
  return fits.length === 1 ? fits[0] : undefined;
}

export interface RangeInput {
  type: TimeType;
  /** min(time column) on the target, as text. */
  earliest: string;
  margin: string;
  lateness: string;
  /** For timestamp-without-zone and date columns: the zone their values are in (default UTC). */
  timezone?: string;
  /** For integer columns. */
  unit?: EpochUnit;
}

export interface RangeFacts {
  /** earliest + margin */
  lower: string;
  /** now - lateness */
  upper: string;
  open: boolean;
  /** When `upper` reaches `lower` (a timestamptz, for people). */
  opensAt: string;
  /** The suggested T when the range is open. */
  suggested?: string;
  /** For integer columns: lower/upper/suggested read as timestamps, to explain them. */
  readable?: { lower: string; upper: string; suggested?: string };
}

/** `now()` as the column sees it: timestamp and date columns hold wall-clock time in `zone`. */
function nowExpression(type: TimeType, zoneParam: string): string {
  if (type === 'timestamp with time zone') return 'now()';
  return `(now() AT TIME ZONE ${zoneParam})`;
}

export async function consistencyRange(client: Client, input: RangeInput): Promise<RangeFacts> {
  if (isIntegerTimeType(input.type)) return integerRange(client, input);
  // $1 earliest, $2 margin, $3 lateness, $4 zone. A date T is a midnight: the lower bound rounds up to a day.
  const ceil = (unit: string, x: string): string =>
    `(date_trunc('${unit}', ${x}) + CASE WHEN date_trunc('${unit}', ${x}) = ${x} THEN interval '0' ELSE interval '1 ${unit}' END)`;
  const isDate = input.type === 'date';
  const lo = isDate ? ceil('day', '($1::date::timestamp + $2::interval)') : `${castParam(1, input.type)} + $2::interval`;
  const pick = isDate ? 'WHEN lo <= hi THEN lo'
    : ['hour', 'minute', 'second'].map((u) => `WHEN ${ceil(u, 'lo')} <= hi THEN ${ceil(u, 'lo')}`).join(' ');
  const asText = (x: string): string => isDate ? `(${x})::date::text` : `(${x})::text`;
  // For the operator, "opens at" is a moment: lower + lateness, read in the column's zone.
  const moment = input.type === 'timestamp with time zone' ? 'lo' : '(lo AT TIME ZONE $4::text)';
  const { rows } = await client.query<{ lower: string; upper: string; open: boolean; opens_at: string; suggested: string | null }>(
    `WITH b AS (SELECT ${lo} AS lo, ${nowExpression(input.type, '$4::text')} - $3::interval AS hi)
     SELECT ${asText('lo')} AS lower, ${asText(isDate ? "date_trunc('day', hi)" : 'hi')} AS upper, lo <= hi AS open,
            (${moment} + $3::interval)::text AS opens_at,
            ${asText(`CASE ${pick} END`)} AS suggested
       FROM b`,
    // $4 only appears for zone-less columns; an unreferenced parameter would be an error.
    [input.earliest, input.margin, input.lateness, ...(input.type === 'timestamp with time zone' ? [] : [input.timezone ?? 'UTC'])]);
  const row = rows[0] as (typeof rows)[number];
  const facts: RangeFacts = { lower: row.lower, upper: row.upper, open: row.open, opensAt: row.opens_at };
  if (row.open && row.suggested !== null) facts.suggested = row.suggested;
  return facts;
}

async function integerRange(client: Client, input: RangeInput): Promise<RangeFacts> {
  const factor = UNIT_FACTORS[input.unit ?? 'seconds'].toString();
  // $1 earliest, $2 factor, $3 margin, $4 lateness: all arithmetic in numeric, so nothing overflows or rounds.
  const { rows } = await client.query<{ lower: string; upper: string; open: boolean; opens_at: string;
    suggested: string | null; lower_ts: string; upper_ts: string; suggested_ts: string | null }>(
    `WITH p AS (SELECT $1::numeric AS e, $2::numeric AS f,
                       extract(epoch FROM $3::interval)::numeric AS m, extract(epoch FROM $4::interval)::numeric AS l),
          b AS (SELECT e + ceil(m * f) AS lo, floor(extract(epoch FROM now())::numeric * f) - ceil(l * f) AS hi, f, l FROM p),
          s AS (SELECT lo, hi, f, l, CASE
                  WHEN ceil(lo / (3600 * f)) * 3600 * f <= hi THEN ceil(lo / (3600 * f)) * 3600 * f
                  WHEN ceil(lo / (60 * f)) * 60 * f <= hi THEN ceil(lo / (60 * f)) * 60 * f
                  WHEN ceil(lo / f) * f <= hi THEN ceil(lo / f) * f
                  ELSE lo END AS t FROM b)
     SELECT lo::text AS lower, hi::text AS upper, lo <= hi AS open,
            (to_timestamp((lo / f)::float8) + make_interval(secs => l::float8))::text AS opens_at,
            CASE WHEN lo <= hi THEN t::text END AS suggested,
            to_timestamp((lo / f)::float8)::text AS lower_ts, to_timestamp((hi / f)::float8)::text AS upper_ts,
            CASE WHEN lo <= hi THEN to_timestamp((t / f)::float8)::text END AS suggested_ts
       FROM s`,
    [input.earliest, factor, input.margin, input.lateness]);
  const row = rows[0] as (typeof rows)[number];
  const facts: RangeFacts = {
    lower: row.lower, upper: row.upper, open: row.open, opensAt: row.opens_at,
    readable: { lower: row.lower_ts, upper: row.upper_ts, ...(row.suggested_ts ? { suggested: row.suggested_ts } : {}) },
  };
  if (row.suggested !== null) facts.suggested = row.suggested;
  return facts;
}

/** now() in whole epoch seconds, from the target's clock. */
export async function epochSecondsNow(client: Client): Promise<bigint> {
  const { rows } = await client.query<{ s: string }>('SELECT floor(extract(epoch FROM now()))::int8::text AS s');
  return BigInt(rows[0]?.s ?? '0');
}
