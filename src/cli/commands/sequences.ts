/** `migrate sequences`: advance every target sequence past every id, right before the switch-over. */
import type { Command } from 'commander';
import { MigrateError, UsageError } from '../../core/errors.js';
import { suggestCommand } from '../../core/suggest.js';
import { withSharedOptions, type ConnectionFlags, type DirFlags, type DryRunFlags, type JsonFlags } from '../options.js';
import { prepareRuntime, printResult } from '../run.js';
import { formatTable } from '../../core/text-table.js';
import type { SequencesResult } from '../../steps/sequences.js';

interface Flags extends ConnectionFlags, DirFlags, DryRunFlags, JsonFlags { margin: string }

export function register(program: Command): void {
  withSharedOptions(program.command('sequences')
    .description('set every target sequence past every id: the source\'s last value and the highest id on either side'))
    .option('--margin <n>', 'ids to add beyond that, for ids the source hands out until the switch', '0')
    .addHelpText('after', `
Each sequence on the target (serial, identity, or used by a nextval() default) is set to at least
the larger of the source sequence's last value and the highest value in the columns that use it,
on either side, plus --margin. Sequences only move forward; running it again is safe. The source
keeps counting while dual-writes run: run it right before you switch the application over.
Exit status: 0 done, 1 failed, 2 bad usage.`)
    .action(async (flags: Flags) => {
      if (!/^\s*\d+\s*$/.test(flags.margin) || !Number.isSafeInteger(Number(flags.margin))) {
        throw new UsageError(`--margin ${JSON.stringify(flags.margin)} is not a whole number of ids.`, { hint: 'Try --margin 1000.' });
      }
      const runtime = await prepareRuntime(flags);
      const { runSequences } = await import('../../steps/sequences.js');
      const result = await runSequences({ margin: Number(flags.margin) }, runtime.ctx);
      printResult(runtime, result, () => formatSequences(result));
      if (result.outOfRange.length > 0) {
        throw new MigrateError(`${result.outOfRange.length} sequence(s) could not be set past every id: ${result.outOfRange.join(', ')} ` +
          '(the value needed lies past their limit; the others were set).', {
          hint: 'Lower --margin, or widen their MAXVALUE (MINVALUE for descending ones), then run ' +
            `\`${suggestCommand(flags, 'sequences', [], ['--margin', flags.margin.trim()])}\` again.`,
        });
      }
    });
}

export function formatSequences(result: SequencesResult): string {
  if (result.sequences.length === 0) return 'The target has no sequences.';
  const show = (v: string | null): string => v ?? '-';
  const table = formatTable(result.sequences, [
    { header: 'sequence', value: (s) => s.sequence },
    { header: 'used by', value: (s) => s.columns.join(', ') || '-' },
    { header: 'before', value: (s) => show(s.before), align: 'right' },
    { header: 'source last', value: (s) => show(s.sourceLastValue), align: 'right' },
    { header: 'highest id', value: (s) => show(s.highestId), align: 'right' },
    { header: 'after', value: (s) => show(s.after), align: 'right' },
    { header: 'action', value: (s) => (result.dryRun && s.action === 'advanced' ? 'would advance' : s.action) },
  ]);
  const advanced = result.sequences.filter((s) => s.action === 'advanced').length;
  return `${table}\n\n${result.dryRun ? `Dry run: ${advanced} sequence(s) would be advanced; nothing was changed.`
    : `${advanced} sequence(s) advanced${result.margin ? ` (margin ${result.margin})` : ''}. The source keeps counting while ` +
      'dual-writes run: run this again right before switching the application to the target.'}`;
}
