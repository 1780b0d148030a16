/**
 * Step 1b: the preflight report, after both connections were tested. Blockers stop here, each with
 * its fix; the step is recorded as failed and `migrate resume` checks again once they are fixed.
 */
import { MigrateError } from '../core/errors.js';
import { resumeLine, type StepResult, type WizardContext } from './context.js';

const MARK = { ok: '✔', warn: '!', block: '✖' } as const;

export async function preflightStep(ctx: WizardContext): Promise<StepResult> {
  const { runPreflight } = await import('../steps/preflight.js');
  // Without TimescaleDB the procedure still works (plain tables, backfilled); the hypertable step says it is skipped.
  const report = await runPreflight({ requireTimescale: false }, ctx.step);
  for (const check of report.checks) {
    ctx.say(`  ${MARK[check.status]} ${check.label}: ${check.detail}${check.status !== 'ok' && check.fix ? `\n      fix: ${check.fix}` : ''}`);
  }
  const blocks = report.checks.filter((c) => c.status === 'block');
  if (!report.ok || blocks.length > 0) {
    throw new MigrateError(`${blocks.length} preflight check(s) block the migration: ${blocks.map((c) => c.label).join(', ')}.`, {
      hint: `${blocks.map((c) => `${c.label}: ${c.fix ?? c.detail}`).join('\n      ')}\n      Then run \`${resumeLine(ctx)}\`.`,
    });
  }
  if (!report.target.timescaleAvailable) {
    ctx.say('TimescaleDB is not available on the target: the chosen tables stay plain PostgreSQL tables ' +
      '(the hypertable step will be skipped); the backfill still copies their data.');
  }
  const warnings = report.checks.filter((c) => c.status === 'warn').length;
  return {
    status: 'done',
    message: `no blockers${warnings ? `, ${warnings} warning(s)` : ''}; TimescaleDB on the target: ` +
      `${report.target.timescaleAvailable ? (report.target.timescaleVersion ?? 'yes') : 'not available'}`,
    outcome: {
      timescaleAvailable: report.target.timescaleAvailable,
      timescaleVersion: report.target.timescaleVersion,
      sourceIsTimescale: report.sourceIsTimescale,
      targetTables: report.target.tables,
      warnings: report.checks.filter((c) => c.status === 'warn').map((c) => c.label),
    },
  };
}
