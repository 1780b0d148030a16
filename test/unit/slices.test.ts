import { describe, expect, it } from 'vitest';
import { cellsFor, ceilDiv, chooseWidth, estimateRows, floorDiv, gridPoints, mergeEmptyRuns, sizeCells, type Distribution } from '../../src/steps/backfill/grid.js';
import { timeLiteral } from '../../src/core/time-values.js';
import { formatDuration } from '../../src/steps/backfill/progress.js';
import { isRetryable, backoffMs } from '../../src/steps/backfill/retry.js';
import { MigrateError } from '../../src/core/errors.js';

const DAY = 86_400_000_000n;

function uniform(rows: number, lo: number, hi: number): Distribution {
  return { analyzedRows: 0, nullFrac: 0, histogram: [], mcv: [], extraRows: rows, extraLo: lo, extraHi: hi };
}

/** Slices must tile [lo, hi) exactly: no gap, no overlap, in order. */
function expectTiling(cells: { lo: bigint; hi: bigint }[], lo: bigint, hi: bigint): void {
  expect(cells[0]?.lo).toBe(lo);
  expect(cells[cells.length - 1]?.hi).toBe(hi);
  for (let i = 0; i < cells.length; i += 1) {
    expect((cells[i] as { lo: bigint; hi: bigint }).lo < (cells[i] as { lo: bigint; hi: bigint }).hi).toBe(true);
    if (i > 0) expect(cells[i]?.lo).toBe(cells[i - 1]?.hi);
  }
}

describe('integer division toward -infinity', () => {
  it('floors and ceils negative values like chunk alignment needs', () => {
    expect(floorDiv(7n, 5n)).toBe(1n);
    expect(floorDiv(-7n, 5n)).toBe(-2n);
    expect(floorDiv(-10n, 5n)).toBe(-2n);
    expect(ceilDiv(7n, 5n)).toBe(2n);
    expect(ceilDiv(-7n, 5n)).toBe(-1n);
  });
});

describe('gridPoints', () => {
  it('puts points at multiples of the width from 0, strictly inside the range', () => {
    expect(gridPoints(5n, 35n, 10n)).toEqual([10n, 20n, 30n]);
    expect(gridPoints(10n, 30n, 10n)).toEqual([20n]);
    expect(gridPoints(-15n, 5n, 10n)).toEqual([-10n, 0n]);
    expect(gridPoints(3n, 7n, 10n)).toEqual([]);
    expect(gridPoints(7n, 7n, 10n)).toEqual([]);
  });

  it('aligns 7-day chunks to the Unix epoch (a Thursday), as TimescaleDB does', () => {
    // 2024-01-01 00:00 UTC = 1704067200 s; 7-day chunks start on 2023-12-28 and 2024-01-04 (Thursdays).
    const lower = 1_704_067_200_000_000n;
    const points = gridPoints(lower, lower + 14n * DAY, 7n * DAY);
    expect(points[0]).toBe(1_704_326_400_000_000n); // 2024-01-04 00:00:00 UTC
    expect(points.every((p) => p % (7n * DAY) === 0n)).toBe(true);
  });

  it('widens to a multiple of the width when there would be too many cells, staying aligned', () => {
    const points = gridPoints(0n, 1_000_000n, 1n, 1000);
    expect(points.length).toBeLessThanOrEqual(1000);
    const step = (points[1] as bigint) - (points[0] as bigint);
    expect(step % 1n).toBe(0n);
    expect(points.every((p) => p % step === 0n)).toBe(true);
  });
});

describe('estimateRows', () => {
  it('spreads histogram buckets evenly and counts most common values at their point', () => {
    const dist: Distribution = { analyzedRows: 1000, nullFrac: 0.1, histogram: [0, 10, 20, 30, 40], mcv: [{ value: 5, freq: 0.1 }],
      extraRows: 0, extraLo: 0, extraHi: 0 };
    // histogram holds 1 - 0.1 - 0.1 = 80% in 4 buckets = 200 rows each; the MCV 5 holds 100.
    expect(estimateRows(dist, 0, 40)).toBeCloseTo(900);
    expect(estimateRows(dist, 0, 5)).toBeCloseTo(100);
    expect(estimateRows(dist, 5, 6)).toBeCloseTo(120);
    expect(estimateRows(dist, 40, 100)).toBe(0);
  });

  it('adds rows the statistics do not describe evenly over their span', () => {
    expect(estimateRows(uniform(1000, 0, 100), 0, 50)).toBeCloseTo(500);
    expect(estimateRows(uniform(1000, 0, 100), 90, 200)).toBeCloseTo(100);
  });
});

describe('sizeCells', () => {
  const est = (dist: Distribution) => (lo: bigint, hi: bigint): number => estimateRows(dist, Number(lo), Number(hi));

  it('splits a dense chunk inside its bounds and merges sparse neighbours', () => {
    // 10 chunks of width 100; chunk 3 holds 3M rows, the others 10k each.
    const rowsOf = (lo: bigint): number => (lo === 300n ? 3_000_000 : 10_000);
    const estimate = (lo: bigint, hi: bigint): number => {
      let total = 0;
      for (let c = 0n; c < 1000n; c += 100n) {
        const from = lo > c ? lo : c;
        const to = hi < c + 100n ? hi : c + 100n;
        if (to > from) total += rowsOf(c) * Number(to - from) / 100;
      }
      return total;
    };
    const cells = cellsFor(0n, 1000n, gridPoints(0n, 1000n, 100n), estimate);
    const sized = sizeCells(cells, { targetRows: 500_000, estimate });
    expectTiling(sized, 0n, 1000n);
    const dense = sized.filter((c) => c.lo >= 300n && c.hi <= 400n);
    expect(dense.length).toBe(6);
    // Chunk edges stay slice edges: no slice crosses 300 or 400.
    expect(sized.some((c) => c.lo < 300n && c.hi > 300n)).toBe(false);
    expect(sized.some((c) => c.lo < 400n && c.hi > 400n)).toBe(false);
    // The three sparse chunks before the dense one become one slice.
    expect(sized[0]).toMatchObject({ lo: 0n, hi: 300n });
  });

  it('never splits below the minimum width (whole days for date columns)', () => {
    const estimate = est(uniform(10_000_000, 0, 3));
    const sized = sizeCells(cellsFor(0n, 3n, [], estimate), { targetRows: 500_000, minWidth: 1n, estimate });
    expectTiling(sized, 0n, 3n);
    expect(sized.length).toBe(3);
  });

  it('tiles the range exactly for random layouts', () => {
    for (let round = 0; round < 200; round += 1) {
      const lo = BigInt(Math.floor(Math.random() * 2000) - 1000);
      const hi = lo + 1n + BigInt(Math.floor(Math.random() * 5000));
      const width = 1n + BigInt(Math.floor(Math.random() * 300));
      const dist = uniform(Math.floor(Math.random() * 5_000_000), Number(lo), Number(hi));
      const estimate = est(dist);
      const sized = sizeCells(cellsFor(lo, hi, gridPoints(lo, hi, width), estimate), { targetRows: 100_000, estimate });
      expectTiling(sized, lo, hi);
    }
  });
});

describe('mergeEmptyRuns (explicit --slice widths)', () => {
  it('keeps populated cells as they are and folds runs of empty ones into one slice', () => {
    const cells = [
      { lo: 0n, hi: 1n, est: 0.01 }, { lo: 1n, hi: 2n, est: 0.5 }, { lo: 2n, hi: 3n, est: 0 },
      { lo: 3n, hi: 4n, est: 900 }, { lo: 4n, hi: 5n, est: 800 }, { lo: 5n, hi: 6n, est: 0.2 }, { lo: 6n, hi: 7n, est: 700 },
    ];
    const merged = mergeEmptyRuns(cells);
    expectTiling(merged, 0n, 7n);
    expect(merged.map((c) => [c.lo, c.hi])).toEqual([[0n, 3n], [3n, 4n], [4n, 5n], [5n, 6n], [6n, 7n]]);
  });
});

describe('chooseWidth', () => {
  it('rounds to readable steps', () => {
    const hour = 3_600_000_000n;
    expect(chooseWidth(365n * DAY, 365 * 500_000, 'micros', 500_000)).toBe(DAY);
    expect(chooseWidth(365n * DAY, 365 * 24 * 500_000, 'micros', 500_000)).toBe(hour);
    expect(chooseWidth(365n * DAY, 365 * 24 * 400_000, 'micros', 500_000)).toBe(2n * hour);
    expect(chooseWidth(100n, 10, 'days')).toBe(365n);
    expect(chooseWidth(1_000_000n, 5_000_000, 'integer', 500_000)).toBe(100_000n);
    expect(chooseWidth(1_000_000n, 0, 'integer')).toBe(1_000_000n);
  });
});

describe('timeLiteral', () => {
  it('quotes and casts normalized values', () => {
    expect(timeLiteral('2024-01-01 00:00:00+00', 'timestamp with time zone')).toBe("'2024-01-01 00:00:00+00'::timestamp with time zone");
    expect(timeLiteral('-9223372036854775808', 'bigint')).toBe("'-9223372036854775808'::bigint");
    expect(timeLiteral("x'); DROP TABLE t; --", 'date')).toBe("'x''); DROP TABLE t; --'::date");
    expect(timeLiteral('a\\b', 'date')).toBe("E'a\\\\b'::date");
  });
});

describe('retries', () => {
  it('recognizes transient failures behind wrappers', () => {
    const terminated = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    expect(isRetryable(terminated)).toBe(true);
    expect(isRetryable(new MigrateError('Cannot connect', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('invalid input syntax'), { code: '22P02' }))).toBe(false);
    expect([1, 2, 3, 4].map((a) => backoffMs(a))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('formats durations for the ETA', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(7260)).toBe('2h01m');
  });
});
