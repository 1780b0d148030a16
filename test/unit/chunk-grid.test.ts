import { describe, expect, it } from 'vitest';
import { clipToData, innerEdges, microsToAxis, rangeEstimator } from '../../src/steps/backfill/chunk-grid.js';
import { cellsFor, sizeCells } from '../../src/steps/backfill/grid.js';

const DAY = 86_400_000_000n;

describe('rangeEstimator', () => {
  it('spreads each range\'s rows evenly and adds overlapping ranges (space partitions)', () => {
    const estimate = rangeEstimator([{ lo: 0n, hi: 100n, rows: 1000 }, { lo: 100n, hi: 200n, rows: 10 },
      { lo: 0n, hi: 100n, rows: 500 }]);
    expect(estimate(0n, 100n)).toBeCloseTo(1500);
    expect(estimate(0n, 50n)).toBeCloseTo(750);
    expect(estimate(50n, 150n)).toBeCloseTo(755);
    expect(estimate(-1000n, 1000n)).toBeCloseTo(1510);
    expect(estimate(200n, 300n)).toBe(0);
    expect(estimate(100n, 100n)).toBe(0);
  });

  it('has nothing where no range is, and between ranges', () => {
    const estimate = rangeEstimator([{ lo: 0n, hi: 10n, rows: 10 }, { lo: 20n, hi: 30n, rows: 10 }]);
    expect(estimate(10n, 20n)).toBe(0);
    expect(estimate(5n, 25n)).toBeCloseTo(10);
    expect(rangeEstimator([])(0n, 10n)).toBe(0);
  });

  it('answers tens of thousands of chunks quickly', () => {
    const ranges = Array.from({ length: 20_000 }, (_, i) => ({ lo: BigInt(i) * DAY, hi: BigInt(i + 1) * DAY, rows: 1000 }));
    const estimate = rangeEstimator(ranges);
    const started = Date.now();
    let total = 0;
    for (let i = 0; i < 20_000; i += 1) total += estimate(BigInt(i) * DAY, BigInt(i + 1) * DAY);
    expect(total).toBeCloseTo(20_000_000, -2);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('clipToData', () => {
  it('cuts chunks down to the data\'s range and gives open ends the data\'s edge', () => {
    expect(clipToData([{ lo: 0n, hi: 100n, rows: 10 }, { lo: 100n, hi: undefined, rows: 5 }, { lo: undefined, hi: 0n, rows: 0 }],
      40n, 150n)).toEqual([{ lo: 40n, hi: 100n, rows: 10 }, { lo: 100n, hi: 150n, rows: 5 }]);
  });

  it('never drops a chunk\'s rows, even when it lies outside the (sampled) data range', () => {
    expect(clipToData([{ lo: 200n, hi: 300n, rows: 7 }], 0n, 100n)).toEqual([{ lo: 200n, hi: 300n, rows: 7 }]);
    expect(clipToData([{ lo: undefined, hi: -5n, rows: 7 }], 0n, 100n)).toEqual([{ lo: 0n, hi: 100n, rows: 7 }]);
  });
});

describe('chunk edges', () => {
  it('lists distinct edges strictly inside the range, ascending', () => {
    const chunks = [{ lo: 20n, hi: 30n, rows: 1 }, { lo: 0n, hi: 10n, rows: 1 }, { lo: 10n, hi: 20n, rows: 1 }, { lo: 10n, hi: 20n, rows: 1 },
      { lo: 30n, hi: undefined, rows: 1 }];
    expect(innerEdges(chunks, 5n, 30n)).toEqual([10n, 20n]);
    expect(innerEdges(chunks, -5n, 100n)).toEqual([0n, 10n, 20n, 30n]);
  });

  it('turns TimescaleDB\'s microseconds into days for date columns, flooring toward -infinity', () => {
    expect(microsToAxis(19_723n * DAY, 'days')).toBe(19_723n);
    expect(microsToAxis(-DAY - 1n, 'days')).toBe(-2n);
    expect(microsToAxis(123n, 'micros')).toBe(123n);
    expect(microsToAxis(-7n, 'integer')).toBe(-7n);
  });
});

describe('slices from chunks', () => {
  it('cuts compressed history into slices of about the target on chunk edges, and splits a big chunk evenly', () => {
    // 10 daily chunks of 100k rows (compressed), then one 1M-row chunk, then an empty stretch and a small chunk.
    const chunks = [...Array.from({ length: 10 }, (_, i) => ({ lo: BigInt(i) * DAY, hi: BigInt(i + 1) * DAY, rows: 100_000 })),
      { lo: 10n * DAY, hi: 11n * DAY, rows: 1_000_000 }, { lo: 20n * DAY, hi: 21n * DAY, rows: 10 }];
    const lower = 0n;
    const upper = 21n * DAY;
    const estimate = rangeEstimator(clipToData(chunks, lower, upper));
    const cells = sizeCells(cellsFor(lower, upper, innerEdges(chunks, lower, upper), estimate), { targetRows: 250_000, estimate });
    expect(cells[0]?.lo).toBe(lower);
    expect(cells.at(-1)?.hi).toBe(upper);
    for (let i = 1; i < cells.length; i += 1) expect(cells[i]?.lo).toBe(cells[i - 1]?.hi);
    // Two days per slice over the 100k chunks: 5 slices, each on day edges.
    const history = cells.filter((c) => c.hi <= 10n * DAY);
    expect(history.map((c) => Math.round(c.est))).toEqual([200_000, 200_000, 200_000, 200_000, 200_000]);
    for (const c of history) expect(c.lo % DAY).toBe(0n);
    // The 1M-row day in 4 equal pieces of 6 hours.
    const big = cells.filter((c) => c.lo >= 10n * DAY && c.hi <= 11n * DAY);
    expect(big.map((c) => Math.round(c.est))).toEqual([250_000, 250_000, 250_000, 250_000]);
    expect(big.map((c) => c.hi - c.lo)).toEqual([DAY / 4n, DAY / 4n, DAY / 4n, DAY / 4n]);
    // The empty days and the small chunk end up in one slice.
    expect(cells.filter((c) => c.lo >= 11n * DAY)).toHaveLength(1);
  });
});
