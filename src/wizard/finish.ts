/**
 * Step 10: put paused background jobs back as they were, remove the `_migrate` ledger schema
 * from the target on request (plan `clean`, default no), and say what comes next.
 */
import { withClient } from '../core/db.js';
import { readBackfillProgress } from '../steps/backfill/index.js';
import { answer, remember, type StepResult, type WizardContext } from './context.js';

export async function finishStep(ctx: WizardContext): Promise<StepResult> {
  const { restorePausedPolicies } = await import('../steps/backfill/index.js');
  const restored = await restorePausedPolicies(ctx.step);
  const clean = await answer(ctx, {
    field: 'clean', what: 'whether to remove the backfill ledger (_migrate schema) from the target', given: ctx.answers.clean, fallback: false,
    ask: () => ctx.prompts.confirm({ message: 'Remove the backfill ledger (schema _migrate) from the target now? ' +
      '(Keep it if you may still run `migrate backfill` or `migrate validate`.)', default: false }),
  });
  await remember(ctx, { clean });
  // Read the ledger's row counts for the summary before it may be dropped.
  const progress = await withClient(ctx.step.target, (client) => readBackfillProgress(client));
  if (clean) {
    const { runClean } = await import('../steps/clean.js');
    await runClean({}, ctx.step);
  }
  return {
    status: 'done',
    message: `policies restored${clean ? '; ledger removed' : '; ledger kept (`migrate clean` removes it)'}`,
    outcome: { restored, cleaned: clean, progress },
  };
}
