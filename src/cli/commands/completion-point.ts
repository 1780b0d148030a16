/** `migrate completion-point`: suggest, check and record the completion point T per table. */
import type { Command } from 'commander';
import { MigrateError, UsageError } from '../../core/errors.js';
import { displayTableSpec } from '../../core/identifiers.js';
import { suggestCommand } from '../../core/suggest.js';
import { collect, withSharedOptions, withTableOption, parseTables, type CommonFlags } from '../options.js';
import { prepareRuntime, printResult, recordOutcome } from '../run.js';
import type { CompletionPointResult, TablePoint } from '../../steps/completion-point.js';

interface Flags extends CommonFlags {
  table?: string[];
  until?: string[];
  lateness?: string;
  margin?: string;
  timezone?: string;
}

export function register(program: Command): void {
  withTableOption(withSharedOptions(program.command('completion-point')
    .description('suggest, check and record the completion point T: backfill copies rows < T, dual-writes hold rows >= T')),
  'a table to choose T for (repeatable): schema.table[:time_column]')
    .option('--until <T>', 'record T after checking it: VALUE for every table, or schema.table=VALUE (repeatable)', collect)
    .option('--lateness <interval>', 'how late rows may arrive; T stays before now minus this', '10 minutes')
    .option('--margin <interval>', 'how long after the first dual-written row every writer is surely dual-writing', '5 minutes')
    .option('--timezone <zone>', 'zone of --until values written without an offset, and of timestamp/date columns (e.g. Europe/Berlin)')
    .action(async (flags: Flags) => {
      const tables = parseTables(flags.table);
      const recording = (flags.until ?? []).length > 0;
      const runtime = await prepareRuntime(flags, { writesDir: recording, recordsState: recording });
      const { runCompletionPoint } = await import('../../steps/completion-point.js');
      const result = await runCompletionPoint({
        tables,
        ...(flags.until ? { until: flags.until } : {}),
        ...(flags.lateness !== undefined ? { lateness: flags.lateness } : {}),
        ...(flags.margin !== undefined ? { margin: flags.margin } : {}),
        ...(flags.timezone !== undefined ? { timezone: flags.timezone } : {}),
      }, runtime.ctx);
      if (result.recorded && !result.recorded.dryRun) {
        // So `migrate status` and `migrate resume` know T was chosen outside the wizard.
        await recordOutcome(runtime, ['completion-point'], {
          status: 'done', message: result.tables.map((p) => `${p.table}: ${p.until}`).join('; '),
          data: { tables: result.tables.map((p) => ({ table: p.table, column: p.column, type: p.type, until: p.until })) },
        });
      }
      printResult(runtime, result, () => formatResult(result));
      throwForBlockedTables(result, againCommand(flags));
    });
}

function formatResult(result: CompletionPointResult): string {
  const lines: string[] = [`now ${result.now} · margin ${result.margin} · lateness ${result.lateness}`, ''];
  for (const point of result.tables) lines.push(...formatPoint(point), '');
  if (result.recorded) {
    lines.push(result.recorded.dryRun
      ? `Dry run: nothing recorded (would write ${result.recorded.file}).`
      : `Recorded in ${result.recorded.file}.`);
  }
  if (result.next) lines.push(result.recorded ? 'Next, backfill [start, T):' : 'To record it:', `  ${result.next}`);
  return lines.join('\n').trimEnd();
}

function formatPoint(point: TablePoint): string[] {
  const rows = (n: number): string => (n < 0 ? 'not analyzed' : `~${Math.round(n).toLocaleString('en-US')}`);
  const field = (label: string, value: string): string => `  ${label.padEnd(34)}${value}`;
  const lines = [`${point.table} — ${point.column} (${point.type})`,
    field('first dual-written row (target):', point.earliestDualWrite ?? 'none: dual-writes have not started'),
    field('latest row (source):', point.latestOnSource ?? 'none: the source table is empty'),
    field('rows (estimated):', `source ${rows(point.estimatedRows.source)}, target ${rows(point.estimatedRows.target)}`)];
  if (point.range) {
    const r = point.range;
    lines.push(field('consistency range:', `${r.lower} … ${r.upper}${r.open ? '' : ' (empty)'}`));
    if (r.readable) lines.push(field('  read as times:', `${r.readable.lower} … ${r.readable.upper}`));
  }
  if (point.suggested !== undefined) {
    lines.push(field('suggested T:', `${point.suggested}${point.range?.readable?.suggested ? ` (${point.range.readable.suggested})` : ''}`));
  }
  if (point.until !== undefined) lines.push(field('T:', point.until));
  for (const note of point.notes) lines.push(`  · ${note}`);
  return lines;
}

/** This run's command line without --until (tables, --lateness, --margin, --timezone, --dir and connections as given). */
function againCommand(flags: Flags): string {
  return suggestCommand(flags, 'completion-point', [...parseTables(flags.table).flatMap((t) => ['--table', displayTableSpec(t)]),
    ...(flags.lateness !== undefined && flags.lateness !== '10 minutes' ? ['--lateness', flags.lateness] : []),
    ...(flags.margin !== undefined && flags.margin !== '5 minutes' ? ['--margin', flags.margin] : []),
    ...(flags.timezone !== undefined ? ['--timezone', flags.timezone] : [])]);
}

/** A suggestion that could not be made is not success: say why and what to do. */
function throwForBlockedTables(result: CompletionPointResult, again: string): void {
  const notStarted = result.tables.filter((p) => p.status === 'no-dual-writes');
  const empty = result.tables.filter((p) => p.status === 'range-empty');
  const unknown = result.tables.filter((p) => p.status === 'units-unknown');
  if (notStarted.length > 0) {
    throw new MigrateError(`Dual-writes have not started for ${notStarted.map((p) => p.table).join(', ')}: ` +
      'the target table has no rows yet, so there is no completion point to suggest.', {
      hint: 'Start writing to both databases from the application, wait until rows arrive in the target, then run ' +
        `\`${again}\` again.`,
    });
  }
  if (empty.length > 0) {
    throw new MigrateError(`The consistency range is still empty for ${empty.map((p) => p.table).join(', ')}.`, {
      hint: `Run \`${again}\` again after ${empty.map((p) => p.range?.opensAt).filter(Boolean).join(', ')}` +
        ' (or lower --margin / --lateness if you are sure).',
    });
  }
  if (unknown.length > 0) {
    throw new UsageError(`Cannot tell the time units of ${unknown.map((p) => `${p.table}:${p.column}`).join(', ')}, ` +
      'so no completion point can be suggested.', {
      hint: 'Choose T yourself, at or after the first dual-written row shown above, and record it with ' +
        '--until schema.table=VALUE.',
    });
  }
}
