import type { Command } from 'commander';
import { resolveEndpoint, type Endpoint } from '../../core/connection.js';
import { withClient } from '../../core/db.js';
import { displayName } from '../../core/identifiers.js';
import type { MigrationState } from '../../core/state.js';
import { shellQuote } from '../../core/shell.js';
import { repeatArgs } from '../../core/suggest.js';
import type { StatusReport } from '../../wizard/overview.js';
import { withSharedOptions, type ConnectionFlags, type DirFlags, type JsonFlags } from '../options.js';
import { prepareRuntime, printResult } from '../run.js';

export function register(program: Command): void {
  withSharedOptions(program.command('status')
    .description('where the migration in --dir stands: each step with its state and times, backfill slices, the next command'))
    .addHelpText('after', '\nReads <dir>/state.json (no lock needed) and, when the target is reachable, the backfill ledger:\n' +
      'slices per table, and the background jobs paused (since the schema load, or by a backfill) and what they wait for.\n' +
      'Exit status: 0, also when there is no migration yet (it says how to start one); 2 when the state file is damaged\n' +
      'or written by a newer migrate.')
    .action(async (flags: Omit<ConnectionFlags, 'source'> & DirFlags & JsonFlags) => {
      const runtime = await prepareRuntime(flags);
      const { readState } = await import('../../core/state.js');
      const { buildStatus, formatStatus } = await import('../../wizard/overview.js');
      const { resumeCommand } = await import('../../wizard/flow.js');
      const state = await readState(runtime.ctx.dir);
      // The next command names --dir, and the --target this run was given (without its password).
      const next = [resumeCommand(runtime.ctx.dir), ...repeatArgs('resume', { target: flags.target }).map(shellQuote)].join(' ');
      const report = buildStatus(runtime.ctx.dir, state, next);
      if (state) await readTarget(report, state, runtime.ctx.target);
      printResult(runtime, report, () => formatStatus(report));
    });
}

const started = (state: MigrationState, step: string): boolean => (state.steps[step]?.status ?? 'pending') !== 'pending';

/**
 * The target's ledger: backfill slices once the backfill has started; paused jobs once the schema
 * has been loaded (from a TimescaleDB source it pauses them), when the target is known then.
 */
async function readTarget(report: StatusReport, state: MigrationState, given: Endpoint): Promise<void> {
  const backfill = started(state, 'backfill');
  const known = given.connectionString !== undefined || state.answers.target !== undefined;
  if (!backfill && !(started(state, 'schema') && known)) return;
  // The flag or TARGET wins; else the recorded target (password from PGPASSWORD / ~/.pgpass).
  const target = given.connectionString !== undefined ? given : resolveEndpoint('target', state.answers.target, {});
  try {
    const { readBackfillProgress } = await import('../../steps/backfill/index.js');
    const { readJobPause } = await import('../../steps/backfill/schema-load-pause.js');
    const { progress, pause } = await withClient(target, async (client) => ({
      progress: await readBackfillProgress(client), pause: await readJobPause(client),
    }), { applicationName: 'migrate status' });
    if (backfill) {
      report.backfill = progress.map((p) => ({ table: p.table, done: p.slicesDone, total: p.slicesTotal, rowsDone: p.rowsDone }));
      if (progress.length === 0) report.backfillNote = 'nothing planned in the target\'s ledger yet';
    }
    if (pause.sinceSchemaLoad.length + pause.byBackfill.length > 0) {
      report.pausedJobs = { sinceSchemaLoad: pause.sinceSchemaLoad, waitingFor: pause.waitingFor.map(displayName), byBackfill: pause.byBackfill };
    }
  } catch (error) {
    const why = `cannot read the target's ledger (${error instanceof Error ? error.message : String(error)})`;
    if (backfill) report.backfillNote = `slices unknown: ${why}`;
    report.pausedJobsNote = `unknown: ${why}`;
  }
}
