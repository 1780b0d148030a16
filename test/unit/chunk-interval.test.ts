import { describe, expect, it } from 'vitest';
import { checkChunkInterval, detectEpochUnit, roundDownNice, suggestChunkInterval } from '../../src/core/chunk-interval.js';
import { UsageError } from '../../src/core/errors.js';

const DAY = 86400;
const GB = 1024 ** 3;

describe('suggestChunkInterval for time columns', () => {
  // ~100 bytes a row, so the 10M-row target binds before the 1 GB one.
  const rowsPerDay = (perDay: number, days = 30) => ({ type: 'timestamp with time zone' as const, min: 0, max: days * DAY,
    rows: perDay * days, bytes: perDay * days * 100 });

  it('rounds down to a readable interval so chunks stay under ~10M rows', () => {
    expect(suggestChunkInterval(rowsPerDay(100_000))?.value).toBe('30 days'); // 10M rows in 100 days
    expect(suggestChunkInterval(rowsPerDay(1_000_000))?.value).toBe('7 days'); // 10 days → 7 days
    expect(suggestChunkInterval(rowsPerDay(5_000_000))?.value).toBe('1 day'); // 2 days → 1 day
    expect(suggestChunkInterval(rowsPerDay(50_000_000))?.value).toBe('1 hour'); // 4.8 hours → 1 hour
  });
  it('never goes below 1 hour, and says so', () => {
    const s = suggestChunkInterval(rowsPerDay(1_000_000_000, 1));
    expect(s?.value).toBe('1 hour');
    expect(s?.reason).toMatch(/smallest we suggest/);
  });
  it('lets the 1 GB target bind for wide rows', () => {
    // 1M rows/day of 10 kB → 1 GB is ~100k rows, a tenth of a day → 1 hour.
    const s = suggestChunkInterval({ type: 'timestamp with time zone', min: 0, max: 10 * DAY, rows: 10_000_000, bytes: 10_000_000 * 10_240 });
    expect(s?.value).toBe('1 hour');
    // 10k rows/day of 1 kB → ~1M rows per GB → 100+ days → 30 days.
    expect(suggestChunkInterval({ type: 'date', min: 0, max: 100 * DAY, rows: 1_000_000, bytes: GB })?.value).toBe('30 days');
  });
  it("falls back to TimescaleDB's 7 days without data", () => {
    expect(suggestChunkInterval({ type: 'timestamp without time zone', rows: 0, bytes: 0 })).toEqual({
      value: '7 days', reason: expect.stringMatching(/default/) as unknown as string });
    expect(suggestChunkInterval({ type: 'timestamp with time zone', min: 5, max: 5, rows: 1, bytes: 8192 })?.value).toBe('7 days');
  });
  it('explains the rate in the reason', () => {
    expect(suggestChunkInterval(rowsPerDay(1_000_000))?.reason).toMatch(/~1\.0M rows\/day \(30\.0M rows over 30\.0 days\)/);
  });
});

describe('suggestChunkInterval for integer columns', () => {
  it('detects epoch units by magnitude', () => {
    expect(detectEpochUnit(1_695_036_737, 1_700_000_000)).toBe('seconds');
    expect(detectEpochUnit(1_695_036_737_000, 1_700_000_000_000)).toBe('milliseconds');
    expect(detectEpochUnit(1_695_036_737_000_000, 1_700_000_000_000_000)).toBe('microseconds');
    expect(detectEpochUnit(1.695e18, 1.7e18)).toBe('nanoseconds');
    expect(detectEpochUnit(1, 1_700_000_000)).toBeUndefined(); // a counter that grew large
    expect(detectEpochUnit(0, 50_000)).toBeUndefined();
  });
  it('gives epoch milliseconds a readable interval in milliseconds', () => {
    const ms = 1_700_000_000_000;
    const s = suggestChunkInterval({ type: 'bigint', min: ms, max: ms + 30 * DAY * 1000, rows: 30_000_000, bytes: 3 * GB });
    expect(s?.value).toBe(String(7 * DAY * 1000));
    expect(s?.reason).toMatch(/epoch milliseconds/);
  });
  it('gives epoch seconds an interval in seconds and respects the integer range', () => {
    const sec = 1_700_000_000;
    expect(suggestChunkInterval({ type: 'integer', min: sec, max: sec + 10 * DAY, rows: 1000, bytes: 100_000 })?.value)
      .toBe(String(30 * DAY));
  });
  it("uses the column's own units when they are not epoch-like", () => {
    // 1M rows over values 0..1M: one row per unit → 10M-row chunks.
    const s = suggestChunkInterval({ type: 'bigint', min: 0, max: 1_000_000, rows: 1_000_000, bytes: 100_000_000 });
    expect(s?.value).toBe('10000000');
    expect(s?.reason).toMatch(/not epoch-like/);
    expect(suggestChunkInterval({ type: 'smallint', min: 0, max: 100, rows: 1_000_000_000, bytes: 1 })?.value).toBe('1');
    expect(suggestChunkInterval({ type: 'smallint', min: 0, max: 100, rows: 10, bytes: 1 })?.value).toBe('32767');
  });
  it('has no suggestion when units are unknown and there is no data', () => {
    expect(suggestChunkInterval({ type: 'bigint', rows: 0, bytes: 0 })).toBeUndefined();
  });
  it('rounds to 1, 2 or 5 times a power of ten', () => {
    expect([0.3, 1, 3, 7, 19, 45, 999, 1234].map(roundDownNice)).toEqual([1, 1, 2, 5, 10, 20, 500, 1000]);
  });
});

describe('checkChunkInterval', () => {
  it('takes whole numbers for integer columns only', () => {
    expect(checkChunkInterval(' 86400000 ', 'bigint', 'ts')).toBe('86400000');
    expect(() => checkChunkInterval('1 day', 'bigint', 'ts')).toThrow(UsageError);
    expect(() => checkChunkInterval('0', 'integer', 'ts')).toThrow(/positive whole number/);
    expect(() => checkChunkInterval('40000', 'smallint', 'ts')).toThrow(/too large/);
  });
  it('wants a unit for time columns', () => {
    expect(checkChunkInterval('1 day', 'timestamp with time zone', 'time')).toBe('1 day');
    expect(() => checkChunkInterval('86400', 'timestamp with time zone', 'time')).toThrow(/no unit/);
  });
});
