/**
 * Unattended runs (`--yes`, no terminal, CI) check up front every answer with no safe default that a
 * step still to run will need, so a plan that lacks one fails before the first change — not after
 * roles were loaded into the target and the schema half-way. Each check mirrors the step that asks.
 * The per-table answers the plan does give (chunk interval, compression columns, `fix`) are checked
 * here too, against the source's catalog (table-answers.ts).
 */
import { withClient } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { isFinished, type StepId } from '../steps/index.js';
import { listTargetUserTables } from '../steps/schema-catalog.js';
import { missingAnswer, type WizardContext } from './context.js';
import { tableSpecOf } from './select-hypertables.js';
import { planTableProblems } from './table-answers.js';

export async function checkRequiredAnswers(ctx: WizardContext): Promise<void> {
  if (ctx.interactive) return;
  const pending = (id: StepId): boolean => !isFinished(ctx.store.step(id).status);
  const missing: UsageError[] = [];
  if (pending('select-hypertables') && ctx.answers.tables === undefined) {
    missing.push(missingAnswer(ctx, { field: 'tables', flag: '--table', what: 'which tables to convert to hypertables' }));
  }
  if (pending('dual-writes') && ctx.answers.dualWrites?.confirmed !== true) {
    missing.push(missingAnswer(ctx, { field: 'dualWrites.confirmed', what: 'confirmation that the application dual-writes' +
      (ctx.answers.dualWrites?.confirmed === false ? ' (the plan says false)' : '') }));
  }
  if (pending('schema') && ctx.answers.schema?.allowNonEmptyTarget !== true &&
      (await withClient(ctx.step.target, (client) => listTargetUserTables(client))).length > 0) {
    missing.push(missingAnswer(ctx, { field: 'schema.allowNonEmptyTarget', what: 'whether to load into a target that already holds tables' }));
  }
  const tables = ctx.answers.tables;
  if (pending('select-hypertables') && tables !== undefined && tables.length > 0) {
    const problems = await withClient(ctx.step.source, (client) => planTableProblems(client, tables, tableSpecOf));
    if (problems.length > 0) {
      missing.push(new UsageError(`The plan's tables have ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n    - ` +
        problems.join('\n    - '), { hint: 'Fix these fields in the plan file and run again; nothing was changed.' }));
    }
  }
  if (missing.length === 1) throw missing[0] as UsageError;
  if (missing.length > 1) {
    throw new UsageError(`Missing ${missing.length} answers; nothing was changed:\n  - ${missing.map((e) => e.message).join('\n  - ')}`, {
      hint: 'Set them in the plan file (--plan FILE), or run `migrate wizard` in a terminal without --yes to be asked.',
    });
  }
}
