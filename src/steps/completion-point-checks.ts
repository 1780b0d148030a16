/**
 * Checks on a completion point the operator chose, all compared in SQL on the target, typed like
 * the column. Problems block recording; warnings are shown with the recorded value.
 */
import type { Client } from '../core/db.js';
import { castParam, isIntegerTimeType, type TimeType } from '../core/time-values.js';
import { UNIT_FACTORS, type EpochUnit } from './completion-point-range.js';

export interface UntilCheckInput {
  type: TimeType;
  /** The normalized T. */
  until: string;
  /** min(time) on the target. */
  earliest: string;
  margin: string;
  lateness: string;
  timezone?: string;
  unit?: EpochUnit;
  /**
   * T may equal `earliest` (it is a completion point recorded earlier, not a row). For a row, T must
   * lie after it: rows at that very value (a date, a whole second) may predate dual-writes.
   */
  earliestIsPoint?: boolean;
  /** max(time) on the target: where "now" cannot be placed on the column, T must not lie beyond it. */
  latest?: string | null;
  /** The zone of a zone-less column's values was given (--timezone), so "now" is placed for sure. */
  zoneKnown?: boolean;
}

export interface UntilCheck {
  problems: string[];
  warnings: string[];
}

interface Flags {
  before_earliest: boolean;
  at_earliest: boolean;
  within_margin: boolean;
  future: boolean | null;
  within_lateness: boolean | null;
  now: string | null;
}

export async function checkUntil(client: Client, input: UntilCheckInput): Promise<UntilCheck> {
  const flags = isIntegerTimeType(input.type) ? await integerFlags(client, input) : await timeFlags(client, input);
  const problems: string[] = [];
  const warnings: string[] = [];
  if (flags.before_earliest || (flags.at_earliest && !input.earliestIsPoint)) {
    problems.push(input.earliestIsPoint
      ? `${input.until} is before the completion point this table was backfilled to (${input.earliest}), and where ` +
        'dual-writes began was not recorded (an older ledger): rows in between could be in neither range. ' +
        `Choose a T at or after ${input.earliest}.`
      : `${input.until} is ${flags.at_earliest ? 'at' : 'before'} the first dual-written row on the target (${input.earliest}). ` +
        `The backfill copies only rows < ${input.until} and dual-writes only began at ${input.earliest}, so rows in between ` +
        `${flags.at_earliest ? '(rows at that very value written before dual-writes began) ' : ''}would be in neither range ` +
        'and missing from the target. Choose a T after the first dual-written row.');
  } else if (flags.within_margin) {
    warnings.push(`T is less than the margin (${input.margin}) after the first dual-written row (${input.earliest}): ` +
      'if some writers started dual-writing later than others, their rows just below T could be missing.');
  }
  if (flags.future) {
    problems.push(`${input.until} is in the future (now is ${flags.now}). Rows after now are not written yet, so ` +
      'the backfill would have to copy rows that are still arriving; choose a T in the past.');
  } else if (flags.within_lateness) {
    warnings.push(`T is within the lateness window (${input.lateness}) before now: late rows with time < T may still ` +
      'arrive; they are dual-written, but watch for them when you validate.');
  }
  // Where "now" cannot be placed for sure (integer units unknown; a zone-less column without
  // --timezone), the newest dual-written row stands in for it: a T beyond every row written so far
  // may be in the future, and rows still being written would arrive twice.
  const nowUncertain = flags.future === null || (!isIntegerTimeType(input.type) && input.type !== 'timestamp with time zone' && !input.zoneKnown);
  if (nowUncertain && !flags.future && input.latest != null && (await beyond(client, input.type, input.until, input.latest))) {
    problems.push(`${input.until} lies after every dual-written row on the target (the newest is ${input.latest}), and ` +
      (flags.future === null ? 'the units of this integer column are unknown' : 'no --timezone says which zone its values are in') +
      ', so T cannot be told from a time in the future. Choose a T at or before the newest dual-written row' +
      `${flags.future === null ? '' : ', or give --timezone'}.`);
  } else if (flags.future === null) {
    warnings.push('The units of this integer column are unknown, so T was compared with the newest dual-written row, not the current time.');
  }
  return { problems, warnings };
}

async function timeFlags(client: Client, input: UntilCheckInput): Promise<Flags> {
  const t = castParam(1, input.type);
  const earliest = castParam(2, input.type);
  // Zone-less columns hold wall-clock time; "now" is read in the zone they were written in.
  const now = input.type === 'timestamp with time zone' ? 'now()'
    : input.type === 'date' ? '(now() AT TIME ZONE $5::text)::date' : '(now() AT TIME ZONE $5::text)';
  const asTimestamp = (x: string): string => (input.type === 'date' ? `${x}::timestamp` : x);
  const { rows } = await client.query<Flags>(
    `SELECT ${t} < ${earliest} AS before_earliest, ${t} = ${earliest} AS at_earliest,
            ${asTimestamp(t)} < ${asTimestamp(earliest)} + $3::interval AS within_margin,
            ${t} > ${now} AS future,
            ${asTimestamp(t)} > ${asTimestamp(now)} - $4::interval AS within_lateness,
            ${now}::text AS now`,
    [input.until, input.earliest, input.margin, input.lateness,
      ...(input.type === 'timestamp with time zone' ? [] : [input.timezone ?? 'UTC'])]);
  return rows[0] as Flags;
}

async function integerFlags(client: Client, input: UntilCheckInput): Promise<Flags> {
  const factor = input.unit ? UNIT_FACTORS[input.unit].toString() : null;
  // numeric arithmetic: no overflow near the type's limits, no float rounding.
  const { rows } = await client.query<Flags>(
    `WITH p AS (SELECT $1::numeric AS t, $2::numeric AS e, $5::numeric AS f,
                       floor(extract(epoch FROM now())::numeric * $5::numeric) AS n)
     SELECT t < e AS before_earliest, t = e AS at_earliest,
            t < e + ceil(extract(epoch FROM $3::interval)::numeric * coalesce(f, 0)) AS within_margin,
            CASE WHEN f IS NOT NULL THEN t > n END AS future,
            CASE WHEN f IS NOT NULL THEN t > n - ceil(extract(epoch FROM $4::interval)::numeric * f) END AS within_lateness,
            CASE WHEN f IS NOT NULL THEN n::text || ' (' || now()::text || ')' END AS now
       FROM p`,
    [input.until, input.earliest, input.margin, input.lateness, factor]);
  return rows[0] as Flags;
}

async function beyond(client: Client, type: TimeType, until: string, latest: string): Promise<boolean> {
  const { rows } = await client.query<{ b: boolean }>(`SELECT ${castParam(1, type)} > ${castParam(2, type)} AS b`, [until, latest]);
  return Boolean(rows[0]?.b);
}
