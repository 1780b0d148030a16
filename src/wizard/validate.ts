/**
 * Step 9: compare source and target over [start, T) per slice and show the table of results.
 * Differences fail the step (exit 3) with what differs; after fixing (`migrate validate --repair`),
 * `migrate resume` checks again.
 */
import { formatTable } from '../core/text-table.js';
import { DifferencesFoundError } from '../core/errors.js';
import { displayPath, formatCommandLine } from '../core/shell.js';
import { describeDifferences } from '../steps/validate-describe.js';
import type { ValidateResult } from '../steps/validate.js';
import { answer, remember, type StepResult, type WizardContext } from './context.js';
import { tableSpecOf } from './select-hypertables.js';

export function formatValidation(result: ValidateResult): string {
  return formatTable(result.tables, [
    { header: 'table', value: (t) => t.table },
    { header: 'range', value: (t) => `[${t.from}, ${t.until})` },
    { header: 'slices', value: (t) => String(t.slices), align: 'right' },
    { header: 'source rows', value: (t) => t.rows.source.toLocaleString('en-US'), align: 'right' },
    { header: 'target rows', value: (t) => t.rows.target.toLocaleString('en-US'), align: 'right' },
    { header: 'result', value: (t) => (t.ok ? 'match' : describeDifferences(t)) },
  ]);
}

export async function validateStep(ctx: WizardContext): Promise<StepResult> {
  const tables = ctx.answers.tables ?? [];
  if (tables.length === 0) return { status: 'skipped', message: 'no backfilled tables to compare' };
  const skip = await answer(ctx, {
    field: 'validate.skip', what: 'whether to validate the backfilled data', given: ctx.answers.validate?.skip, fallback: false,
    ask: async () => !(await ctx.prompts.confirm({ message: 'Compare source and target over the backfilled range now?', default: true })),
  });
  await remember(ctx, { validate: { ...(ctx.answers.validate ?? {}), skip } });
  if (skip) return { status: 'skipped', message: 'skipped on request (run `migrate validate` later)' };
  const { runValidate } = await import('../steps/validate.js');
  const from = ctx.answers.backfill?.from;
  const timezone = ctx.answers.completionPoint?.timezone;
  const lateness = ctx.answers.completionPoint?.lateness;
  const result = await runValidate({ tables: tables.map(tableSpecOf), ...(from ? { from: [from] } : {}),
    ...(timezone ? { timezone } : {}), ...(lateness ? { lateness } : {}), plainTables: true }, ctx.step);
  ctx.say(formatValidation(result));
  const plain = result.plainTablesSummary;
  if (plain && plain.tables > 0) {
    const { describePlainTables } = await import('../steps/validate-plain.js');
    const unequal = (result.plainTables ?? []).filter((t) => t.status !== 'match');
    ctx.say(`Plain tables (copied with the schema): ${describePlainTables(plain)}` +
      (unequal.length > 0 ? ` (${unequal.slice(0, 5).map((t) => t.table).join(', ')}${unequal.length > 5 ? ', …' : ''}). During ` +
        'dual-writes the application may change them on both sides at different moments; they must match once writes to the ' +
        'source have stopped, right before the switch (the Switch-over step checks them again).' : '.'));
  }
  const differing = result.tables.filter((t) => !t.ok);
  if (!result.ok) {
    const command = (...args: string[]): string => formatCommandLine(['migrate', ...args, '--dir', displayPath(ctx.step.dir)]);
    throw new DifferencesFoundError(`Source and target differ in ${differing.map((t) => t.table).join(', ')} over [start, T).`, {
      hint: `See the differing slices with \`${command('validate')}\`; re-copy them with ` +
        `\`${command('validate', '--repair')}\`, then run \`${command('resume')}\`.`,
    });
  }
  const rows = result.tables.reduce((sum, t) => sum + t.rows.target, 0);
  return {
    status: 'done',
    message: `source and target match: ${rows.toLocaleString('en-US')} rows in ${result.tables.length} table(s) below T` +
      (plain && plain.tables > 0 ? `; plain tables: ${plain.match} of ${plain.tables} match` : ''),
    outcome: { tables: result.tables.map((t) => ({ table: t.table, from: t.from, until: t.until, slices: t.slices, rows: t.rows, ok: t.ok })),
      ...(result.plainTables ? { plainTables: result.plainTables.map((t) => ({ table: t.table, rows: t.rows, status: t.status })) } : {}) },
  };
}
