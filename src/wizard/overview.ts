/**
 * Where a migration stands, from its state file (and, when the target is reachable, the backfill
 * ledger): shown by `migrate status` and at the start of `migrate resume`.
 */
import { displayPath, formatCommandLine } from '../core/shell.js';
import type { MigrationState, StepStatus } from '../core/state.js';
import { jobLabel, type PausedJob } from '../steps/backfill/policies.js';
import { STEPS, firstUnfinished, type StepId } from '../steps/index.js';

export interface SliceProgress {
  table: string;
  done: number;
  total: number;
  rowsDone?: number;
}

/** Background jobs paused on the target, from its ledger, and why (backfill/schema-load-pause.ts). */
export interface PausedJobsReport {
  /** Paused by `migrate schema` (TimescaleDB source) until every table it left empty is backfilled. */
  sinceSchemaLoad: PausedJob[];
  /** Tables those jobs still wait for: no complete backfill plan yet. Empty: the next backfill or resume restores them. */
  waitingFor: string[];
  /** Paused by a backfill that is running or was cut off. */
  byBackfill: PausedJob[];
}

export interface StatusReport {
  dir: string;
  exists: boolean;
  createdAt?: string;
  updatedAt?: string;
  source?: string;
  target?: string;
  tables: string[];
  steps: { id: StepId; title: string; status: StepStatus; startedAt?: string; finishedAt?: string;
    seconds?: number; message?: string; command?: string }[];
  /** Backfill slices per table from the target's ledger; undefined when unknown. */
  backfill?: SliceProgress[];
  backfillNote?: string;
  /** Jobs paused on the target; undefined when none are or the target was not read. */
  pausedJobs?: PausedJobsReport;
  /** Why the paused jobs are unknown (the target could not be read). */
  pausedJobsNote?: string;
  complete: boolean;
  next: string;
}

export function buildStatus(dir: string, state: MigrationState | undefined, resume: string): StatusReport {
  const steps = STEPS.map((info) => {
    const record = state?.steps[info.id];
    const seconds = record?.startedAt && record.finishedAt
      ? Math.max(0, Math.round((Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000)) : undefined;
    return {
      id: info.id, title: info.title, status: record?.status ?? 'pending',
      ...(record?.startedAt ? { startedAt: record.startedAt } : {}),
      ...(record?.finishedAt ? { finishedAt: record.finishedAt } : {}),
      ...(seconds !== undefined ? { seconds } : {}),
      ...(record?.message ? { message: record.message } : {}),
      ...(info.command ? { command: info.command } : {}),
    };
  });
  const pending = state ? firstUnfinished(state.steps) : STEPS[0];
  const complete = state !== undefined && pending === undefined;
  const next = state === undefined ? formatCommandLine(['migrate', 'wizard', '--dir', displayPath(dir)]) :
    complete ? 'nothing here: the migration is complete. Check the target under production load, then switch the application over.' :
    resume;
  return {
    dir, exists: state !== undefined,
    ...(state ? { createdAt: state.createdAt, updatedAt: state.updatedAt } : {}),
    ...(state?.answers.source ? { source: state.answers.source } : {}),
    ...(state?.answers.target ? { target: state.answers.target } : {}),
    tables: (state?.answers.tables ?? []).map((t) => t.table),
    steps, complete, next,
  };
}

const MARKS: Record<StepStatus, string> = {
  done: '✔', skipped: '–', running: '▶', interrupted: '⏸', failed: '✖', pending: '·',
};

function clock(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
}

function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m ${seconds % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatStatus(report: StatusReport): string {
  if (!report.exists) return `No migration recorded in ${report.dir} yet.\nnext: ${report.next}`;
  const lines = [`Migration in ${report.dir} (started ${clock(report.createdAt)}, last update ${clock(report.updatedAt)})`];
  if (report.source) lines.push(`  source: ${report.source}`);
  if (report.target) lines.push(`  target: ${report.target}`);
  if (report.tables.length) lines.push(`  hypertables: ${report.tables.join(', ')}`);
  lines.push('');
  const width = Math.max(...report.steps.map((s) => s.title.length));
  report.steps.forEach((s, i) => {
    const when = s.startedAt ? `${clock(s.startedAt)}${s.seconds !== undefined ? ` (${duration(s.seconds)})` : ''}` : '';
    lines.push(`  ${MARKS[s.status]} ${String(i + 1).padStart(2)}. ${s.title.padEnd(width)}  ${s.status.padEnd(11)} ${when}`.trimEnd());
    if (s.message && s.status !== 'pending') lines.push(`        ${s.message}`);
  });
  if (report.backfill?.length) {
    lines.push('', '  backfill slices (from the target\'s ledger):');
    for (const t of report.backfill) {
      lines.push(`    ${t.table}: ${t.done}/${t.total} slices done${t.rowsDone !== undefined ? `, ${t.rowsDone.toLocaleString('en-US')} rows` : ''}`);
    }
  } else if (report.backfillNote) {
    lines.push('', `  backfill: ${report.backfillNote}`);
  }
  if (report.pausedJobs) lines.push('', ...formatPausedJobs(report.pausedJobs));
  else if (report.pausedJobsNote) lines.push('', `  background jobs: ${report.pausedJobsNote}`);
  lines.push('', `next: ${report.next}`);
  return lines.join('\n');
}

function formatPausedJobs({ sinceSchemaLoad, waitingFor, byBackfill }: PausedJobsReport): string[] {
  const jobs = (list: PausedJob[]): string =>
    list.map((j) => `${jobLabel(j)} (was ${j.wasScheduled ? 'scheduled' : 'not scheduled'})`).join(', ');
  const lines = ['  background jobs paused on the target (from its ledger):'];
  if (sinceSchemaLoad.length > 0) {
    lines.push(`    ${sinceSchemaLoad.length} since the schema load: they come back as they are on the source once every table it ` +
      'left empty is completely backfilled');
    lines.push(waitingFor.length > 0 ? `      still waiting for the backfill of: ${waitingFor.join(', ')}`
      : '      every such table is backfilled: the next `migrate backfill` or `migrate resume` restores them');
    lines.push(`      ${jobs(sinceSchemaLoad)}`);
  }
  if (byBackfill.length > 0) {
    lines.push(`    ${byBackfill.length} by a running or interrupted backfill (the last backfill to end restores them): ${jobs(byBackfill)}`);
  }
  return lines;
}

export function formatOverview(state: MigrationState): string {
  return formatStatus(buildStatus('this migration', state, 'continuing below')).split('\nnext:')[0] ?? '';
}
