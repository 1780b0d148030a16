/** `migrate readiness`: the switch-over checklist; exit 0 ready, 1 not. Read-only: it changes and records nothing. */
import type { Command } from 'commander';
import path from 'node:path';
import { splitPassword } from '../../core/connection.js';
import { MigrateError, UsageError } from '../../core/errors.js';
import { DEFAULT_DIR } from '../../core/files.js';
import type { Check, QueryComparison, ReadinessResult } from '../../steps/readiness/index.js';
import {
  parseTables, withSharedOptions, withTableOption, type ConnectionFlags, type DirFlags, type JsonFlags,
} from '../options.js';
import { prepareRuntime, printResult } from '../run.js';
import { formatTable } from '../../core/text-table.js';

interface Flags extends ConnectionFlags, DirFlags, JsonFlags {
  table?: string[];
  lateness?: string;
  queries?: string;
  runs?: string;
  queryTimeout?: string;
}

export function register(program: Command): void {
  withTableOption(withSharedOptions(program.command('readiness')
    .description('the switch-over checklist: backfill, validation, dual-write window, sequences, owners and grants, views, jobs, ' +
      'compression, continuous aggregates, ledger, triggers; exit 0 ready, 1 not')),
  'a table to check (repeatable): schema.table[:time_column]; default: the tables with recorded completion points, else the ledger\'s')
    .option('--lateness <interval>', 'rows this close to now (either side) may be in flight: left out of the dual-write window ' +
      '(default 10 minutes)')
    .option('--queries <file>', 'production read queries (SQL, one statement each) to run on both sides: compare results and latency')
    .option('--runs <n>', 'with --queries: runs per query and side; the median latency is reported (default 3)')
    .option('--query-timeout <duration>', 'with --queries: statement timeout of each run, e.g. 60s, 500ms, 2min (default 60s)')
    .addHelpText('after', `
Every check reads both databases as they are now (run it minutes before switching); state.json adds
what only it knows (the last validation, what schema carried, failed view refreshes). Nothing is
changed or recorded: both sessions are read-only, and a running backfill is never waited on.
Each failing line says what to do. --queries runs each query of FILE in READ ONLY transactions on
both sides at once and compares column names and types, row counts and an order-independent
checksum of the rows; a statement that is not a read is refused before anything runs.
Exit status: 0 ready (warnings allowed), 1 not ready, 2 bad usage (a --queries file that is
missing, empty or holds a statement that is not a read), 130 interrupted.`)
    .action(async (flags: Flags) => {
      if (flags.queries === undefined && (flags.runs !== undefined || flags.queryTimeout !== undefined)) {
        throw new UsageError(`${flags.runs !== undefined ? '--runs' : '--query-timeout'} applies to --queries only.`, {
          hint: 'Add --queries FILE, or leave the flag out.' });
      }
      const runs = flags.runs === undefined ? undefined : parseRuns(flags.runs);
      const timeoutMs = flags.queryTimeout === undefined ? undefined : parseDuration(flags.queryTimeout);
      const tables = parseTables(flags.table);
      const runtime = await prepareRuntime(flags);
      const { runReadiness } = await import('../../steps/readiness/index.js');
      const result = await runReadiness({
        tables,
        ...(flags.lateness !== undefined ? { lateness: flags.lateness } : {}),
        ...(flags.queries !== undefined ? { queries: { file: flags.queries, ...(runs ? { runs } : {}), ...(timeoutMs ? { timeoutMs } : {}) } } : {}),
        repeat: repeatedFlags(flags),
      }, runtime.ctx);
      printResult(runtime, result, () => formatReadiness(result));
      if (!result.ready) {
        const failed = result.checks.filter((c) => c.status === 'fail').map((c) => c.title);
        const queries = (result.queries ?? []).filter((q) => !q.match).length;
        throw new MigrateError(`Not ready to switch over: ${[...failed, ...(queries > 0 ? [`${queries} quer${queries === 1 ? 'y differs' : 'ies differ'}`] : [])]
          .join(', ')}.`, {
          hint: runtime.json ? `${result.checks.filter((c) => c.status === 'fail').map((c) => `${c.title}: ${c.fix ?? c.detail}`).join('\n      ')}` +
            `\n      Then run \`${result.commands.again}\` again.` : `Do what "To fix" says, then run \`${result.commands.again}\` again.`,
        });
      }
    });
}

/**
 * What suggested command lines repeat: the connection strings as given, without their passwords
 * (they come from PGPASSWORD or ~/.pgpass when pasted), and --dir unless it is the default.
 */
export function repeatedFlags(flags: { source?: string | undefined; target?: string | undefined; dir: string }):
  { source?: string; target?: string; dir?: string } {
  const strip = (value: string | undefined): string | undefined => (value === undefined ? undefined : splitPassword(value).connectionString);
  const [source, target] = [strip(flags.source), strip(flags.target)];
  return { ...(source !== undefined ? { source } : {}), ...(target !== undefined ? { target } : {}),
    ...(path.resolve(flags.dir) !== path.resolve(DEFAULT_DIR) ? { dir: flags.dir } : {}) };
}

function parseRuns(text: string): number {
  const n = Number(text.trim());
  if (!/^\s*\d+\s*$/.test(text) || n < 1 || n > 100) {
    throw new UsageError(`--runs ${JSON.stringify(text)} is not a whole number from 1 to 100.`, { hint: 'Try --runs 3.' });
  }
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, min: 60_000, h: 3_600_000 };

/** `60s`, `500ms`, `2min`, `1h`; a bare number is seconds. */
function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|h)?\s*$/i.exec(text);
  const ms = match ? Math.round(Number(match[1]) * (UNITS[(match[2] ?? 's').toLowerCase()] ?? 1000)) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > 2_147_483_647) {
    throw new UsageError(`--query-timeout ${JSON.stringify(text)} is not a duration we can use.`, { hint: 'Write it like 60s, 500ms or 2min.' });
  }
  return ms;
}

const STATUS_TEXT: Record<Check['status'], string> = { ok: 'ok', fail: 'FAIL', warn: 'WARN', skipped: 'skipped' };

export function formatReadiness(result: ReadinessResult): string {
  const lines = [`Switch-over checklist for ${result.tables.map((t) => `${t.table} (T ${t.until ?? 'unknown'})`).join(', ')}:`, ''];
  lines.push(formatTable(result.checks, [
    { header: 'check', value: (c) => c.title },
    { header: 'status', value: (c) => STATUS_TEXT[c.status] },
    { header: 'detail', value: (c) => c.detail },
  ]));
  const problems = result.checks.filter((c) => (c.status === 'fail' || c.status === 'warn') && c.fix);
  if (problems.length > 0) {
    lines.push('', 'To fix:');
    for (const c of problems) {
      const [first, ...rest] = (c.fix as string).split('\n');
      lines.push(`  ${STATUS_TEXT[c.status]} ${c.title}: ${first}`, ...rest.map((l) => `      ${l}`));
    }
  }
  if (result.queries) lines.push('', ...formatQueries(result.queries));
  const failing = result.checks.filter((c) => c.status === 'fail').length;
  const differing = (result.queries ?? []).filter((q) => !q.match).length;
  lines.push('', result.ready
    ? `Ready to switch over${result.checks.some((c) => c.status === 'warn') ? ' (see the warnings above)' : ''}. Right before switching, ` +
      `run \`${result.commands.sequences}\` again (the source keeps counting), then point the application at the target.`
    : `Not ready: ${[failing > 0 ? `${failing} check(s) fail` : '', differing > 0 ? `${differing} quer${differing === 1 ? 'y differs' : 'ies differ'}` : '']
      .filter(Boolean).join(', ')}.`);
  return lines.join('\n');
}

function formatQueries(queries: QueryComparison[]): string[] {
  const ms = (v: number | null): string => (v === null ? '-' : v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'));
  const rows = (q: QueryComparison): string => (q.source.rows === q.target.rows ? `${q.source.rows ?? '-'}` : `${q.source.rows ?? '-'} / ${q.target.rows ?? '-'}`);
  const lines = ['Production reads (median of each side\'s runs):', formatTable(queries, [
    { header: 'query', value: (q) => `${q.line}: ${q.label}` },
    { header: 'rows', value: rows, align: 'right' },
    { header: 'result', value: (q) => (q.match ? (q.sameOrder ? 'same' : 'same rows, other order') : 'DIFFERENT') },
    { header: 'source ms', value: (q) => ms(q.source.medianMs), align: 'right' },
    { header: 'target ms', value: (q) => ms(q.target.medianMs), align: 'right' },
    { header: 'target/source', value: (q) => (q.ratio === null ? '-' : `${q.ratio.toFixed(2)}×`), align: 'right' },
  ])];
  for (const q of queries.filter((x) => !x.match)) {
    lines.push(`  line ${q.line} (${q.label}): ${q.difference}`);
    if (q.source.error) lines.push(`    source: ${q.source.error}`);
    if (q.target.error) lines.push(`    target: ${q.target.error}`);
  }
  return lines;
}
