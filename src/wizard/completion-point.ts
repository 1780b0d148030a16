/**
 * Step 7: the completion point T per table. Shows each table's earliest dual-written row and the
 * suggested T (inside the consistency range); the operator accepts it or types a value, which is
 * checked against the column's type and the range before it is recorded in completion-points.json.
 * Unattended: `tables[i].completionPoint` (a value, or "suggested", the default with --yes); when the
 * range has not opened yet we wait for it (plan `completionPoint.waitSeconds`).
 */
import { InterruptedError, MigrateError, UsageError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { parseTimeValue, toTimeType } from '../core/time-values.js';
import type { CompletionPointResult, TablePoint } from '../steps/completion-point.js';
import { answer, remember, resumeLine, type StepResult, type WizardContext } from './context.js';
import { tableSpecOf } from './select-hypertables.js';

function show(ctx: WizardContext, result: CompletionPointResult): void {
  ctx.say(`Now on the target: ${result.now} (margin ${result.margin}, lateness ${result.lateness})`);
  for (const t of result.tables) {
    ctx.say(`  ${t.table} (${t.column}, ${t.type}): earliest dual-written row ${t.earliestDualWrite ?? '(none yet)'}; ` +
      `suggested T: ${t.suggested ?? '—'}`);
    for (const note of t.notes) ctx.say(`      ${note}`);
  }
}

function checkForm(point: TablePoint, value: string, timezone: string | undefined): true | string {
  const type = toTimeType(point.type);
  if (!type) return true;
  try {
    parseTimeValue(value, type, { label: 'T', ...(timezone ? { timezone } : {}) });
    return true;
  } catch (error) {
    return error instanceof Error ? `${error.message}${(error as UsageError).hint ? ` ${(error as UsageError).hint}` : ''}` : String(error);
  }
}

/** The operator asked to look again (the range was not open yet). */
const AGAIN = '\0again';

export async function completionPointStep(ctx: WizardContext): Promise<StepResult> {
  const tables = ctx.answers.tables ?? [];
  if (tables.length === 0) return { status: 'skipped', message: 'no tables to backfill' };
  const { runCompletionPoint } = await import('../steps/completion-point.js');
  const specs = tables.map(tableSpecOf);
  const options = ctx.answers.completionPoint ?? {};
  const shared = {
    ...(options.margin ? { margin: options.margin } : {}), ...(options.lateness ? { lateness: options.lateness } : {}),
    ...(options.timezone ? { timezone: options.timezone } : {}),
  };
  const deadline = Date.now() + (options.waitSeconds ?? 1200) * 1000;
  for (;;) {
    const result = await runCompletionPoint({ tables: specs, ...shared }, ctx.step);
    show(ctx, result);
    const values: string[] = [];
    const chosen: string[] = [];
    let waiting = false;
    for (const [i, point] of result.tables.entries()) {
      const planned = tables[i]?.completionPoint;
      const given = planned !== undefined && planned !== 'suggested' ? planned : undefined;
      const takeSuggested = planned === 'suggested' || (ctx.yes && !ctx.interactive);
      if (given === undefined && takeSuggested && point.suggested === undefined && !ctx.interactive) {
        if (point.status === 'range-empty' || point.status === 'no-dual-writes') { waiting = true; continue; }
        throw new MigrateError(`No completion point can be suggested for ${point.table}: ${point.notes.join(' ')}`, {
          hint: `Set "tables[${i}].completionPoint" in the plan to a value typed like ${point.column} (${point.type}).`,
        });
      }
      const value = await answer(ctx, {
        field: `tables[${i}].completionPoint`, what: `the completion point T for ${point.table}`,
        given: given ?? (takeSuggested && !ctx.interactive ? point.suggested : undefined),
        ask: async () => {
          const canWait = point.status === 'range-empty' || point.status === 'no-dual-writes';
          const choice = point.suggested === undefined && !canWait ? 'type' : await ctx.prompts.select({
            message: `${point.table}: completion point T`,
            choices: [
              point.suggested !== undefined
                ? { name: `Use the suggestion ${point.suggested}`, value: 'suggested' as const }
                : { name: `Check again (${point.range ? `the range opens at ${point.range.opensAt}` : 'no dual-written rows yet'})`, value: 'again' as const },
              { name: 'Type another value', value: 'type' as const }],
          });
          if (choice === 'again') return AGAIN;
          if (choice === 'suggested') return point.suggested as string;
          return (await ctx.prompts.input({ message: `${point.table}: T (typed like ${point.column}, ${point.type})`,
            validate: (v) => checkForm(point, v, options.timezone) })).trim();
        },
      });
      if (value === AGAIN) { waiting = true; break; }
      values.push(`${point.table}=${value}`);
      chosen.push(value === point.suggested && given === undefined ? 'suggested' : value);
    }
    if (waiting) {
      if (ctx.step.signal.aborted) throw new InterruptedError('Stopped while waiting for the consistency range to open.');
      if (!ctx.interactive && Date.now() > deadline) {
        throw new MigrateError('The consistency range did not open in time for every table.', {
          hint: `Check that dual-writes are running, then \`${resumeLine(ctx)}\`; or set "tables[].completionPoint" values in the plan.`,
        });
      }
      if (!ctx.interactive) {
        ctx.say('Waiting for the consistency range to open…');
        await sleep(2000, ctx.step.signal);
      }
      continue;
    }
    try {
      const recorded = await runCompletionPoint({ tables: specs, until: values, ...shared }, ctx.step);
      // The plan keeps what the operator chose ("suggested" or a typed value), so a rehearsal's plan
      // replays against production; the recorded T itself is the step's outcome (and completion-points.json).
      await remember(ctx, { tables: tables.map((t, i) => ({ ...t, completionPoint: chosen[i] ?? 'suggested' })) });
      return {
        status: 'done',
        message: recorded.tables.map((t) => `${t.table} < ${t.until}`).join(', '),
        outcome: { points: recorded.tables.map((t) => ({ table: t.table, column: t.column, type: t.type, until: t.until,
          earliestDualWrite: t.earliestDualWrite })) },
      };
    } catch (error) {
      if (!(error instanceof UsageError) || !ctx.interactive) throw error;
      ctx.say(error.message);
      // Ask again: planned values were what failed, so forget them for this round.
      for (const t of tables) delete t.completionPoint;
    }
  }
}
