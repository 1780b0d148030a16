/**
 * Row estimates along the axis from a hypertable source's chunks (core/chunk-rows.ts reads them),
 * free of any database so it can be unit-tested. Used instead of planner statistics, which miss the
 * rows of compressed chunks.
 *
 * Within a chunk the rows are taken as spread evenly over the part of its range that holds data:
 * the newest chunk is usually filled only up to now, the oldest only from the first row on.
 * Chunks with the same range (space partitions) add up.
 */
import type { AxisKind } from './axis.js';
import { floorDiv } from './grid.js';

/** Rows over [lo, hi) on the axis. */
export interface RowsOnAxis { lo: bigint; hi: bigint; rows: number }

/** A chunk's range on the axis (undefined = open) and its rows. */
export interface ChunkOnAxis { lo: bigint | undefined; hi: bigint | undefined; rows: number }

const MICROS_PER_DAY = 86_400_000_000n;

/** TimescaleDB keeps date columns' chunk edges in microseconds; the axis counts days for them. */
export function microsToAxis(micros: bigint, kind: AxisKind): bigint {
  return kind === 'days' ? floorDiv(micros, MICROS_PER_DAY) : micros;
}

/**
 * Each chunk's range cut down to where the data is, [dataLo, dataHi): open ends get the data's.
 * A chunk outside the data's range (its estimate is stale, or min/max came from a sample) keeps its
 * own range, or takes the data's when it has none: its rows are never dropped.
 */
export function clipToData(chunks: ChunkOnAxis[], dataLo: bigint, dataHi: bigint): RowsOnAxis[] {
  const result: RowsOnAxis[] = [];
  for (const chunk of chunks) {
    if (!(chunk.rows > 0)) continue;
    const lo = chunk.lo === undefined || chunk.lo < dataLo ? dataLo : chunk.lo;
    const hi = chunk.hi === undefined || chunk.hi > dataHi ? dataHi : chunk.hi;
    if (lo < hi) result.push({ lo, hi, rows: chunk.rows });
    else if (chunk.lo !== undefined && chunk.hi !== undefined && chunk.lo < chunk.hi) result.push({ lo: chunk.lo, hi: chunk.hi, rows: chunk.rows });
    else if (dataLo < dataHi) result.push({ lo: dataLo, hi: dataHi, rows: chunk.rows });
  }
  return result;
}

/**
 * Estimated rows with lo <= value < hi, rows spread evenly over each range. Built once as a
 * cumulative step function so that each estimate is a binary search, whatever the number of chunks.
 */
export function rangeEstimator(ranges: RowsOnAxis[]): (lo: bigint, hi: bigint) => number {
  const change = new Map<number, number>();
  for (const range of ranges) {
    const lo = Number(range.lo);
    const hi = Number(range.hi);
    if (!(range.rows > 0) || hi <= lo) continue;
    const density = range.rows / (hi - lo);
    change.set(lo, (change.get(lo) ?? 0) + density);
    change.set(hi, (change.get(hi) ?? 0) - density);
  }
  const edges = [...change.keys()].sort((a, b) => a - b);
  const cumulative: number[] = [];
  const density: number[] = [];
  let total = 0;
  let current = 0;
  edges.forEach((edge, i) => {
    if (i > 0) total += current * (edge - (edges[i - 1] as number));
    cumulative.push(total);
    current += change.get(edge) ?? 0;
    density.push(Math.max(0, current));
  });
  const below = (x: number): number => {
    let lo = 0;
    let hi = edges.length - 1;
    if (hi < 0 || x <= (edges[0] as number)) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((edges[mid] as number) <= x) lo = mid; else hi = mid - 1;
    }
    return (cumulative[lo] as number) + (density[lo] as number) * (x - (edges[lo] as number));
  };
  return (lo, hi) => (hi <= lo ? 0 : Math.max(0, below(Number(hi)) - below(Number(lo))));
}

/** The chunks' edges strictly inside (lower, upper), ascending: slice edges that are chunk edges. */
export function innerEdges(chunks: ChunkOnAxis[], lower: bigint, upper: bigint): bigint[] {
  const edges = new Set<bigint>();
  for (const { lo, hi } of chunks) {
    for (const edge of [lo, hi]) if (edge !== undefined && edge > lower && edge < upper) edges.add(edge);
  }
  return [...edges].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
