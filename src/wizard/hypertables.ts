/**
 * Step 5: convert the chosen tables to hypertables on the target, with the compression the operator
 * chose. Without TimescaleDB on the target the step reports itself skipped: the tables stay plain.
 */
import { outcomeOf, type StepResult, type WizardContext } from './context.js';
import { tableSpecOf } from './select-hypertables.js';

export async function hypertablesStep(ctx: WizardContext): Promise<StepResult> {
  const tables = ctx.answers.tables ?? [];
  if (tables.length === 0) return { status: 'skipped', message: 'no tables to convert' };
  const preflight = outcomeOf<{ timescaleAvailable?: boolean }>(ctx, 'preflight');
  if (preflight?.timescaleAvailable === false) {
    return { status: 'skipped', message: 'TimescaleDB is not available on the target; the tables stay plain tables' };
  }
  const { runHypertables } = await import('../steps/hypertables.js');
  const result = await runHypertables({
    tables: tables.map((t) => ({
      table: tableSpecOf(t),
      ...(t.chunkInterval ? { chunkInterval: t.chunkInterval } : {}),
      ...(t.compress ? { compress: {
        ...(t.compress.segmentBy ? { segmentBy: t.compress.segmentBy } : {}),
        ...(t.compress.orderBy ? { orderBy: t.compress.orderBy } : {}),
        ...(t.compress.compressAfter ? { compressAfter: t.compress.compressAfter } : {}),
      } } : {}),
    })),
  }, ctx.step);
  return { status: 'done', message: `converted ${tables.map((t) => t.table).join(', ')}`, outcome: result };
}
