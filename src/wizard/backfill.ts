/**
 * Step 8: copy [start, T) of every chosen table from source to target with live progress. The
 * ledger in the target makes it exactly-once and resumable: after Ctrl-C (in-flight slices finish
 * or roll back) `migrate resume` runs it again and only the unfinished slices are copied.
 */
import { withClient } from '../core/db.js';
import { MigrateError, UsageError } from '../core/errors.js';
import { parseColumnName, parseTableSpec, quoteIdent, quoteQualified } from '../core/identifiers.js';
import type { PlanTable } from '../core/plan.js';
import { castParam, toTimeType } from '../core/time-values.js';
import { answer, outcomeOf, remember, resumeLine, statusLine, type StepResult, type WizardContext } from './context.js';
import { tableSpecOf } from './select-hypertables.js';
import type { UserTriggerChoice } from '../steps/backfill/user-triggers.js';

/**
 * The backfill deletes the target's rows in each slice before copying it: below T that is the
 * dual-written rows between the first dual-write and T. Show what it touches; ask for an explicit yes.
 */
async function confirmReplacing(ctx: WizardContext, tables: PlanTable[], points: Map<string, string>): Promise<void> {
  const types = new Map((outcomeOf<{ points?: { table: string; type: string }[] }>(ctx, 'completion-point')?.points ?? [])
    .map((p) => [p.table, toTimeType(p.type)]));
  const counts = await withClient(ctx.step.target, async (client) => {
    const result: string[] = [];
    for (const t of tables) {
      const type = types.get(t.table);
      if (!t.timeColumn || !type) continue;
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(parseTableSpec(t.table))}
        WHERE ${quoteIdent(parseColumnName(t.timeColumn))} < ${castParam(1, type)}`, [points.get(t.table)]);
      if (Number(rows[0]?.n) > 0) result.push(`${t.table}: ${Number(rows[0]?.n).toLocaleString('en-US')} rows below ${points.get(t.table)}`);
    }
    return result;
  });
  if (counts.length === 0) return;
  ctx.say('The backfill replaces the target\'s rows below T with the source\'s, slice by slice (each in one transaction):');
  for (const line of counts) ctx.say(`  ${line}`);
  // With --yes the plan has confirmed dual-writes and T; replacing below T is what T means.
  if (!ctx.interactive) return;
  const ok = await ctx.prompts.confirm({ message: 'Delete these rows on the target and copy [start, T) from the source?', default: false });
  if (!ok) {
    throw new UsageError('Stopped before the backfill; nothing was deleted.', { hint: `Run \`${resumeLine(ctx)}\` when ready.` });
  }
}

/**
 * User triggers on the chosen tables: by default the backfill's sessions keep them from firing for
 * copied rows. Where that cannot hold (no right to set session_replication_role, or ENABLE ALWAYS
 * triggers), the operator chooses, knowing what each choice means; never silently (issue #8).
 */
async function chooseTriggerHandling(ctx: WizardContext, tables: PlanTable[]): Promise<UserTriggerChoice | undefined> {
  const given = ctx.answers.backfill?.userTriggers;
  if (given !== undefined) return given;
  const { triggerChoiceNeeded, CHOICE_MEANINGS } = await import('../steps/backfill/user-triggers.js');
  const needed = await withClient(ctx.step.target, (client) => triggerChoiceNeeded(client, tables.map(tableSpecOf)));
  if (!needed) return undefined;
  ctx.say(`The backfilled tables have user triggers (${needed.triggers.join('; ')}), and ${needed.reason}.`);
  const choice = await answer<UserTriggerChoice>(ctx, {
    field: 'backfill.userTriggers', what: 'whether the user triggers fire for backfilled rows or are disabled during the backfill',
    given: undefined,
    ask: () => ctx.prompts.select<UserTriggerChoice>({
      message: 'What should the user triggers do while the backfill copies rows?',
      choices: [
        { name: 'Disable them until the backfill ends', value: 'disable', description: CHOICE_MEANINGS.disable },
        { name: 'Let them fire for the copied rows', value: 'fire', description: CHOICE_MEANINGS.fire },
      ],
    }),
  });
  await remember(ctx, { backfill: { ...(ctx.answers.backfill ?? {}), userTriggers: choice } });
  return choice;
}

/** T per table (display name), as the completion-point step recorded it. */
export function recordedPoints(ctx: WizardContext): Map<string, string> {
  const outcome = outcomeOf<{ points?: { table: string; until?: string }[] }>(ctx, 'completion-point');
  return new Map((outcome?.points ?? []).filter((p) => p.until !== undefined).map((p) => [p.table, p.until as string]));
}

export async function backfillStep(ctx: WizardContext): Promise<StepResult> {
  const tables = ctx.answers.tables ?? [];
  if (tables.length === 0) return { status: 'skipped', message: 'no tables to backfill' };
  const { runBackfill } = await import('../steps/backfill/index.js');
  const points = recordedPoints(ctx);
  const missing = tables.filter((t) => !points.has(t.table));
  if (missing.length) {
    throw new MigrateError(`No completion point recorded for ${missing.map((t) => t.table).join(', ')}.`, {
      hint: 'Record one with `migrate completion-point`, or resume to be asked again.',
    });
  }
  await confirmReplacing(ctx, tables, points);
  const workers = await answer(ctx, {
    field: 'backfill.workers', what: 'how many parallel backfill workers to use', given: ctx.answers.backfill?.workers, fallback: 4,
    ask: async () => Number(await ctx.prompts.input({ message: 'Parallel backfill workers (each holds one connection per side)',
      default: '4', validate: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 64) || 'A whole number from 1 to 64' })),
  });
  await remember(ctx, { backfill: { ...(ctx.answers.backfill ?? {}), workers } });
  const userTriggers = await chooseTriggerHandling(ctx, tables);
  const from = ctx.answers.backfill?.from;
  const started = Date.now();
  const result = await runBackfill({
    tables: tables.map((t) => ({
      table: tableSpecOf(t),
      ...(t.timeColumn ? { timeColumn: parseColumnName(t.timeColumn) } : {}),
      ...(from ? { from } : {}),
      until: points.get(t.table) as string,
    })),
    workers,
    ...(ctx.answers.backfill?.slice ? { slice: ctx.answers.backfill.slice } : {}),
    ...(ctx.answers.backfill?.includeInfinity ? { includeInfinity: true } : {}),
    ...(ctx.answers.completionPoint?.timezone ? { timezone: ctx.answers.completionPoint.timezone } : {}),
    ...(userTriggers ? { userTriggers } : {}),
  }, ctx.step);
  const seconds = Math.round((Date.now() - started) / 1000);
  if (!result.complete) {
    throw new MigrateError('The backfill ended with slices still to do (see the messages above).', {
      hint: `Fix the cause, then \`${resumeLine(ctx)}\` copies the remaining slices (\`${statusLine(ctx)}\` lists them).`,
    });
  }
  const rows = result.tables.reduce((sum, t) => sum + t.rowsCopied, 0);
  const slices = result.tables.reduce((sum, t) => sum + t.slicesTotal, 0);
  return {
    status: 'done',
    message: `copied ${rows.toLocaleString('en-US')} rows this run (${slices} slices in all) in ${seconds}s`,
    outcome: { tables: result.tables.map((t) => ({ table: t.table, from: t.from, until: t.until, slicesDone: t.slicesDone,
      slicesTotal: t.slicesTotal, rowsCopied: t.rowsCopied, rowsReplaced: t.rowsReplaced, durationMs: t.durationMs })),
    userTriggers: result.userTriggers, refreshedViews: result.refreshedViews, viewRefreshFailures: result.viewRefreshFailures },
  };
}
