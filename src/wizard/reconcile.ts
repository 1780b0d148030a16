/**
 * When a resumed run is given answers (plan file, flags) that differ from decisions already acted
 * on, say what the change means and ask; never switch silently. Answers for steps that have not
 * run yet simply replace the recorded ones.
 */
import { UsageError } from '../core/errors.js';
import { displayName, parseTableSpec, parseColumnName } from '../core/identifiers.js';
import { displayPath, formatCommandLine } from '../core/shell.js';
import type { Plan, PlanTable } from '../core/plan.js';
import { STEPS, isFinished, type StepId } from '../steps/index.js';
import { recordedPoints } from './backfill.js';
import { answer, type WizardContext } from './context.js';

function key(table: string): string {
  return displayName(parseTableSpec(table));
}

function column(value: string | undefined): string | undefined {
  return value === undefined ? undefined : parseColumnName(value);
}

/** Differences between recorded and incoming table choices that matter, as readable lines. */
export function tableChanges(recorded: PlanTable[], incoming: PlanTable[]): string[] {
  const before = new Map(recorded.map((t) => [key(t.table), t]));
  const after = new Map(incoming.map((t) => [key(t.table), t]));
  const lines: string[] = [];
  for (const name of after.keys()) if (!before.has(name)) lines.push(`add ${name}`);
  for (const name of before.keys()) if (!after.has(name)) lines.push(`drop ${name}`);
  for (const [name, next] of after) {
    const prev = before.get(name);
    if (!prev) continue;
    if (next.timeColumn !== undefined && column(next.timeColumn) !== column(prev.timeColumn)) {
      lines.push(`${name}: time column ${prev.timeColumn ?? '(suggested)'} → ${next.timeColumn}`);
    }
    if (next.chunkInterval !== undefined && next.chunkInterval !== prev.chunkInterval) {
      lines.push(`${name}: chunk interval ${prev.chunkInterval ?? '(suggested)'} → ${next.chunkInterval}`);
    }
  }
  return lines;
}

/** Incoming T values that differ from both the recorded choice and the recorded T. */
export function completionPointChanges(recorded: PlanTable[], points: Map<string, string>, incoming: PlanTable[]): string[] {
  const before = new Map(recorded.map((t) => [key(t.table), t.completionPoint]));
  return incoming.flatMap((t) => {
    const name = key(t.table);
    const next = t.completionPoint;
    const prev = points.get(name);
    return next !== undefined && next !== 'suggested' && prev !== undefined && next !== prev && next !== before.get(name)
      ? [`${name}: T ${prev} → ${next}`] : [];
  });
}

async function resetFrom(ctx: WizardContext, first: StepId): Promise<void> {
  const index = STEPS.findIndex((s) => s.id === first);
  for (const info of STEPS.slice(index)) await ctx.store.markStep(info.id, 'pending');
}

async function confirmChange(ctx: WizardContext, field: string, what: string): Promise<void> {
  const ok = await answer(ctx, {
    field, what: `whether to change a recorded decision (${what})`, given: undefined,
    ask: () => ctx.prompts.confirm({ message: 'Change the recorded decision?', default: false }),
  }).catch((error: unknown) => {
    // With --yes or without a terminal a changed decision is never taken on trust.
    if (error instanceof UsageError) {
      throw new UsageError(`The given ${field} differs from the decision recorded in ${ctx.step.dir}; ` +
        'changing it needs a person to confirm.', {
        hint: `Run \`migrate resume\` in a terminal to confirm the change, or give the recorded values (${ctx.step.dir}/plan.json).`,
      });
    }
    throw error;
  });
  if (!ok) throw new UsageError('Stopped: the recorded decision stays as it is.', {
    hint: `Run \`${formatCommandLine(['migrate', 'resume', '--dir', displayPath(ctx.step.dir)])}\` without the changed values to carry on with it.`,
  });
}

/** Merge incoming answers into the recorded ones, explaining and confirming changes to acted-on decisions. */
export async function reconcileAnswers(ctx: WizardContext, incoming: Plan): Promise<void> {
  const { tables: incomingTables, ...rest } = incoming;
  const recordedTables = ctx.answers.tables;
  const merged: Plan = { ...ctx.answers, ...rest };
  if (incomingTables !== undefined) {
    const chosen = isFinished(ctx.store.step('select-hypertables').status);
    const changes = recordedTables && chosen ? tableChanges(recordedTables, incomingTables) : [];
    const tChanges = recordedTables && isFinished(ctx.store.step('completion-point').status)
      ? completionPointChanges(recordedTables, recordedPoints(ctx), incomingTables) : [];
    if (changes.length > 0) {
      if (isFinished(ctx.store.step('schema').status)) {
        throw new UsageError(`The tables to convert changed (${changes.join('; ')}), but the schema is already loaded ` +
          'into the target without those tables\' data; the choice cannot change now.', {
          hint: 'Keep the recorded tables (see plan.json in the migration directory), or start over: drop the target ' +
            'database, recreate it, and run `migrate wizard` with a new --dir.',
        });
      }
      ctx.say(`Changing the tables to convert: ${changes.join('; ')}.\nThe hypertable selection is asked again; nothing has been loaded yet.`);
      await confirmChange(ctx, 'tables', changes.join('; '));
      await resetFrom(ctx, 'select-hypertables');
      merged.tables = incomingTables;
    } else if (tChanges.length > 0) {
      ctx.say(`Changing the completion point: ${tChanges.join('; ')}.\n` +
        'This means: the completion point is recorded again, and the backfill and validation run again over the new ' +
        'range. Slices that overlap it delete the target\'s rows in their range (including dual-written ones) and copy ' +
        'them from the source again, each in one transaction, so no row is lost or doubled.');
      await confirmChange(ctx, 'tables[].completionPoint', tChanges.join('; '));
      await resetFrom(ctx, 'completion-point');
      const points = new Map(incomingTables.map((t) => [key(t.table), t.completionPoint]));
      merged.tables = (recordedTables ?? []).map((t) => ({ ...t, completionPoint: points.get(key(t.table)) ?? t.completionPoint }));
    } else if (!chosen) {
      merged.tables = incomingTables;
    }
  }
  ctx.answers = merged;
  await ctx.store.setAnswers(merged);
}
