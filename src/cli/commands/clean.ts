/** `migrate clean`: drop the backfill ledger (schema _migrate) from the target. */
import type { Command } from 'commander';
import { withSharedOptions, type ConnectionFlags, type DirFlags, type DryRunFlags, type JsonFlags } from '../options.js';
import { prepareRuntime, printResult } from '../run.js';

interface Flags extends Omit<ConnectionFlags, 'source'>, DirFlags, DryRunFlags, JsonFlags { force?: boolean }

export function register(program: Command): void {
  withSharedOptions(program.command('clean')
    .description('remove what migrate left in the target: the backfill ledger (schema _migrate)'))
    .option('--force', 'drop it even while a backfill runs or background jobs are still paused (they are restored first)')
    .addHelpText('after', `
Refuses while a backfill is running on the target, or while background jobs paused by a
backfill are not restored yet (\`migrate resume\` restores them). Without the ledger, a later
\`migrate backfill\` plans again and copies the whole range.
Exit status: 0 dropped (or nothing to drop), 1 refused or failed, 2 bad usage.`)
    .action(async (flags: Flags) => {
      const runtime = await prepareRuntime(flags);
      const { runClean } = await import('../../steps/clean.js');
      const result = await runClean({ ...(flags.force ? { force: true } : {}) }, runtime.ctx);
      printResult(runtime, result, () => (result.dropped ? 'Dropped the _migrate schema from the target.'
        : result.dryRun && result.existed ? 'Dry run: nothing was changed.' : 'Nothing to clean: the target has no _migrate schema.'));
    });
}
