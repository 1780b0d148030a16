import type { Command } from 'commander';
import { resolveEndpoint } from '../../core/connection.js';
import { withClient } from '../../core/db.js';
import { withConnectionOptions, withDirOption, withJsonOption, type ConnectionFlags, type DirFlags, type JsonFlags } from '../options.js';
import { prepareRuntime, printResult } from '../run.js';

export function register(program: Command): void {
  withJsonOption(withDirOption(withConnectionOptions(program.command('status')
    .description('where the migration in --dir stands: each step with its state and times, backfill slices, the next command'))))
    .addHelpText('after', '\nReads <dir>/state.json (no lock needed) and, when the target is reachable, the backfill ledger.\n' +
      'Exit status: 0, also when there is no migration yet (it says how to start one); 2 when the state file is damaged\n' +
      'or written by a newer migrate.')
    .action(async (flags: ConnectionFlags & DirFlags & JsonFlags) => {
      const runtime = await prepareRuntime(flags);
      const { readState } = await import('../../core/state.js');
      const { buildStatus, formatStatus } = await import('../../wizard/overview.js');
      const { resumeCommand } = await import('../../wizard/flow.js');
      const state = await readState(runtime.ctx.dir);
      const report = buildStatus(runtime.ctx.dir, state, resumeCommand(runtime.ctx.dir));
      const backfill = state?.steps.backfill?.status;
      if (state && backfill && backfill !== 'pending') {
        // The flag or TARGET wins; else the recorded target (password from PGPASSWORD / ~/.pgpass).
        const target = runtime.ctx.target.connectionString !== undefined ? runtime.ctx.target
          : resolveEndpoint('target', state.answers.target, {});
        try {
          const { readBackfillProgress } = await import('../../steps/backfill/index.js');
          const progress = await withClient(target, (client) => readBackfillProgress(client), { applicationName: 'migrate status' });
          report.backfill = progress.map((p) => ({ table: p.table, done: p.slicesDone, total: p.slicesTotal, rowsDone: p.rowsDone }));
          if (progress.length === 0) report.backfillNote = 'no ledger in the target yet';
        } catch (error) {
          report.backfillNote = `slices unknown: cannot read the target's ledger (${error instanceof Error ? error.message : String(error)})`;
        }
      }
      printResult(runtime, report, () => formatStatus(report));
    });
}
