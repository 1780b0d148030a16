/** `migrate hypertables`: convert tables on the target to hypertables, optionally with compression. */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { displayName, displayTableSpec } from '../../core/identifiers.js';
import { suggestCommand, type RepeatFlags } from '../../core/suggest.js';
import type { describeCompression } from '../../steps/hypertable-settings.js';
import type { CompressRequest, HypertableResult } from '../../steps/hypertables.js';
import { collect, parseTables, withSharedOptions, withTableOption, type CommonFlags, type TableFlags } from '../options.js';
import { prepareRuntime, printResult, recordOutcome } from '../run.js';
import { formatTable } from '../../core/text-table.js';

interface HypertablesFlags extends CommonFlags, TableFlags {
  chunkInterval?: string;
  compress?: boolean;
  segmentBy?: string[];
  orderBy?: string;
  compressAfter?: string;
  fix?: boolean;
}

/** This run's command line, with --fix or without (connection strings as given, without their passwords). */
function thisCommand(flags: HypertablesFlags, fix = true): string {
  return suggestCommand(flags, 'hypertables', [...parseTables(flags.table).flatMap((t) => ['--table', displayTableSpec(t)]),
    ...(flags.chunkInterval !== undefined ? ['--chunk-interval', flags.chunkInterval] : []),
    ...(flags.compress ? ['--compress'] : []), ...(flags.segmentBy ?? []).flatMap((c) => ['--segment-by', c]),
    ...(flags.orderBy !== undefined ? ['--order-by', flags.orderBy] : []),
    ...(flags.compressAfter !== undefined ? ['--compress-after', flags.compressAfter] : []),
    ], fix ? ['--fix'] : []);
}

export function register(program: Command): void {
  withTableOption(withSharedOptions(program.command('hypertables')
    .description('convert tables on the target to hypertables (create_hypertable), optionally with compression')),
  'table to convert, schema.table[:time_column] (repeatable); without :column the time column is detected')
    .option('--chunk-interval <interval>', "chunk interval for every --table: '1 day', '7 days'; an integer in the " +
      "column's units for integer time columns (default: sized from the source's data, else 7 days)")
    .option('--compress', 'enable compression (columnstore) on the converted tables')
    .option('--segment-by <columns>', 'compression segment-by column(s), comma-separated or repeated (implies --compress)', collect)
    .option('--order-by <columns>', "compression order, e.g. 'time DESC' (implies --compress; default: TimescaleDB's)")
    .option('--compress-after <interval>', "add a compression policy: compress chunks older than this, e.g. '7 days' " +
      '(implies --compress)')
    .option('--fix', 'remove the blockers the tool can fix on the target (a key without the time column is widened, ' +
      'foreign keys to it dropped; inheritance detached; routing triggers dropped), listing each change and its cost first')
    .addHelpText('after', `
Examples:
  migrate hypertables --table public.metrics:time --table '"Sales Data"."Orders":"Created At"'
  migrate hypertables --table events:ts_ms --chunk-interval 86400000    # bigint epoch milliseconds
  migrate hypertables --table metrics --compress --segment-by device_id --order-by 'time DESC' --compress-after '7 days'
  migrate hypertables --table metrics --dry-run                         # print the SQL; change nothing
  migrate hypertables --table orders:created_at --fix --dry-run         # what --fix would change, and its cost

Every table is checked before any is converted; each conversion is its own transaction. Tables that
already are hypertables (a TimescaleDB source's schema brings them so) are left as they are, so
running again is safe; the table shows the chunk interval and compression they have.
Exit status: 0 converted (or already hypertables), 1 failed, 2 bad input: unknown table or column,
unsupported time column type, a primary key or unique index without the time column (nothing is
changed; the message says what --fix would do), --fix with nothing to fix, a target without TimescaleDB.`)
    .action(async (flags: HypertablesFlags) => {
      const tables = parseTables(flags.table);
      if (tables.length === 0) {
        throw new UsageError('Name the tables to convert with --table.', {
          hint: `Run \`${suggestCommand(flags, 'candidates')}\` to list them, then e.g. ` +
            `\`${suggestCommand(flags, 'hypertables', ['--table', 'public.metrics:time'])}\`.`,
        });
      }
      const { parseColumnList } = await import('../../steps/hypertable-sql.js');
      const segmentBy = (flags.segmentBy ?? []).flatMap(parseColumnList);
      const compressing = Boolean(flags.compress) || segmentBy.length > 0 || flags.orderBy !== undefined ||
        flags.compressAfter !== undefined;
      const compress: CompressRequest | undefined = compressing ? {
        ...(segmentBy.length > 0 ? { segmentBy } : {}),
        ...(flags.orderBy !== undefined ? { orderBy: flags.orderBy } : {}),
        ...(flags.compressAfter !== undefined ? { compressAfter: flags.compressAfter } : {}),
      } : undefined;
      const runtime = await prepareRuntime(flags, { recordsState: true });
      const { runHypertables } = await import('../../steps/hypertables.js');
      const results = await runHypertables({
        tables: tables.map((table) => ({
          table,
          ...(flags.chunkInterval !== undefined ? { chunkInterval: flags.chunkInterval } : {}),
          ...(compress ? { compress } : {}),
          ...(flags.fix ? { fix: true } : {}),
        })),
        fixAdvice: `\`${thisCommand(flags)}\``,
        again: thisCommand(flags, !!flags.fix),
        fixRequired: Boolean(flags.fix),
      }, runtime.ctx);
      await recordOutcome(runtime, ['hypertables'], { status: 'done',
        message: results.map((r) => `${displayName(r.table)}: ${r.status}`).join(', ') });
      const { describeCompression } = await import('../../steps/hypertable-settings.js');
      printResult(runtime, results, () => formatResults(results, runtime.ctx.dryRun, describeCompression, flags));
    });
}

const STATUS = { converted: 'converted', 'already-hypertable': 'already a hypertable', 'would-convert': 'would convert' };

/** `describe` comes from the step's module, imported when the command runs (so `--help` loads no step). */
export function formatResults(results: HypertableResult[], dryRun: boolean, describe: typeof describeCompression,
  given: RepeatFlags & { table?: string[] } = {}): string {
  const lines = [formatTable(results, [
    { header: 'table', value: (r) => displayName(r.table) },
    { header: 'time column', value: (r) => `${r.timeColumn} (${r.timeType})` },
    { header: 'chunk interval', value: (r) => r.chunkInterval },
    { header: 'status', value: (r) => STATUS[r.status] },
    { header: 'compression', value: (r) => describe(r.compression, r.policyJobId) },
  ])];
  for (const r of results) {
    if (r.status !== 'already-hypertable') lines.push(`  ${displayName(r.table)}: chunk interval ${r.chunkIntervalReason}`);
  }
  for (const r of results) {
    if (!r.fix) continue;
    lines.push('', `${displayName(r.table)}: ${dryRun ? 'would be fixed' : 'fixed'} with --fix:`,
      ...r.fix.changes.map((c) => `  - ${c}`), '  What it cost:', ...r.fix.costs.map((c) => `  - ${c}`));
  }
  lines.push('', dryRun ? 'Dry run: the SQL above would run; nothing was changed.'
    : `Next: dual-write to both databases, then \`${suggestCommand(given, 'completion-point',
      parseTables(given.table).flatMap((t) => ['--table', displayTableSpec(t)]))}\`.`);
  return lines.join('\n');
}
