import type { Command } from 'commander';
import { withSharedOptions, withTableOption, parseTables, type ConnectionFlags, type DirFlags,
  type TableFlags } from '../options.js';
import { prepareRuntime, type CommandRuntime } from '../run.js';
import type { Plan } from '../../core/plan.js';
import type { FlowOptions, FlowResult } from '../../wizard/flow.js';

export interface WizardFlags extends ConnectionFlags, DirFlags, TableFlags {
  plan?: string;
  yes?: boolean;
  minSize?: string;
}

/** Options shared by `wizard` and `resume`: the plan, --yes, tables, candidate size. */
export function withWizardOptions(command: Command): Command {
  return withTableOption(withSharedOptions(command),
    'convert this table (schema.table[:time_column]); repeatable; pre-empts the hypertable question')
    .option('--plan <file>', 'answers from a plan file (JSON; see README "Plan file"); with --yes runs unattended')
    .option('-y, --yes', 'no prompts: take defaults for what the plan does not say; a missing answer without a default is an error')
    .option('--min-size <size>', 'list hypertable candidates at least this big (e.g. 10MB, 0)');
}

/** Plan file, then flags on top (flags win). */
export async function incomingAnswers(flags: WizardFlags): Promise<Plan> {
  const { readPlanFile } = await import('../../core/plan.js');
  const { displayName } = await import('../../core/identifiers.js');
  const plan: Plan = flags.plan ? await readPlanFile(flags.plan) : {};
  if (flags.table?.length) {
    const byName = new Map((plan.tables ?? []).map((t) => [t.table, t]));
    plan.tables = parseTables(flags.table).map((spec) => ({
      ...(byName.get(displayName(spec)) ?? {}),
      table: displayName(spec), ...(spec.column ? { timeColumn: spec.column } : {}),
    }));
  }
  return plan;
}

/** Run the flow for `wizard`, `resume` or the demo, with the terminal's prompts and renderer. */
export async function runWizardCommand(flags: WizardFlags, command: 'wizard' | 'resume',
  extra: { runtime?: CommandRuntime; incoming?: Plan; afterStep?: FlowOptions['afterStep'] } = {}): Promise<FlowResult> {
  const runtime = extra.runtime ?? await prepareRuntime(flags, { writesDir: true, recordsState: true, yes: flags.yes });
  const { runFlow } = await import('../../wizard/flow.js');
  const { createPrompts } = await import('../../wizard/prompts.js');
  const incoming = extra.incoming ?? await incomingAnswers(flags);
  const { ctx } = runtime;
  // A plan's connection strings (no passwords) apply when no flag or SOURCE/TARGET gave one.
  if (ctx.source.connectionString === undefined && incoming.source) ctx.source = { side: 'source', connectionString: incoming.source };
  if (ctx.target.connectionString === undefined && incoming.target) ctx.target = { side: 'target', connectionString: incoming.target };
  const { parseSize } = await import('../../steps/candidates.js');
  const minBytes = flags.minSize !== undefined ? parseSize(flags.minSize) : undefined;
  return runFlow({
    step: ctx,
    prompts: createPrompts({ beforePrompt: () => runtime.renderer.pause(), signal: ctx.signal }),
    interactive: runtime.interactive,
    yes: Boolean(flags.yes),
    command,
    incoming,
    say: (text) => { runtime.renderer.line(text); },
    ...(minBytes !== undefined ? { minBytes } : {}),
    ...(extra.afterStep ? { afterStep: extra.afterStep } : {}),
  });
}

export function register(program: Command): void {
  withWizardOptions(program.command('wizard')
    .description('the whole migration, step by step, with questions (or unattended: --yes --plan FILE)'))
    .addHelpText('after', `
Walks: connections and preflight, roles, hypertable selection, schema, hypertables, dual-writes,
completion point, backfill, validation, finish. Every answer and outcome goes to <dir>/state.json;
the plan it followed goes to <dir>/plan.json (replay it with --yes --plan). Ctrl-C stops cleanly;
\`migrate resume\` carries on.
Exit status: 0 done, 1 a step failed, 2 bad input or a missing answer, 3 validation found differences,
130 interrupted.`)
    .action(async (flags: WizardFlags) => {
      await runWizardCommand(flags, 'wizard');
    });
}
