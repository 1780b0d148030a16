/**
 * The dual-write window: rows at or after T reach the target only by dual-writes. A write the
 * application failed to send, or a row dated in the future before dual-writes began, is missing
 * there, and no backfill will bring it. So validate compares these rows too, except those too
 * recent to have settled: [now - lateness, now + lateness) on the target's clock, where writes may
 * be in flight (and clocks a little apart). Compared: [T, now - lateness) cut into a few slices, and
 * [now + lateness, +infinity) (the +infinity rows themselves are an edge set of validate.ts).
 * For a slice that differs, the rows on one side only are listed (a sample, with their keys).
 */
import type { TimeTablePair } from '../core/completion-points.js';
import type { Client } from '../core/db.js';
import { quoteIdent, quoteQualified } from '../core/identifiers.js';
import { castParam, isIntegerTimeType, type TimeType } from '../core/time-values.js';
import { fromAxis, highestValue, toAxis } from './backfill/axis.js';
import { UNIT_FACTORS, detectEpochUnit, epochSecondsNow } from './completion-point-range.js';
import { EMPTY_SLICE, rowHashInput, sameFigures, sliceChecksums, type HashColumns, type SliceFigures } from './validate-checksums.js';

/** Up to this many slices over [T, now - lateness), so a difference is narrowed to a few hours of a day. */
const WINDOW_SLICES = 24;
/** Rows listed per side for a differing slice. */
const SAMPLE_ROWS = 5;
/** A differing slice with more rows than this is reported by its figures only. */
const SAMPLE_LIMIT = 200_000;

export interface RowSample {
  time: string;
  /** The target's primary key columns and values, when it has one. */
  key?: Record<string, string | null>;
}

export interface WindowDifference {
  start: string;
  /** Exclusive; 'infinity' for the open-ended future range. */
  end: string;
  source: SliceFigures;
  target: SliceFigures;
  onlyOnSource: RowSample[];
  onlyOnTarget: RowSample[];
  /** Rows on one side only, all of them (not just those listed), when the slice was listed. */
  onlyOnSourceCount?: number;
  onlyOnTargetCount?: number;
  /** The newest time among the source-only rows: the last row the source received that the target lacks. */
  newestOnlyOnSource?: string;
  /** Set when the slice was too big to list rows. */
  notListed?: boolean;
}

export interface WindowValidation {
  /** [from, until) was compared, and [futureFrom, +infinity). */
  from: string;
  until: string;
  futureFrom: string;
  slices: number;
  rows: { source: number; target: number };
  differences: WindowDifference[];
}

export interface WindowInput {
  pair: TimeTablePair;
  /** The completion point T. */
  until: string;
  columns: HashColumns;
  lateness: string;
  timezone?: string | undefined;
  /** Where dual-writes began (for the epoch unit of integer columns). */
  dualWritesFrom?: string | undefined;
}

/** Compare the window; undefined (with a reason) when it cannot be placed on this column. */
export async function compareWindow(source: Client, target: Client, input: WindowInput):
  Promise<{ window?: WindowValidation; skipped?: string }> {
  const bounds = await windowBounds(target, input);
  if ('skipped' in bounds) return { skipped: bounds.skipped };
  const { pair } = input;
  const ranges: { from: string; until: string; edges: string[] }[] = [];
  if (bounds.settledBelowCutoff) {
    ranges.push({ from: input.until, until: bounds.cutoff, edges: await innerEdges(target, pair.type, input.until, bounds.cutoff) });
  }
  const far = isIntegerTimeType(pair.type) ? highestValue(pair.type) : 'infinity';
  ranges.push({ from: bounds.future, until: far, edges: [] });
  const result: WindowValidation = { from: input.until, until: bounds.settledBelowCutoff ? bounds.cutoff : input.until,
    futureFrom: bounds.future, slices: 0, rows: { source: 0, target: 0 }, differences: [] };
  for (const range of ranges) {
    const query = { table: pair.spec, column: pair.column, type: pair.type, from: range.from, until: range.until, edges: range.edges,
      columns: input.columns };
    const [onSource, onTarget] = await Promise.all([
      sliceChecksums(source, { ...query, side: 'source' }), sliceChecksums(target, { ...query, side: 'target' })]);
    const edges = [range.from, ...range.edges, range.until];
    for (let i = 0; i + 1 < edges.length; i += 1) {
      const s = onSource.get(i) ?? EMPTY_SLICE;
      const t = onTarget.get(i) ?? EMPTY_SLICE;
      result.slices += 1;
      result.rows.source += s.rows;
      result.rows.target += t.rows;
      if (sameFigures(s, t)) continue;
      const start = edges[i] as string;
      const end = edges[i + 1] as string;
      result.differences.push({ start, end, source: s, target: t, ...await sampleDifference(source, target, input, start, end, s, t) });
    }
  }
  return { window: result };
}

interface Bounds { cutoff: string; future: string; settledBelowCutoff: boolean }

/** now ± lateness on the target's clock, typed like the column. */
async function windowBounds(target: Client, input: WindowInput): Promise<Bounds | { skipped: string }> {
  const { type } = input.pair;
  if (isIntegerTimeType(type)) {
    const unit = detectEpochUnit([input.dualWritesFrom ?? input.until], await epochSecondsNow(target));
    if (!unit) return { skipped: 'the units of this integer time column are unknown, so "now" cannot be placed on it' };
    const { rows } = await target.query<{ cutoff: string; future: string; settled: boolean }>(
      `WITH p AS (SELECT floor(extract(epoch FROM now())::numeric * $2::numeric) AS n,
                         ceil(extract(epoch FROM $3::interval)::numeric * $2::numeric) AS l)
       SELECT (n - l)::${type}::text AS cutoff, least(n + l, $4::numeric)::${type}::text AS future,
              $1::numeric < n - l AS settled FROM p`,
      [input.until, UNIT_FACTORS[unit].toString(), input.lateness, highestValue(type)]);
    const row = rows[0];
    return row ? { cutoff: row.cutoff, future: row.future, settledBelowCutoff: row.settled } : { skipped: 'no clock' };
  }
  const now = type === 'timestamp with time zone' ? 'now()' : '(now() AT TIME ZONE $3::text)';
  const cast = (x: string): string => (type === 'date' ? `(${x})::date` : `(${x})`);
  // A date window is whole days: the day holding now - lateness is not settled yet.
  const future = type === 'date' ? `((${now} + $2::interval)::date + 1)` : `${now} + $2::interval`;
  const { rows } = await target.query<{ cutoff: string; future: string; settled: boolean }>(
    `SELECT ${cast(`${now} - $2::interval`)}::text AS cutoff, (${future})::text AS future,
            ${castParam(1, type)} < ${cast(`${now} - $2::interval`)} AS settled`,
    [input.until, input.lateness, ...(type === 'timestamp with time zone' ? [] : [input.timezone ?? 'UTC'])]);
  const row = rows[0];
  return row ? { cutoff: row.cutoff, future: row.future, settledBelowCutoff: row.settled } : { skipped: 'no clock' };
}

/** Up to WINDOW_SLICES - 1 evenly spaced inner edges of [from, until), exact on the column's axis. */
async function innerEdges(client: Client, type: TimeType, from: string, until: string): Promise<string[]> {
  const [lo, hi] = await toAxis(client, [from, until], type);
  if (lo === undefined || hi === undefined || hi - lo < 2n) return [];
  const parts = BigInt(Math.min(WINDOW_SLICES, Number(hi - lo)));
  const positions: bigint[] = [];
  for (let i = 1n; i < parts; i += 1n) positions.push(lo + ((hi - lo) * i) / parts);
  return fromAxis(client, [...new Set(positions)], type);
}


/** The rows of [start, end) on one side only, by their fingerprints: a few of each, with keys. */
async function sampleDifference(source: Client, target: Client, input: WindowInput, start: string, end: string,
  s: SliceFigures, t: SliceFigures): Promise<Pick<WindowDifference, 'onlyOnSource' | 'onlyOnTarget' | 'onlyOnSourceCount' |
  'onlyOnTargetCount' | 'newestOnlyOnSource' | 'notListed'>> {
  if (s.rows > SAMPLE_LIMIT || t.rows > SAMPLE_LIMIT) return { onlyOnSource: [], onlyOnTarget: [], notListed: true };
  const [a, b] = await Promise.all([rowsOf(source, input, start, end, 'source'), rowsOf(target, input, start, end, 'target')]);
  const [onSource, onTarget] = [oneSideOnly(a, b), oneSideOnly(b, a)];
  return { onlyOnSource: onSource.samples, onlyOnTarget: onTarget.samples, onlyOnSourceCount: onSource.count,
    onlyOnTargetCount: onTarget.count, ...(onSource.newest !== undefined ? { newestOnlyOnSource: onSource.newest } : {}) };
}

interface Fingerprinted { h: string; sample: RowSample }

async function rowsOf(client: Client, input: WindowInput, start: string, end: string, side: 'source' | 'target'): Promise<Fingerprinted[]> {
  const { pair } = input;
  const col = quoteIdent(pair.column);
  const keyColumns = (pair.target.indexes.find((i) => i.primary)?.columns ?? [])
    .filter((c): c is string => c !== null && input.columns.names.includes(c));
  const upper = end === 'infinity' ? `${col} < 'infinity'` : `${col} < ${castParam(2, pair.type)}`;
  const { rows } = await client.query<Record<string, string | null>>(
    `SELECT md5(${rowHashInput({ columns: input.columns, side })}) AS "h", ${col}::text AS "t"
            ${keyColumns.map((c, i) => `, ${quoteIdent(c)}::text AS "k${i}"`).join('')}
       FROM ${quoteQualified(pair.spec)} WHERE ${col} >= ${castParam(1, pair.type)} AND ${upper} ORDER BY ${col}, 1`,
    end === 'infinity' ? [start] : [start, end]);
  return rows.map((r) => ({
    h: r.h as string,
    sample: { time: r.t as string, ...(keyColumns.length > 0 ? { key: Object.fromEntries(keyColumns.map((c, i) => [c, r[`k${i}`] ?? null])) } : {}) },
  }));
}

/** The first few rows of `mine` that `theirs` lacks, how many there are, and the newest one's time (rows come ordered by time). */
function oneSideOnly(mine: Fingerprinted[], theirs: Fingerprinted[]): { samples: RowSample[]; count: number; newest?: string } {
  const counts = new Map<string, number>();
  for (const row of theirs) counts.set(row.h, (counts.get(row.h) ?? 0) + 1);
  const samples: RowSample[] = [];
  let count = 0;
  let newest: string | undefined;
  for (const row of mine) {
    const n = counts.get(row.h) ?? 0;
    if (n > 0) { counts.set(row.h, n - 1); continue; }
    count += 1;
    newest = row.sample.time;
    if (samples.length < SAMPLE_ROWS) samples.push(row.sample);
  }
  return { samples, count, ...(newest !== undefined ? { newest } : {}) };
}
