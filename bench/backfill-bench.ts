/**
 * `npm run bench`: how fast `migrate backfill` moves a metrics table compared with the plain binary
 * `psql | psql` COPY pipe and the reference procedure's text (`\copy … csv`) pipe, and how much
 * memory it needs at two table sizes.
 *
 *   npm run bench -- [--rows 5000000] [--runs 3] [--small-rows N/5 | 0] [--fresh]
 *                    [--only migrate,binary,text] [--workers N] [--slice INTERVAL]
 *
 * Clusters live under /tmp/migrate-bench (MIGRATE_BENCH_DIR) and are reused with their data;
 * `--fresh` recreates them. Every method loads the same range [min, max + 1 µs) into the same empty
 * target table; the order alternates between runs and the median is reported.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatBytes } from '../src/core/text-table.js';
import { requirePgTool } from '../src/core/pg-tools.js';
import { startBenchClusters, BENCH_ROOT } from './bench-clusters.js';
import {
  copyStreamBytes, ensureDatabase, ensureSourceTable, ensureTargetTable, rangeSelect, resetTarget, sourceRange,
  tableName, targetCount, targetTableBytes, type Range,
} from './bench-data.js';
import { describeMigrateRuns, formatResults, throughputRatio, type MethodResult } from './bench-report.js';
import {
  hasGnuTime, measure, parseMigrateResult, runBinaryPipe, runMigrate, runTextPipe, type Endpoints, type Measured,
} from './bench-runners.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string): void => { process.stderr.write(`${line}\n`); };

type Method = 'migrate' | 'binary' | 'text';
const LABELS: Record<Method, string> = {
  migrate: 'migrate backfill',
  binary: 'binary pipe (psql COPY | psql COPY)',
  text: 'text pipe (psql \\copy csv | psql \\copy)',
};

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: '5000000' },
    runs: { type: 'string', default: '3' },
    'small-rows': { type: 'string' },
    fresh: { type: 'boolean', default: false },
    only: { type: 'string', default: 'migrate,binary,text' },
    workers: { type: 'string' },
    slice: { type: 'string' },
  },
});

const rows = Number(flags.rows);
const runs = Number(flags.runs);
const smallRows = flags['small-rows'] === undefined ? Math.floor(rows / 5) : Number(flags['small-rows']);
const methods = (flags.only ?? '').split(',').map((m) => m.trim()).filter(Boolean) as Method[];
if (!Number.isInteger(rows) || rows < 1000 || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(smallRows) ||
    methods.some((m) => !(m in LABELS))) {
  log('usage: npm run bench -- [--rows N>=1000] [--runs N>=1] [--small-rows N|0] [--fresh] [--only migrate,binary,text] [--workers N] [--slice INTERVAL]');
  process.exit(2);
}
if (methods.includes('migrate') && !existsSync(path.join(repoRoot, 'dist', 'cli', 'main.js'))) {
  log('dist/cli/main.js is missing: run `npm run build` (npm run bench does it for you).');
  process.exit(1);
}
const migrateArgs = [...(flags.workers ? ['--workers', flags.workers] : []), ...(flags.slice ? ['--slice', flags.slice] : [])];

async function runOnce(method: Method, ends: Endpoints, psql: string, n: number, range: Range): Promise<Measured> {
  await resetTarget(ends.targetUrl, n);
  const table = `public.${tableName(n)}`;
  let result: Measured;
  if (method === 'migrate') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-bench-dir-'));
    try {
      result = await runMigrate({ ...ends, repoRoot, table: `${table}:time`, from: range.from, until: range.until, dir, extraArgs: migrateArgs });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    const run = method === 'binary' ? runBinaryPipe : runTextPipe;
    result = await run(ends, psql, rangeSelect(n, range), table, repoRoot);
  }
  if (result.code !== 0) throw new Error(`${LABELS[method]} failed (exit ${result.code}):\n${result.stderr.slice(-3000)}`);
  const loaded = await targetCount(ends.targetUrl, n);
  if (loaded !== n) throw new Error(`${LABELS[method]} loaded ${loaded} rows, expected ${n}`);
  return result;
}

async function benchSize(ends: Endpoints, psql: string, n: number, which: Method[], count: number): Promise<MethodResult[]> {
  const range = await sourceRange(ends.sourceUrl, n);
  const streamBytes = await copyStreamBytes(ends.sourceUrl, n, range, 'binary');
  const results = which.map((method) => ({ method: LABELS[method], rows: n, streamBytes, runs: [] as Measured[] }));
  for (let run = 0; run < count; run += 1) {
    // Alternate the order so no method always runs on a warmer (or more cluttered) cluster.
    const order = which.map((method, i) => ({ method, i }));
    if (run % 2 === 1) order.reverse();
    for (const { method, i } of order) {
      const measured = await runOnce(method, ends, psql, n, range);
      results[i]?.runs.push(measured);
      log(`  ${n.toLocaleString('en-US')} rows, run ${run + 1}/${count}, ${LABELS[method]}: ${measured.seconds.toFixed(2)} s`);
    }
  }
  return results;
}

async function main(): Promise<void> {
  const psql = requirePgTool('psql').path;
  log(`clusters under ${BENCH_ROOT}${flags.fresh ? ' (fresh)' : ''} …`);
  const clusters = await startBenchClusters(Boolean(flags.fresh));
  // Ctrl-C: shut our servers down cleanly (their data stays for the next run).
  process.once('SIGINT', () => { clusters.stop(); process.exit(130); });
  try {
    for (const cluster of [clusters.source, clusters.target]) await ensureDatabase(cluster.url(), 'bench');
    const ends: Endpoints = { sourceUrl: clusters.source.url('bench'), targetUrl: clusters.target.url('bench') };
    const timescale = clusters.target.hasTimescale;
    const sizes = [rows, ...(smallRows > 0 && smallRows !== rows && methods.includes('migrate') ? [smallRows] : [])];
    let note = '';
    for (const n of sizes) {
      const generated = await ensureSourceTable(ends.sourceUrl, n, log);
      if (!generated) log(`reusing source table ${tableName(n)} (${n.toLocaleString('en-US')} rows)`);
      note = await ensureTargetTable(ends.targetUrl, n, timescale);
    }

    const loadAtStart = os.loadavg().map((l) => l.toFixed(2)).join(' ');
    log(`benchmarking ${rows.toLocaleString('en-US')} rows, ${runs} run(s) each …`);
    const main = await benchSize(ends, psql, rows, methods, runs);
    const targetBytes = await targetTableBytes(ends.targetUrl, rows, timescale);
    let small: MethodResult[] = [];
    if (sizes.length > 1) {
      log(`memory check: migrate backfill on ${smallRows.toLocaleString('en-US')} rows …`);
      small = await benchSize(ends, psql, smallRows, ['migrate'], runs);
    }

    const byMethod = (m: Method): MethodResult | undefined => main.find((r) => r.method === LABELS[m]);
    const out: string[] = [
      '',
      `backfill benchmark: ${rows.toLocaleString('en-US')} rows of public.${tableName(rows)}, ` +
        `binary COPY stream ${formatBytes(main[0]?.streamBytes ?? 0)}, target after load ${formatBytes(targetBytes)}`,
      `target: ${note}; source and target clusters on this machine (${os.cpus().length} CPUs), median of ${runs} run(s)`,
      // Other work on the machine skews every method; the load average says how quiet it was.
      `load average at start ${loadAtStart}, at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      `migrate args: ${migrateArgs.length > 0 ? migrateArgs.join(' ') : '(defaults)'}; ` +
        `CPU and peak RSS by ${hasGnuTime ? 'GNU time' : 'sampling /proc/<pid>/status'} (client processes only)`,
      '',
      formatResults([...main, ...small]),
      '',
      `migrate throughput vs binary pipe: ${throughputRatio(byMethod('migrate'), byMethod('binary'))}` +
        `   vs text pipe: ${throughputRatio(byMethod('migrate'), byMethod('text'))}   (>1.00x means migrate is faster)`,
    ];
    for (const result of [byMethod('migrate'), small[0]]) {
      if (result) out.push(describeMigrateRuns(result, result.runs.map((r) => parseMigrateResult(r.stdout))));
    }
    const bigRss = byMethod('migrate')?.runs.map((r) => r.peakRssKb ?? 0);
    const smallRss = small[0]?.runs.map((r) => r.peakRssKb ?? 0);
    if (bigRss && smallRss) {
      // The process's floor (Node plus the CLI's modules), so the backfill's own share is visible.
      const floor = await measure(process.execPath, [path.join(repoRoot, 'bin', 'migrate'), '--version'], process.env, repoRoot);
      out.push(`migrate peak RSS: ${formatBytes(Math.max(...smallRss) * 1024)} at ${smallRows.toLocaleString('en-US')} rows, ` +
        `${formatBytes(Math.max(...bigRss) * 1024)} at ${rows.toLocaleString('en-US')} rows ` +
        `(\`migrate --version\` alone: ${floor.peakRssKb === undefined ? '?' : formatBytes(floor.peakRssKb * 1024)})`);
    }
    out.push('timescaledb-parallel-copy is not installed here, so the reference pipe is measured as psql \\copy csv ' +
      'into a single psql \\copy (the reference procedure feeds timescaledb-parallel-copy instead).');
    console.log(out.join('\n'));
  } finally {
    clusters.stop();
  }
}

main().catch((error: unknown) => {
  log(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
