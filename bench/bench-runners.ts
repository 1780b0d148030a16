/**
 * The three ways to move the range, each timed the same way: wall clock, CPU seconds of the client
 * processes (user + system) and peak RSS. GNU time (`/usr/bin/time -f … -o file`) measures them
 * when installed; otherwise we sample /proc/<pid>/status (VmHWM is the kernel's own peak, so a
 * 100 ms sample right before exit sees the true maximum of the process we spawned).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { splitPassword } from '../src/core/connection.js';

const GNU_TIME = '/usr/bin/time';
export const hasGnuTime = existsSync(GNU_TIME);

export interface Measured {
  seconds: number;
  cpuSeconds: number | undefined;
  peakRssKb: number | undefined;
  code: number | null;
  stderr: string;
  /** The tail of stdout (migrate --json prints its result there). */
  stdout: string;
}

function readHwmKb(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Run a command; resolves with what it cost. Never rejects on a non-zero exit (the caller checks `code`). */
export function measure(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Measured> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'migrate-bench-time-'));
  const timeFile = path.join(scratch, 'time.txt');
  const [file, argv] = hasGnuTime ? [GNU_TIME, ['-f', '%U %S %M', '-o', timeFile, command, ...args]] : [command, args];
  const started = process.hrtime.bigint();
  const child = spawn(file, argv, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-20_000); });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout = (stdout + chunk).slice(-200_000); });
  let sampled: number | undefined;
  const sampler = hasGnuTime ? undefined : setInterval(() => {
    const kb = child.pid === undefined ? undefined : readHwmKb(child.pid);
    if (kb !== undefined) sampled = Math.max(sampled ?? 0, kb);
  }, 100);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (sampler) clearInterval(sampler);
      let cpuSeconds: number | undefined;
      let peakRssKb = sampled;
      if (hasGnuTime && existsSync(timeFile)) {
        // The last line holds our format; earlier lines may say "Command exited with non-zero status".
        const last = readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
        const [user, sys, rss] = last.split(/\s+/).map(Number);
        cpuSeconds = (user ?? 0) + (sys ?? 0);
        peakRssKb = rss;
      }
      rmSync(scratch, { recursive: true, force: true });
      resolve({ seconds, cpuSeconds, peakRssKb, code, stderr, stdout });
    });
  });
}

export interface Endpoints {
  sourceUrl: string;
  targetUrl: string;
}

export interface MigrateRun extends Endpoints {
  repoRoot: string;
  table: string;
  from: string;
  until: string;
  dir: string;
  extraArgs: string[];
}

export interface MigrateSummary {
  workers: number;
  slices: number;
  /** First slice started to last slice committed, as migrate measured it. */
  copySeconds: number;
  totalSeconds: number;
}

/** migrate --json prints NDJSON events, then the result as one indented JSON document. */
export function parseMigrateResult(stdout: string): MigrateSummary | undefined {
  const start = stdout.lastIndexOf('\n{\n');
  try {
    const result = JSON.parse(stdout.slice(start + 1)) as { workers: number; durationMs: number;
      tables: { durationMs: number; slicesTotal: number }[] };
    return { workers: result.workers, slices: result.tables.reduce((n, t) => n + t.slicesTotal, 0),
      copySeconds: Math.max(...result.tables.map((t) => t.durationMs)) / 1000, totalSeconds: result.durationMs / 1000 };
  } catch {
    return undefined;
  }
}

/** `node bin/migrate backfill …` from the built dist. Connection strings go in SOURCE/TARGET, not argv. */
export function runMigrate(run: MigrateRun): Promise<Measured> {
  const env = { ...process.env, SOURCE: run.sourceUrl, TARGET: run.targetUrl, CI: 'true', NO_COLOR: '1' };
  return measure(process.execPath, [path.join(run.repoRoot, 'bin', 'migrate'), 'backfill', '--dir', run.dir,
    '--table', run.table, '--from', run.from, '--until', run.until, '--json', ...run.extraArgs], env, run.repoRoot);
}

/**
 * `psql | psql` under bash with pipefail. SQL and connection strings reach the shell through the
 * environment (no quoting games) and passwords through PGPASSWORD (not argv).
 */
export function runPipe(ends: Endpoints, psql: string, sourceCommand: string, targetCommand: string, cwd: string): Promise<Measured> {
  const source = splitPassword(ends.sourceUrl);
  const target = splitPassword(ends.targetUrl);
  const env = {
    ...process.env, PSQL: psql,
    SRC_URL: source.connectionString, SRC_PW: source.password ?? '', SRC_CMD: sourceCommand,
    TGT_URL: target.connectionString, TGT_PW: target.password ?? '', TGT_CMD: targetCommand,
  };
  const script = 'PGPASSWORD="$SRC_PW" "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$SRC_URL" -c "$SRC_CMD" | ' +
    'PGPASSWORD="$TGT_PW" "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$TGT_URL" -c "$TGT_CMD"';
  return measure('bash', ['-o', 'pipefail', '-c', script], env, cwd);
}

/** Plain binary COPY: what migrate does, without slices, ledger or transactions of its own. */
export function runBinaryPipe(ends: Endpoints, psql: string, select: string, table: string, cwd: string): Promise<Measured> {
  return runPipe(ends, psql, `COPY (${select}) TO STDOUT (FORMAT binary)`, `COPY ${table} FROM STDIN (FORMAT binary)`, cwd);
}

/** The reference procedure's text pipe (psql \copy csv on both ends; no timescaledb-parallel-copy here). */
export function runTextPipe(ends: Endpoints, psql: string, select: string, table: string, cwd: string): Promise<Measured> {
  return runPipe(ends, psql, `\\copy (${select}) TO stdout WITH (format csv)`, `\\copy ${table} FROM stdin WITH (format csv)`, cwd);
}
