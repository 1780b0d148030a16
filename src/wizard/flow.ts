/**
 * The wizard's driver, shared by `migrate wizard`, `migrate resume` and `migrate demo`: walk the one
 * ordered step list (src/steps/index.ts), skip what the state file says is finished, run the rest
 * through their wizard step modules, and record every outcome as it happens. Ctrl-C (the run's
 * AbortSignal) marks the running step interrupted and says how to resume.
 */
import path from 'node:path';
import type { StepContext } from '../core/context.js';
import { InterruptedError, MigrateError, UsageError, describeError } from '../core/errors.js';
import { ensureWritableDir, writeFileAtomic } from '../core/files.js';
import { serializePlan, type Plan } from '../core/plan.js';
import { displayPath, formatCommandLine } from '../core/shell.js';
import { StateStore } from '../core/state.js';
import { STEPS, isFinished, type StepId } from '../steps/index.js';
import type { StepResult, WizardContext, WizardStep } from './context.js';
import { ensureConnections } from './connections.js';
import { formatOverview } from './overview.js';
import type { Prompts } from './prompts.js';
import { reconcileAnswers } from './reconcile.js';
import { checkRequiredAnswers } from './required-answers.js';
import { WIZARD_STEPS } from './steps.js';
import { writeSummary } from './summary.js';

export interface FlowOptions {
  step: StepContext;
  prompts: Prompts;
  interactive: boolean;
  yes: boolean;
  command: 'wizard' | 'resume';
  /** Answers from the plan file and flags; they pre-empt prompts. */
  incoming: Plan;
  say: (text: string) => void;
  /** `--min-size` for the candidate list, bytes. */
  minBytes?: number;
  /** Test and demo hook: called after each step is recorded. */
  afterStep?: (id: StepId, result: StepResult) => void | Promise<void>;
}

export interface FlowResult {
  completed: boolean;
  summaryFile?: string;
}

/** `migrate resume --dir <dir>`, with the directory as the operator would type it. */
export function resumeCommand(dir: string): string {
  return formatCommandLine(['migrate', 'resume', '--dir', displayPath(dir)]);
}

async function openStore(options: FlowOptions): Promise<StateStore> {
  await ensureWritableDir(options.step.dir);
  const store = await StateStore.open(options.step.dir, options.command);
  const started = STEPS.some((s) => isFinished(store.step(s.id).status));
  if (options.command === 'wizard' && started) {
    await store.release();
    throw new UsageError(`A migration is already recorded in ${options.step.dir}.`, {
      hint: `Carry it on with \`${resumeCommand(options.step.dir)}\`, see it with \`${formatCommandLine(['migrate', 'status', '--dir', displayPath(options.step.dir)])}\`, ` +
        'or start a separate one with another --dir.',
    });
  }
  if (options.command === 'resume' && Object.keys(store.state.steps).length === 0) {
    await store.release();
    throw new UsageError(`There is no migration to resume in ${options.step.dir} (no state.json).`, {
      hint: 'Start one with `migrate wizard` (check --dir if you used another directory).',
    });
  }
  return store;
}

export async function runFlow(options: FlowOptions): Promise<FlowResult> {
  const store = await openStore(options);
  const ctx: WizardContext = {
    step: options.step, prompts: options.prompts, interactive: options.interactive, yes: options.yes,
    answers: { ...store.state.answers }, store, say: options.say, command: options.command,
    ...(options.minBytes !== undefined ? { minBytes: options.minBytes } : {}),
  };
  const resume = resumeCommand(options.step.dir);
  let current: StepId | undefined;
  try {
    if (options.command === 'resume') {
      options.say(formatOverview(store.state));
      options.say('');
    }
    await reconcileAnswers(ctx, options.incoming);
    await ensureConnections(ctx);
    await checkRequiredAnswers(ctx);
    for (const [index, info] of STEPS.entries()) {
      if (isFinished(store.step(info.id).status)) continue;
      if (options.step.signal.aborted) throw new InterruptedError('Stopped before the next step.');
      current = info.id;
      options.say(`\n── Step ${index + 1}/${STEPS.length}: ${info.title} ──`);
      await store.markStep(info.id, 'running');
      const run: WizardStep = WIZARD_STEPS[info.id];
      const result = await run(ctx);
      await store.markStep(info.id, result.status, { message: result.message, outcome: result.outcome });
      await writeFileAtomic(path.join(options.step.dir, 'plan.json'), serializePlan(ctx.answers));
      options.say(`${result.status === 'skipped' ? '–' : '✔'} ${info.title}: ${result.message}`);
      current = undefined;
      await options.afterStep?.(info.id, result);
    }
    const summaryFile = await writeSummary(ctx);
    options.say(`\nThe summary is in ${summaryFile}.`);
    return { completed: true, summaryFile };
  } catch (error) {
    const interrupted = error instanceof InterruptedError || options.step.signal.aborted;
    if (current !== undefined) {
      await store.markStep(current, interrupted ? 'interrupted' : 'failed', {
        message: interrupted ? 'interrupted (Ctrl-C)' : describeError(error).split('\n')[0] ?? 'failed',
      }).catch(() => undefined);
    }
    if (interrupted) {
      throw new InterruptedError(`Interrupted${current ? ` during "${STEPS.find((s) => s.id === current)?.title}"` : ''}; ` +
        'everything finished so far is kept.', { hint: `Run \`${resume}\` to carry on from there.`, cause: error });
    }
    if (current !== undefined) options.say(`\nThe step failed; once it is fixed, \`${resume}\` carries on from it.`);
    throw error instanceof MigrateError ? error : new MigrateError(describeError(error), { hint: `Fix it, then run \`${resume}\`.`, cause: error });
  } finally {
    await store.release();
  }
}
