/**
 * The arithmetic of slice planning, free of any database so it can be unit-tested.
 *
 * Positions live on an integer "axis": microseconds since 1970-01-01 UTC for timestamp and
 * timestamptz columns, days since 1970-01-01 for date columns, the value itself for integer columns.
 * TimescaleDB aligns chunks to multiples of the chunk interval from that same origin (the Unix
 * epoch for time types, 0 for integers), so grid points at `k * width` are chunk boundaries.
 *
 * Correctness never depends on this arithmetic: slices are contiguous by construction (each slice
 * ends where the next one starts, with the very same text), so estimates and alignment only decide
 * how the work is cut, never which rows are covered.
 */

/** A half-open range on the axis and its estimated row count. */
export interface Cell {
  lo: bigint;
  hi: bigint;
  est: number;
  /** A run of cells estimated empty (mergeEmptyRuns). */
  empty?: boolean;
}

/** Row estimates along the axis, from planner statistics (see slices.ts). */
export interface Distribution {
  /** Rows the statistics describe (pg_class.reltuples at the last ANALYZE); 0 when unknown. */
  analyzedRows: number;
  nullFrac: number;
  /** histogram_bounds on the axis, ascending (empty when there is no histogram). */
  histogram: number[];
  /** most_common_vals on the axis with their frequencies. */
  mcv: { value: number; freq: number }[];
  /** Rows not described by the statistics (added since ANALYZE, or all of them when never analyzed),
   *  spread evenly over [extraLo, extraHi]. */
  extraRows: number;
  extraLo: number;
  extraHi: number;
}

// Small enough that N workers get several slices each and a retry repeats little; large enough that
// the per-slice transaction costs nothing next to the copy (npm run bench: 250k beat 500k).
export const DEFAULT_TARGET_ROWS = 250_000;

export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n) && ((a < 0n) !== (b < 0n)) ? q - 1n : q;
}

export function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b);
}

/** Overlap of [lo, hi) with [a, b], as a fraction of [a, b] (a point counts when lo <= a < hi). */
function overlapFraction(lo: number, hi: number, a: number, b: number): number {
  if (b <= a) return lo <= a && a < hi ? 1 : 0;
  const from = Math.max(lo, a);
  const to = Math.min(hi, b);
  return to > from ? (to - from) / (b - a) : 0;
}

/** Estimated rows with lo <= value < hi. */
export function estimateRows(dist: Distribution, lo: number, hi: number): number {
  let fraction = 0;
  for (const { value, freq } of dist.mcv) if (value >= lo && value < hi) fraction += freq;
  const buckets = dist.histogram.length - 1;
  if (buckets >= 1) {
    const mcvTotal = dist.mcv.reduce((sum, m) => sum + m.freq, 0);
    const perBucket = Math.max(0, 1 - dist.nullFrac - mcvTotal) / buckets;
    for (let i = 0; i < buckets; i += 1) {
      fraction += perBucket * overlapFraction(lo, hi, dist.histogram[i] as number, dist.histogram[i + 1] as number);
    }
  }
  const extra = dist.extraRows > 0 ? dist.extraRows * overlapFraction(lo, hi, dist.extraLo, dist.extraHi) : 0;
  return dist.analyzedRows * fraction + extra;
}

/**
 * Grid points `origin + k * width` strictly inside (lower, upper). When there would be more than
 * maxCells cells the width is multiplied (a multiple of a chunk interval is still chunk-aligned).
 */
export function gridPoints(lower: bigint, upper: bigint, width: bigint, maxCells = 100_000, origin = 0n): bigint[] {
  if (width <= 0n) throw new Error('grid width must be positive');
  if (upper <= lower) return [];
  let step = width;
  const count = (upper - lower) / step;
  if (count > BigInt(maxCells)) step *= ceilDiv(count, BigInt(maxCells));
  const points: bigint[] = [];
  for (let p = origin + (floorDiv(lower - origin, step) + 1n) * step; p < upper; p += step) points.push(p);
  return points;
}

/** Cells between lower and upper cut at the grid points, with estimates. */
export function cellsFor(lower: bigint, upper: bigint, points: bigint[], estimate: (lo: bigint, hi: bigint) => number): Cell[] {
  if (upper <= lower) return [];
  const edges = [lower, ...points, upper];
  const cells: Cell[] = [];
  for (let i = 0; i + 1 < edges.length; i += 1) {
    const lo = edges[i] as bigint;
    const hi = edges[i + 1] as bigint;
    cells.push({ lo, hi, est: estimate(lo, hi) });
  }
  return cells;
}

/**
 * Size the cells into slices of about targetRows: split dense cells (more than 1.5 times the target)
 * into equal parts no narrower than minWidth, then merge runs of sparse neighbours while the sum
 * stays within the target. Splitting happens inside a cell, so chunk edges stay slice edges.
 */
export function sizeCells(cells: Cell[], options: { targetRows?: number; minWidth?: bigint;
  estimate: (lo: bigint, hi: bigint) => number }): Cell[] {
  const target = options.targetRows ?? DEFAULT_TARGET_ROWS;
  const minWidth = options.minWidth ?? 1n;
  // Pieces of a split cell are never merged again: that would move a slice edge off a chunk edge.
  const split: (Cell & { piece?: boolean })[] = [];
  for (const cell of cells) {
    const width = cell.hi - cell.lo;
    let parts = cell.est > 1.5 * target ? BigInt(Math.ceil(cell.est / target)) : 1n;
    if (parts > width / minWidth) parts = width / minWidth;
    if (parts <= 1n) { split.push(cell); continue; }
    const step = ceilDiv(ceilDiv(width, parts), minWidth) * minWidth;
    for (let lo = cell.lo; lo < cell.hi; lo += step) {
      const hi = lo + step < cell.hi ? lo + step : cell.hi;
      split.push({ lo, hi, est: options.estimate(lo, hi), piece: true });
    }
  }
  const merged: (Cell & { piece?: boolean })[] = [];
  for (const cell of split) {
    const last = merged[merged.length - 1];
    if (last && !last.piece && !cell.piece && last.est + cell.est <= target) {
      last.hi = cell.hi;
      last.est += cell.est;
    } else {
      merged.push({ ...cell });
    }
  }
  return merged.map(({ lo, hi, est }) => ({ lo, hi, est }));
}

/**
 * With an explicit --slice width the cells are kept as they are, except that runs of cells that
 * are estimated empty (outliers such as a 1970 sentinel row stretch the range) become one slice:
 * thousands of empty transactions would only cost time.
 */
export function mergeEmptyRuns(cells: Cell[], targetRows = DEFAULT_TARGET_ROWS): Cell[] {
  const merged: Cell[] = [];
  for (const cell of cells) {
    const last = merged[merged.length - 1];
    if (last?.empty && cell.est < 1 && last.est < targetRows) {
      last.hi = cell.hi;
      last.est += cell.est;
      last.empty = true;
    } else {
      merged.push({ ...cell, empty: cell.est < 1 });
    }
  }
  return merged.map(({ lo, hi, est }) => ({ lo, hi, est }));
}

const MICROS_PER_SECOND = 1_000_000n;
const NICE_SECONDS = [1n, 10n, 60n, 300n, 900n, 1800n, 3600n, 2n * 3600n, 3n * 3600n, 6n * 3600n, 12n * 3600n, 86_400n, 2n * 86_400n,
  7n * 86_400n, 30n * 86_400n, 365n * 86_400n];

/**
 * A width for tables whose target has no chunk interval: roughly targetRows per cell, rounded up to
 * a readable step (a minute, an hour, a day, … for time types; 1, 2 or 5 × 10^k for integers).
 */
export function chooseWidth(span: bigint, rows: number, axis: 'micros' | 'days' | 'integer',
  targetRows = DEFAULT_TARGET_ROWS): bigint {
  if (span <= 0n) return 1n;
  const cells = Math.max(1, Math.ceil(rows / targetRows));
  const raw = ceilDiv(span, BigInt(cells));
  if (axis === 'micros') {
    const nice = NICE_SECONDS.map((s) => s * MICROS_PER_SECOND).find((w) => w >= raw);
    return nice ?? ceilDiv(raw, 365n * 86_400n * MICROS_PER_SECOND) * 365n * 86_400n * MICROS_PER_SECOND;
  }
  if (axis === 'days') {
    const nice = [1n, 7n, 30n, 365n].find((w) => w >= raw);
    return nice ?? ceilDiv(raw, 365n) * 365n;
  }
  for (let magnitude = 1n; ; magnitude *= 10n) {
    for (const m of [1n, 2n, 5n]) if (m * magnitude >= raw) return m * magnitude;
  }
}
