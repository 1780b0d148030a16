/**
 * Step 4: dump the schema and the plain tables' data (without the chosen tables' data) and load it.
 * Loading into a target that already holds tables is destructive-adjacent: we list what is there and
 * need an explicit yes (plan `schema.allowNonEmptyTarget`; --yes alone never says it).
 */
import { withClient } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { displayName } from '../core/identifiers.js';
import { listTargetUserTables } from '../steps/schema-catalog.js';
import type { SchemaResult } from '../steps/schema.js';
import { answer, missingAnswer, remember, resumeLine, type StepResult, type WizardContext } from './context.js';
import { tableSpecOf } from './select-hypertables.js';

/** Tell, before the load, which owners and grants can come across (issue #8.1). */
async function showPrivilegesForecast(ctx: WizardContext, wanted: { owners: boolean; privileges: boolean }): Promise<void> {
  if (!wanted.owners && !wanted.privileges) {
    ctx.say('Owners and privileges are not carried (plan schema.owners and schema.privileges are false): every object will ' +
      'belong to the target user, with no grants.');
    return;
  }
  const { forecastPrivileges, describeForecast } = await import('../steps/privileges-preview.js');
  const forecast = await withClient(ctx.step.source, (source) => withClient(ctx.step.target, (target) => forecastPrivileges(source, target)));
  for (const line of describeForecast(forecast)) ctx.say(line);
  if (!wanted.owners) ctx.say('  Ownership is not carried (plan schema.owners is false): objects will belong to the target user.');
  if (!wanted.privileges) ctx.say('  Grants are not carried (plan schema.privileges is false).');
}

function privilegesSummary(result: SchemaResult): string {
  const carried = result.privileges;
  if (!carried) return '';
  if (carried.error) return '; owners and privileges NOT carried (the schema-only dump failed)';
  return `; owners and privileges: ${carried.applied} applied` +
    (carried.refused.length > 0 ? `, ${carried.refused.length} refused (do them by hand: ${carried.refusedFile ?? 'privileges-refused.sql'})` : '');
}

export async function schemaStep(ctx: WizardContext): Promise<StepResult> {
  const { runSchema } = await import('../steps/schema.js');
  const tables = (ctx.answers.tables ?? []).map(tableSpecOf);
  const wanted = { owners: ctx.answers.schema?.owners ?? true, privileges: ctx.answers.schema?.privileges ?? true };
  await showPrivilegesForecast(ctx, wanted);
  const existing = await withClient(ctx.step.target, (client) => listTargetUserTables(client));
  let allowNonEmptyTarget = ctx.answers.schema?.allowNonEmptyTarget ?? false;
  if (existing.length > 0 && !allowNonEmptyTarget) {
    ctx.say(`The target already holds ${existing.length} table(s): ${existing.slice(0, 15).map(displayName).join(', ')}` +
      `${existing.length > 15 ? ', …' : ''}.\nLoading the schema into it may fail on objects that exist, or mix with their data.`);
    const spec = { field: 'schema.allowNonEmptyTarget', what: 'whether to load into a target that already holds tables' };
    if (!ctx.interactive) throw missingAnswer(ctx, spec);
    allowNonEmptyTarget = await answer(ctx, { ...spec, given: undefined,
      ask: () => ctx.prompts.confirm({ message: 'Load the schema into this non-empty target anyway?', default: false }) });
    if (!allowNonEmptyTarget) {
      throw new UsageError('Stopped before loading the schema: the target is not empty.', {
        hint: `Point --target at an empty database (or empty this one), then run \`${resumeLine(ctx)}\`.`,
      });
    }
    await remember(ctx, { schema: { ...(ctx.answers.schema ?? {}), allowNonEmptyTarget } });
  } else {
    const go = await answer(ctx, { field: 'schema', what: 'confirmation to dump and load the schema', given: undefined, fallback: true,
      ask: () => ctx.prompts.confirm({ message: `Dump the schema and plain data${tables.length ? ` (without the data of ${tables.length} chosen table(s))` : ''} and load it into the target?`, default: true }) });
    if (!go) throw new UsageError('Stopped before loading the schema.', { hint: `Run \`${resumeLine(ctx)}\` when ready.` });
  }
  const result = await runSchema({ tables, allowNonEmptyTarget, ...wanted }, ctx.step);
  return { status: 'done', message: `schema loaded; data of ${tables.length} table(s) left for the backfill${privilegesSummary(result)}`,
    outcome: result };
}
