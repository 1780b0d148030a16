/** `migrate backfill`: copy [from, T) of each table from source to target, exactly once, resumable, in parallel. */
import type { Command } from 'commander';
import type { Endpoint } from '../../core/connection.js';
import { InterruptedError, MigrateError, UsageError } from '../../core/errors.js';
import { displayName, displayTableSpec, type TableSpec } from '../../core/identifiers.js';
import { suggestCommand, type RepeatFlags } from '../../core/suggest.js';
import type { BackfillResult, BackfillTableInput } from '../../steps/backfill/index.js';
import { describeHandling, type UserTriggerChoice } from '../../steps/backfill/user-triggers.js';
import { collect, parseTables, userTriggersOption, withSharedOptions, withTableOption, type CommonFlags } from '../options.js';
import { prepareRuntime, printResult, recordOutcome } from '../run.js';
import { formatBytes, formatTable } from '../../core/text-table.js';

interface Flags extends CommonFlags {
  table?: string[];
  until?: string[];
  from?: string[];
  timezone?: string;
  workers: string;
  slice?: string[];
  redo?: boolean;
  includeInfinity?: boolean;
  userTriggers?: UserTriggerChoice;
}

export function register(program: Command): void {
  withTableOption(withSharedOptions(program.command('backfill')
    .description('copy [start, T) of each table from source to target: exactly once, resumable, in parallel')),
  'a table to backfill (repeatable): schema.table[:time_column]; default: the tables with recorded completion points')
    .option('--until <T>', 'completion point (exclusive): VALUE for every table, or schema.table=VALUE (repeatable); ' +
      'default: the point recorded by `migrate completion-point`', collect)
    .option('--from <start>', 'lower bound (inclusive): VALUE or schema.table=VALUE; default: -infinity (every row below T)', collect)
    .option('--timezone <zone>', 'zone of --until/--from values written without an offset (e.g. Europe/Berlin)')
    .option('--workers <n>', 'parallel workers in this process, each with one connection per side', '4')
    .option('--slice <width>', "slice width: an interval ('1 day') for time columns, a number for integer ones, or " +
      "schema.table=WIDTH per table (repeatable); default: the target's chunk interval, sized from row estimates", collect)
    .option('--redo', 'plan again and re-copy every slice, also the ones already done')
    .option('--include-infinity', 'also copy source rows whose time is +infinity (no dual-write brings them), with one more slice')
    .addOption(userTriggersOption())
    .addHelpText('after', `
Each slice is one target transaction: claim it in the ledger (_migrate.backfill_slice), delete the
target's rows in the slice's range, COPY the source's rows in, mark it done, commit. Rows >= T are
never touched. User triggers on the tables do not fire for copied rows (their effects came with the
schema); dual-writes still fire them. Interrupted or failed runs continue where they stopped when run again (or with
\`migrate resume\`); several processes, on several machines, can share the work.
Exit status: 0 done, 1 failed (done slices are kept), 2 bad usage, 130 interrupted.`)
    .action(async (flags: Flags) => {
      const workers = Number(flags.workers);
      if (!/^\d+$/.test(flags.workers.trim()) || workers < 1 || workers > 64) {
        throw new UsageError(`--workers ${JSON.stringify(flags.workers)} is not a whole number from 1 to 64.`, { hint: 'Try --workers 4.' });
      }
      let tables = parseTables(flags.table);
      const runtime = await prepareRuntime(flags, { writesDir: true, recordsState: true });
      const { ctx } = runtime;
      const points = await import('../../core/completion-points.js');
      if (tables.length === 0) tables = points.recordedTables(await points.readCompletionPoints(ctx.dir));
      if (tables.length === 0) {
        throw new UsageError('No table to backfill: no --table given and no completion point recorded in ' +
          `${ctx.dir}.`, { hint: `Name the tables: \`${suggestCommand(flags, 'backfill', ['--table', 'schema.table', '--until', 'T'])}\`, or record ` +
          `T first with \`${suggestCommand(flags, 'completion-point', ['--table', 'schema.table', '--until', 'T'])}\`.` });
      }
      const slices = points.splitValueFlags(flags.slice ?? [], tables, '--slice');
      const inputs = (await resolveInputs(tables, flags, ctx)).map((input) => {
        const own = slices.perTable.get(displayName(input.table));
        return own === undefined ? input : { ...input, slice: own };
      });
      const { runBackfill } = await import('../../steps/backfill/index.js');
      const startedAt = new Date().toISOString();
      const record = (status: 'done' | 'failed' | 'interrupted', message: string, data?: unknown): Promise<void> =>
        recordOutcome(runtime, ['backfill'], { status, message, startedAt, ...(data ? { data } : {}) });
      let result: BackfillResult;
      try {
        result = await runBackfill({ tables: inputs, workers, ...(slices.all !== undefined ? { slice: slices.all } : {}),
          ...(flags.redo ? { redo: true } : {}), ...(flags.includeInfinity ? { includeInfinity: true } : {}),
          ...(flags.timezone ? { timezone: flags.timezone } : {}), ...(flags.userTriggers ? { userTriggers: flags.userTriggers } : {}) }, ctx);
      } catch (error) {
        await record(error instanceof InterruptedError ? 'interrupted' : 'failed', (error as Error).message);
        throw error;
      }
      const rows = result.tables.reduce((n, t) => n + t.rowsCopied, 0);
      const done = result.tables.reduce((n, t) => n + t.slicesDone, 0);
      const total = result.tables.reduce((n, t) => n + t.slicesTotal, 0);
      await record(result.complete ? 'done' : 'failed', `${done}/${total} slices done; copied ${rows.toLocaleString('en-US')} rows this run`,
        { tables: result.tables, userTriggers: result.userTriggers, refreshedViews: result.refreshedViews,
          viewRefreshFailures: result.viewRefreshFailures });
      printResult(runtime, result, () => formatResult(result, flags));
      if (!result.complete && !result.dryRun) {
        // An error, not just exit 1, so a --json reader finds `error` beside the result (output.ts).
        throw new MigrateError(`${total - done} of ${total} slices are not done yet (the done ones are kept).`, {
          hint: 'Run the same command again, or `migrate resume`.' });
      }
    });
}

/** --until (or the recorded completion points) and --from, per table, typed by each table's time column. */
async function resolveInputs(tables: TableSpec[], flags: Flags, ctx: { source: Endpoint; dir: string }): Promise<BackfillTableInput[]> {
  const { withClient } = await import('../../core/db.js');
  const { resolveUntil, resolveFrom } = await import('../../core/completion-points.js');
  return withClient(ctx.source, async (source) => {
    const base = { tables, dir: ctx.dir, source, ...(flags.timezone ? { timezone: flags.timezone } : {}) };
    const until = await resolveUntil({ ...base, untilFlags: flags.until ?? [] });
    const from = await resolveFrom({ ...base, fromFlags: flags.from ?? [] });
    return tables.map((spec) => {
      const key = displayName(spec);
      const u = until.get(key);
      if (!u) {
        throw new UsageError(`No --until for ${key}.`, {
          hint: `Pass --until T or run \`${suggestCommand(flags, 'completion-point', ['--table', displayTableSpec(spec)])}\`.` });
      }
      const f = from.get(key)?.from;
      return { table: spec, timeColumn: u.column, until: u.until, ...(f !== undefined ? { from: f } : {}) };
    });
  }, { applicationName: 'migrate backfill' });
}

function formatResult(result: BackfillResult, flags: Flags): string {
  if (result.dryRun) {
    return `Dry run: nothing was changed. ${result.tables.map((t) => `${t.table}: ${t.slicesTotal} slice(s) to copy`).join('; ')}.`;
  }
  const table = formatTable(result.tables, [
    { header: 'table', value: (t) => t.table },
    { header: 'range', value: (t) => `[${t.from}, ${t.until})` },
    { header: 'slices', value: (t) => `${t.slicesDone}/${t.slicesTotal}`, align: 'right' },
    { header: 'rows copied', value: (t) => t.rowsCopied.toLocaleString('en-US'), align: 'right' },
    { header: 'replaced', value: (t) => t.rowsReplaced.toLocaleString('en-US'), align: 'right' },
    { header: 'size', value: (t) => formatBytes(t.bytesCopied), align: 'right' },
    { header: 'time', value: (t) => `${(t.durationMs / 1000).toFixed(1)}s`, align: 'right' },
    { header: 'rows/s', value: (t) => t.rowsPerSecond.toLocaleString('en-US'), align: 'right' },
    { header: 'MB/s', value: (t) => t.mbPerSecond.toFixed(1), align: 'right' },
    { header: 'format', value: (t) => t.format },
  ]);
  const lines = [table];
  const triggers = describeHandling(result.userTriggers);
  if (triggers) lines.push('', triggers);
  if (result.restoredPolicies.length > 0) {
    lines.push('', `Background jobs restored: ${result.restoredPolicies.map((j) => `job ${j.jobId} (${j.wasScheduled ? 'on' : 'off, as before'})`).join(', ')}.`);
  }
  if (result.refreshedViews.length > 0) {
    lines.push(`Materialized views refreshed: ${result.refreshedViews.join(', ')}.`);
  }
  for (const failure of result.viewRefreshFailures) {
    lines.push(`Materialized view NOT refreshed: ${failure.view} (${failure.reason}); it keeps its previous contents.`);
  }
  if (result.refreshedAggregates.length > 0) {
    lines.push(`Continuous aggregates refreshed over the backfilled range: ${result.refreshedAggregates.join(', ')}.`);
  }
  const decompressed = result.tables.reduce((n, t) => n + t.decompressedChunks.length, 0);
  const compressed = result.tables.filter((t) => t.compressedChunks.length > 0);
  if (decompressed > 0) {
    lines.push(`${decompressed} compressed chunk(s) in the range were decompressed before copying` +
      `${compressed.length > 0 ? '; those compressed on the source are compressed again (below), the others are left to the compression policy' : '; the compression policy compresses them again'}.`);
  }
  for (const t of compressed) {
    lines.push(`Compressed ${t.compressedChunks.length} chunk(s) of ${t.table}, as on the source: ${t.compressedChunks.join(', ')}.`);
  }
  for (const failure of result.compressionFailures) {
    lines.push(`NOT compressed: ${failure} (every row is there; run compress_chunk on them, or let a compression policy do it).`);
  }
  lines.push('', result.complete ? `Backfill complete. Next: \`${suggestCommand(flags, 'validate', sameTables(flags))}\`.` : 'Some slices are not done yet: run the same command again.');
  return lines.join('\n');
}

/** --table, --until, --from and --timezone as this run was given them, for a suggested `migrate validate`. */
function sameTables(flags: Flags & RepeatFlags): string[] {
  return [...parseTables(flags.table).flatMap((t) => ['--table', displayTableSpec(t)]),
    ...(flags.until ?? []).flatMap((v) => ['--until', v]), ...(flags.from ?? []).flatMap((v) => ['--from', v]),
    ...(flags.timezone ? ['--timezone', flags.timezone] : [])];
}
