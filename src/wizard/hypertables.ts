/**
 * Step 5: convert the chosen tables to hypertables on the target, with the compression the operator
 * chose. Without TimescaleDB on the target the step reports itself skipped: the tables stay plain.
 * From a TimescaleDB source the schema load already made them hypertables: the step line says so,
 * with the settings they have, instead of claiming to have converted them. Tables whose fix the
 * operator accepted (`fix: true`) are fixed here, on the target, listed with the cost first.
 */
import { displayName, displayTableSpec } from '../core/identifiers.js';
import { displayPath, formatCommandLine } from '../core/shell.js';
import type { describeCompression } from '../steps/hypertable-settings.js';
import type { HypertableResult } from '../steps/hypertables.js';
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
  const settings = await import('../steps/hypertable-settings.js');
  const result = await runHypertables({
    tables: tables.map((t) => ({
      table: tableSpecOf(t),
      ...(t.chunkInterval ? { chunkInterval: t.chunkInterval } : {}),
      ...(t.compress ? { compress: {
        ...(t.compress.segmentBy ? { segmentBy: t.compress.segmentBy } : {}),
        ...(t.compress.orderBy ? { orderBy: t.compress.orderBy } : {}),
        ...(t.compress.compressAfter ? { compressAfter: t.compress.compressAfter } : {}),
      } } : {}),
      ...(t.fix ? { fix: true } : {}),
    })),
    // A blocker only the target has (the plan did not say `fix`): the same fix by hand, then resume.
    fixAdvice: `\`${formatCommandLine(['migrate', 'hypertables', ...tables.flatMap((t) => ['--table', displayTableSpec(tableSpecOf(t))]),
      '--dir', displayPath(ctx.step.dir), '--fix'])}\` (then \`${formatCommandLine(['migrate', 'resume', '--dir', displayPath(ctx.step.dir)])}\`)`,
  }, ctx.step);
  return { status: 'done', message: describeResults(result, settings.describeCompression), outcome: result };
}

/**
 * One line: `converted public.orders; already hypertables: public.metrics (chunks of 1 day; compression
 * already enabled; segment by device_id; …)`.
 */
function describeResults(results: HypertableResult[], describe: typeof describeCompression): string {
  const converted = results.filter((r) => r.status !== 'already-hypertable');
  const already = results.filter((r) => r.status === 'already-hypertable');
  const parts: string[] = [];
  if (converted.length > 0) parts.push(`converted ${converted.map((r) => displayName(r.table)).join(', ')}`);
  const fixed = results.filter((r) => r.fix);
  if (fixed.length > 0) {
    parts.push(`fixed first: ${fixed.map((r) => `${displayName(r.table)} (${r.fix?.changes.join('; ')})`).join(', ')}`);
  }
  if (already.length > 0) {
    parts.push(`already ${already.length === 1 ? 'a hypertable' : 'hypertables'}: ${already.map((r) =>
      `${displayName(r.table)} (chunks of ${r.chunkInterval}; compression ${describe(r.compression, r.policyJobId)})`).join(', ')}`);
  }
  return parts.join('; ') || 'no tables converted';
}
