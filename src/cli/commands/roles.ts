/** `migrate roles`: dump the source's roles, rewrite them for the target, load them. */
import type { Command } from 'commander';
import { withSharedOptions, type CommonFlags } from '../options.js';
import { prepareRuntime, printResult, recordOutcome } from '../run.js';
import type { RolesResult } from '../../steps/roles.js';
import { describeRoleChanges } from '../../core/role-rewrite.js';
import { displayIdent } from '../../core/identifiers.js';
import { formatCommandLine } from '../../core/shell.js';
import { suggestCommand, type RepeatFlags } from '../../core/suggest.js';

export function register(program: Command): void {
  withSharedOptions(program.command('roles')
    .description('dump the source\'s roles (pg_dumpall), rewrite them for the target, write roles.sql (mode 0600) and load it'))
    .option('--no-load', 'only write roles.sql; do not load it into the target')
    .action(async (flags: CommonFlags & { load: boolean }) => {
      const runtime = await prepareRuntime(flags, { writesDir: true, recordsState: flags.load });
      const { runRoles } = await import('../../steps/roles.js');
      const result = await runRoles({ load: flags.load }, runtime.ctx);
      if (result.loaded) {
        await recordOutcome(runtime, ['roles'], { status: 'done', message: `${result.roles.length} roles loaded`,
          data: { roles: result.roles, alreadyExisting: result.alreadyExisting, passwordsIncluded: result.passwordsIncluded } });
      }
      printResult(runtime, result, () => formatRolesResult(result, flags));
    });
}

/** One line per removed or changed statement; the many "create only if missing" wraps are counted, not listed. */
export function formatRolesResult(result: RolesResult, given: RepeatFlags = {}): string {
  if (result.dryRun) return 'Dry run: nothing was written or loaded.';
  const names = (list: string[]): string => list.map(displayIdent).join(', ') || '(none)';
  const lines = [
    `roles.sql: ${result.file} (mode 0600)`,
    `roles (${result.roles.length}): ${names(result.roles)}`,
  ];
  if (result.alreadyExisting.length) lines.push(`already on the target: ${names(result.alreadyExisting)}`);
  if (!result.passwordsIncluded) lines.push(`passwords NOT included; set them on the target for: ${names(result.passwordsMissingFor)}`);
  lines.push(...describeRoleChanges(result.changes));
  lines.push(result.loaded ? 'Loaded into the target.' : `Not loaded (--no-load). Load it with \`${suggestCommand(given, 'roles')}\`, or with \`${formatCommandLine(['psql', '-X', '-v', 'ON_ERROR_STOP=1', '-f', result.file])}\``);
  return lines.join('\n');
}
