/**
 * Step 2: roles. Shows what will be dumped and what the rewrite for the target removes or changes,
 * asks before loading (plan `roles.load`, default yes), then loads them in one transaction.
 */
import { describeRoleChanges } from '../core/role-rewrite.js';
import { answer, remember, type StepResult, type WizardContext } from './context.js';

export async function rolesStep(ctx: WizardContext): Promise<StepResult> {
  const { planRoles, runRoles } = await import('../steps/roles.js');
  const plan = await planRoles(ctx.step);
  ctx.say(`Roles to create on the target (${plan.roles.length}): ${plan.roles.join(', ') || '(none)'}`);
  if (plan.alreadyExisting.length) ctx.say(`Already on the target (left as they are): ${plan.alreadyExisting.join(', ')}`);
  for (const line of describeRoleChanges(plan.changes, 20)) ctx.say(line);
  if (!plan.passwordsIncluded) ctx.say('The source user cannot read pg_authid: the roles come without passwords; set them on the target afterwards.');
  const load = await answer(ctx, {
    field: 'roles.load', what: 'whether to load the roles into the target', given: ctx.answers.roles?.load, fallback: true,
    ask: () => ctx.prompts.confirm({ message: `Load ${plan.roles.length} role(s) into the target?`, default: true }),
  });
  await remember(ctx, { roles: { ...(ctx.answers.roles ?? {}), load } });
  const result = await runRoles({ load, plan }, ctx.step);
  return {
    status: load ? 'done' : 'skipped',
    message: load ? `loaded ${result.roles.length} role(s) from ${result.file}` : `wrote ${result.file}; not loaded (load it yourself with psql)`,
    outcome: { file: result.file, roles: result.roles, changes: result.changes.length, passwordsIncluded: result.passwordsIncluded },
  };
}
