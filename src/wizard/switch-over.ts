/**
 * Step 10: the switch-over (issue #8; steps 7–9 of the reference procedure). Sets every target
 * sequence past every id (`migrate sequences`), runs the switch-over checklist (`migrate
 * readiness`), and ends with what to do in the application. A checklist that fails stops here
 * (exit 1) with each fix; `migrate resume` checks again.
 */
import { MigrateError } from '../core/errors.js';
import { answer, remember, type StepResult, type WizardContext } from './context.js';
import { tableSpecOf } from './select-hypertables.js';

/** What to do in the application once the checklist passes; `commands` are this migration's command lines. */
export function applicationSteps(commands: { sequences: string; again: string }): string[] {
  return [
    'Stop the application\'s writes to the source (a short maintenance window, or stop its writers); dual-writes have kept ' +
      'the target current until now.',
    `Run \`${commands.sequences}\` again: the source handed out ids until the writes stopped.`,
    `Run \`${commands.again}\` once more: the dual-write window must show no row the target lacks, and where it warns ` +
      'about plain tables, compare them now with the command it prints (with writes stopped they must match).',
    'Point the application\'s reads and writes at the target, and stop writing to the source. Keep the source, untouched, ' +
      'until you trust the target: it is your way back.',
    'When you will no longer run `migrate backfill` or `migrate validate`, remove the ledger with `migrate clean`.',
  ];
}

export async function switchOverStep(ctx: WizardContext): Promise<StepResult> {
  const tables = (ctx.answers.tables ?? []).map(tableSpecOf);
  const margin = await answer(ctx, {
    field: 'switchOver.sequenceMargin', what: 'how many ids to set the sequences beyond the highest in use',
    given: ctx.answers.switchOver?.sequenceMargin, fallback: 0,
    ask: async () => Number(await ctx.prompts.input({
      message: 'Sequences: ids to add beyond the highest in use (covers ids the source hands out until the switch)',
      default: '0', validate: (v) => (/^\d+$/.test(v.trim()) && Number.isSafeInteger(Number(v))) || 'A whole number of ids' })),
  });
  await remember(ctx, { switchOver: { ...(ctx.answers.switchOver ?? {}), sequenceMargin: margin } });

  const { runSequences } = await import('../steps/sequences.js');
  const { formatSequences } = await import('../cli/commands/sequences.js');
  const sequences = await runSequences({ margin }, ctx.step);
  if (sequences.sequences.length > 0) ctx.say(formatSequences(sequences));

  const { runReadiness } = await import('../steps/readiness/index.js');
  const { formatReadiness, repeatedFlags } = await import('../cli/commands/readiness.js');
  const lateness = ctx.answers.completionPoint?.lateness;
  const readiness = await runReadiness({ tables, ...(lateness ? { lateness } : {}),
    repeat: repeatedFlags({ source: ctx.answers.source, target: ctx.answers.target, dir: ctx.step.dir }) }, ctx.step);
  ctx.say(formatReadiness(readiness));
  const outcome = {
    ready: readiness.ready,
    checks: readiness.checks.map((c) => ({ title: c.title, status: c.status, detail: c.detail, ...(c.fix ? { fix: c.fix } : {}) })),
    sequencesAdvanced: sequences.sequences.filter((s) => s.action === 'advanced').length,
    sequencesOutOfRange: sequences.outOfRange,
    commands: readiness.commands,
  };
  if (!readiness.ready) {
    await ctx.store.markStep('switch-over', 'failed', { message: 'not ready to switch over', outcome });
    const failed = readiness.checks.filter((c) => c.status === 'fail').map((c) => c.title);
    throw new MigrateError(`Not ready to switch over: ${failed.join(', ') || 'a production read differs'}.`, {
      hint: `Do what "To fix" says above, then run \`migrate resume\` to check again (or \`${readiness.commands.again}\`).`,
    });
  }
  ctx.say('');
  ctx.say('The target is ready. In the application:');
  applicationSteps(readiness.commands).forEach((line, i) => ctx.say(`  ${i + 1}. ${line}`));
  const warnings = readiness.checks.filter((c) => c.status === 'warn').length;
  return {
    status: 'done',
    message: `ready to switch over${warnings ? ` (${warnings} warning(s))` : ''}; ${outcome.sequencesAdvanced} sequence(s) advanced`,
    outcome,
  };
}
