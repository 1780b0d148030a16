import type { Command } from 'commander';
import { runWizardCommand, withWizardOptions, type WizardFlags } from './wizard.js';

export function register(program: Command): void {
  withWizardOptions(program.command('resume')
    .description('continue the migration in --dir from its first unfinished step (a cut-off backfill picks up its unfinished slices)'))
    .addHelpText('after', `
Shows where the migration stands, then carries on with the recorded answers. Passwords are not
stored: give them again (--source/--target, SOURCE/TARGET, PGPASSWORD, ~/.pgpass, or at the prompt).
Changing a recorded decision (tables, completion point) is explained and needs a confirmation.
Exit status: as for \`migrate wizard\`.`)
    .action(async (flags: WizardFlags) => {
      await runWizardCommand(flags, 'resume');
    });
}
