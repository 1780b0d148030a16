import type { Command } from 'commander';
import { MigrateError } from '../../core/errors.js';
import { suggestCommand, type RepeatFlags } from '../../core/suggest.js';
import type { PreflightReport } from '../../steps/preflight.js';
import { withSharedOptions, type ConnectionFlags, type DirFlags, type JsonFlags } from '../options.js';
import { prepareRuntime, printResult } from '../run.js';
import { formatTable } from '../../core/text-table.js';

export function register(program: Command): void {
  withSharedOptions(program.command('preflight')
    .description('check both databases before migrating: versions, client tools, TimescaleDB, extensions, permissions'))
    .option('--no-require-timescale', 'only warn (instead of blocking) when the target has no TimescaleDB')
    .addHelpText('after', '\nExit status: 0 when nothing blocks the migration, 1 when a check blocks it (each with its fix), ' +
      '2 for a login that is refused or a database that does not exist.')
    .action(async (flags: ConnectionFlags & DirFlags & JsonFlags & { requireTimescale: boolean }) => {
      const runtime = await prepareRuntime(flags);
      const { runPreflight } = await import('../../steps/preflight.js');
      const report = await runPreflight({ requireTimescale: flags.requireTimescale }, runtime.ctx);
      printResult(runtime, report, () => formatReport(report, flags));
      const blocks = report.checks.filter((c) => c.status === 'block');
      if (blocks.length > 0) {
        const again = suggestCommand(flags, 'preflight');
        throw new MigrateError(`${blocks.length} check${blocks.length === 1 ? '' : 's'} block${blocks.length === 1 ? 's' : ''} ` +
          `the migration: ${blocks.map((c) => c.label).join(', ')}.`, {
          // The text report lists the fixes already; JSON readers get them here on stderr too.
          hint: runtime.json
            ? `${blocks.map((c) => `${c.label}: ${c.fix ?? c.detail}`).join('\n      ')}\n      Then run \`${again}\` again.`
            : `Fix the BLOCK items as shown under "To fix", then run \`${again}\` again.`,
        });
      }
    });
}

const STATUS_TEXT = { ok: 'ok', warn: 'WARN', block: 'BLOCK' } as const;

export function formatReport(report: PreflightReport, given: RepeatFlags = {}): string {
  const table = formatTable(report.checks, [
    { header: 'check', value: (c) => c.label },
    { header: 'status', value: (c) => STATUS_TEXT[c.status] },
    { header: 'detail', value: (c) => c.detail },
  ]);
  const problems = report.checks.filter((c) => c.status !== 'ok' && c.fix);
  const fixes = problems.length === 0 ? [] : ['', 'To fix:', ...problems.map((c) => `  ${STATUS_TEXT[c.status]} ${c.label}: ${c.fix}`)];
  const verdict = report.ok
    ? `\nNothing blocks the migration${problems.length > 0 ? ' (see the warnings above)' : ''}. Next: ${suggestCommand(given, 'roles')}`
    : '\nThe migration is blocked until the BLOCK items are fixed.';
  return [table, ...fixes, verdict].join('\n');
}
