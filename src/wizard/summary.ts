/**
 * The closing summary: what moved, how long it took, what to do next. Printed at the end of the
 * wizard and written to `<dir>/summary.md` so it can go into a change ticket.
 */
import path from 'node:path';
import { redact } from '../core/connection.js';
import { withClient } from '../core/db.js';
import { writeFileAtomic } from '../core/files.js';
import { readBackfillProgress, type TableProgress } from '../steps/backfill/index.js';
import { STEPS } from '../steps/index.js';
import { recordedPoints } from './backfill.js';
import { outcomeOf, type WizardContext } from './context.js';
import { applicationSteps } from './switch-over.js';

interface SwitchOverOutcome {
  ready?: boolean;
  checks?: { title: string; status: string; detail: string; fix?: string }[];
  commands?: { sequences: string; again: string };
}

function seconds(from?: string, to?: string): number | undefined {
  if (!from || !to) return undefined;
  return Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
}

export function formatDuration(total: number | undefined): string {
  if (total === undefined) return '';
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

export const NEXT_STEPS = [
  'Check that the target holds the production load: send it read traffic (or a replay) while dual-writes continue, ' +
    'and compare latencies and resource use with the source.',
  'Switch over: make the application treat the target as its primary for reads and writes (it may keep writing to ' +
    'the source for a while, as a fallback).',
  'When you no longer need to re-run `migrate backfill` or `migrate validate`, remove the ledger with `migrate clean`.',
];

export function renderSummary(ctx: WizardContext, progress: TableProgress[], now = new Date()): string {
  const state = ctx.store.state;
  const total = seconds(state.createdAt, now.toISOString());
  const lines = ['# Migration summary', '',
    // Answers never hold passwords; redact() again so summary.md cannot, whatever put them there.
    `- source: \`${ctx.answers.source === undefined ? '(libpq defaults)' : redact(ctx.answers.source)}\``,
    `- target: \`${ctx.answers.target === undefined ? '(libpq defaults)' : redact(ctx.answers.target)}\``,
    `- started ${state.createdAt}, finished ${now.toISOString()} (${formatDuration(total)} in all, including waiting)`, '',
    '## Steps', '', '| step | status | took | notes |', '|---|---|---|---|'];
  for (const info of STEPS) {
    const record = state.steps[info.id];
    lines.push(`| ${info.title} | ${record?.status ?? 'pending'} | ${formatDuration(seconds(record?.startedAt, record?.finishedAt))} | ` +
      `${(record?.message ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`);
  }
  const tables = ctx.answers.tables ?? [];
  const points = recordedPoints(ctx);
  lines.push('', '## What moved', '');
  if (tables.length === 0) {
    lines.push('The schema and all data came across with the schema step; no table was backfilled.');
  } else {
    lines.push('The schema and the plain tables\' data came across with the schema step. The time-series tables:', '',
      '| table | time column | completion point T | backfilled rows | slices |', '|---|---|---|---:|---:|');
    for (const t of tables) {
      const p = progress.find((x) => x.table === t.table);
      lines.push(`| ${t.table} | ${t.timeColumn ?? ''} | ${points.get(t.table) ?? ''} | ` +
        `${p ? p.rowsDone.toLocaleString('en-US') : '?'} | ${p ? `${p.slicesDone}/${p.slicesTotal}` : '?'} |`);
    }
    lines.push('', 'Rows before T came from the backfill; rows from T on came from the application\'s dual-writes.');
  }
  const switchOver = outcomeOf<SwitchOverOutcome>(ctx, 'switch-over');
  if (switchOver?.checks?.length) {
    lines.push('', '## Switch-over checklist', '', `${switchOver.ready ? 'Ready to switch over' : 'NOT ready to switch over'} ` +
      '(`migrate readiness`, at the end of the wizard):', '', '| check | status | detail | fix |', '|---|---|---|---|');
    const cell = (text: string | undefined): string => (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, '<br>');
    for (const c of switchOver.checks) lines.push(`| ${cell(c.title)} | ${c.status} | ${cell(c.detail)} | ${cell(c.fix)} |`);
  }
  // Once the finish step removed the ledger there is nothing left for `migrate clean` to do.
  const cleaned = outcomeOf<{ cleaned?: boolean }>(ctx, 'finish')?.cleaned === true;
  const steps = switchOver?.commands ? applicationSteps(switchOver.commands) : NEXT_STEPS;
  const next = cleaned ? steps.slice(0, -1) : steps;
  lines.push('', '## Next', '', ...next.map((s, i) => `${i + 1}. ${s}`), '');
  return lines.join('\n');
}

export async function writeSummary(ctx: WizardContext): Promise<string> {
  let progress: TableProgress[] = outcomeOf<{ progress?: TableProgress[] }>(ctx, 'finish')?.progress ?? [];
  if (progress.length === 0) try {
    progress = await withClient(ctx.step.target, (client) => readBackfillProgress(client));
  } catch {
    // The ledger may be gone (cleaned) or the target unreachable: the summary goes without row counts.
  }
  const text = renderSummary(ctx, progress);
  const file = path.join(ctx.step.dir, 'summary.md');
  await writeFileAtomic(file, text);
  ctx.say('');
  ctx.say(text.replace(/^# /, '').replace(/\n## /g, '\n'));
  return file;
}
