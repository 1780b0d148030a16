/**
 * Step 10: put paused background jobs back as they were, remove the `_migrate` ledger schema
 * from the target on request (plan `clean`, default no), and say what comes next. Jobs paused since
 * the schema load that still wait for a table nobody backfilled stay paused, and the ledger that
 * remembers them stays too (`migrate clean --force` is the operator's call).
 */
import { withClient } from '../core/db.js';
import { displayName } from '../core/identifiers.js';
import { readBackfillProgress } from '../steps/backfill/index.js';
import { describeWait, readJobPause } from '../steps/backfill/schema-load-pause.js';
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
  const { progress, pause } = await withClient(ctx.step.target, async (client) => ({
    progress: await readBackfillProgress(client), pause: await readJobPause(client) }));
  const held = pause.waitingFor.length > 0 ? pause.sinceSchemaLoad.length : 0;
  if (held > 0) {
    ctx.say(`${describeWait(held, pause.waitingFor)}. Backfill ${pause.waitingFor.length === 1 ? 'that table' : 'those tables'} with \`migrate backfill\`, or, ` +
      'if they are not to be backfilled, run `migrate clean --force` to restore the jobs and remove the ledger.');
  }
  const cleaned = clean && held === 0;
  if (cleaned) {
    const { runClean } = await import('../steps/clean.js');
    await runClean({}, ctx.step);
  }
  const waiting = pause.waitingFor.map(displayName).join(', ');
  return {
    status: 'done',
    message: `${held > 0 ? `${held} job(s) still paused until ${waiting} ${pause.waitingFor.length === 1 ? 'is' : 'are'} backfilled` : 'policies restored'}` +
      `${cleaned ? '; ledger removed' : '; ledger kept (`migrate clean` removes it)'}`,
    outcome: { restored, cleaned, progress },
  };
}
