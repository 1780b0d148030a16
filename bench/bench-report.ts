/** Medians and the final table of `npm run bench`. */
import { formatBytes, formatTable } from '../src/core/text-table.js';
import type { Measured, MigrateSummary } from './bench-runners.js';

export interface MethodResult {
  method: string;
  rows: number;
  streamBytes: number;
  runs: Measured[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] ?? NaN : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export function medianSeconds(result: MethodResult): number {
  return median(result.runs.map((r) => r.seconds));
}

function maxOf(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
}

const number = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function formatResults(results: MethodResult[]): string {
  return formatTable(results, [
    { header: 'method', value: (r) => r.method },
    { header: 'rows', value: (r) => number(r.rows), align: 'right' },
    { header: 'median s', value: (r) => number(medianSeconds(r), 2), align: 'right' },
    { header: 'rows/s', value: (r) => number(r.rows / medianSeconds(r)), align: 'right' },
    { header: 'MB/s', value: (r) => number(r.streamBytes / 1048576 / medianSeconds(r), 1), align: 'right' },
    { header: 'client CPU s', value: (r) => {
      const cpu = r.runs.map((x) => x.cpuSeconds).filter((v): v is number => v !== undefined);
      return cpu.length > 0 ? number(median(cpu), 1) : '?';
    }, align: 'right' },
    { header: 'peak RSS', value: (r) => { const kb = maxOf(r.runs.map((x) => x.peakRssKb)); return kb === undefined ? '?' : formatBytes(kb * 1024); }, align: 'right' },
    { header: 'runs (s)', value: (r) => r.runs.map((x) => number(x.seconds, 2)).join(' ') },
  ]);
}

/** "1.23x": how many times the first's throughput the second's is (>1: migrate is faster). */
export function throughputRatio(migrate: MethodResult | undefined, other: MethodResult | undefined): string {
  if (!migrate || !other) return 'n/a';
  return `${(medianSeconds(other) / medianSeconds(migrate)).toFixed(2)}x`;
}

/** Where migrate's time goes: the copy phase (as migrate measured it) against the whole process. */
export function describeMigrateRuns(result: MethodResult, summaries: (MigrateSummary | undefined)[]): string {
  const known = summaries.filter((s): s is MigrateSummary => s !== undefined);
  if (known.length === 0) return `migrate at ${number(result.rows)} rows: (no --json result to break the time down)`;
  const copy = median(known.map((s) => s.copySeconds));
  const whole = medianSeconds(result);
  return `migrate at ${number(result.rows)} rows: ${known[0]?.slices} slices, ${known[0]?.workers} workers; ` +
    `copy phase ${number(copy, 2)} s (${number(result.rows / copy)} rows/s) of ${number(whole, 2)} s for the whole process ` +
    `(startup, planning, policies: ${number(whole - copy, 2)} s)`;
}
