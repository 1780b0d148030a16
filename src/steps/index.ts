/**
 * THE ordered list of the procedure's steps (DESIGN.md §1). `migrate wizard`, `migrate resume` and
 * `migrate status` all walk this one list; each entry names the subcommand that runs the same step
 * function on its own, so status can say what to run next in a shell script as well.
 */

export const STEP_IDS = [
  'preflight',
  'roles',
  'select-hypertables',
  'schema',
  'hypertables',
  'dual-writes',
  'completion-point',
  'backfill',
  'validate',
  'switch-over',
  'finish',
] as const;

export type StepId = (typeof STEP_IDS)[number];

export interface StepInfo {
  id: StepId;
  /** Short title for status and the wizard's headings. */
  title: string;
  /** The subcommand that runs this step alone (undefined: wizard-only, e.g. waiting for dual-writes). */
  command?: string;
  /** What the step does, one line. */
  summary: string;
}

export const STEPS: readonly StepInfo[] = [
  { id: 'preflight', title: 'Connections and preflight', command: 'migrate preflight',
    summary: 'connect to both databases and check versions, tools, extensions and permissions' },
  { id: 'roles', title: 'Roles', command: 'migrate roles',
    summary: 'dump the roles, rewrite them for the target, load them' },
  { id: 'select-hypertables', title: 'Hypertable selection', command: 'migrate candidates',
    summary: 'choose the time-series tables to convert, their time columns and chunk intervals' },
  { id: 'schema', title: 'Schema and relational data', command: 'migrate schema',
    summary: 'dump the schema and the plain tables\' data (without the chosen tables\' data) and load it' },
  { id: 'hypertables', title: 'Hypertables', command: 'migrate hypertables',
    summary: 'convert the chosen tables to hypertables, with optional compression' },
  { id: 'dual-writes', title: 'Dual-writes',
    summary: 'the application writes to both databases; wait until rows arrive in the target' },
  { id: 'completion-point', title: 'Completion point', command: 'migrate completion-point',
    summary: 'choose T per table: rows before T come from the backfill, rows from T on from dual-writes' },
  { id: 'backfill', title: 'Backfill', command: 'migrate backfill',
    summary: 'copy [start, T) from source to target, exactly once, resumable' },
  { id: 'validate', title: 'Validation', command: 'migrate validate',
    summary: 'compare source and target over [start, T)' },
  { id: 'switch-over', title: 'Switch-over', command: 'migrate readiness',
    summary: 'set the sequences past every id, run the switch-over checklist, and say what to do in the application' },
  { id: 'finish', title: 'Finish', command: 'migrate clean',
    summary: 'restore paused policies, optionally remove the ledger, write summary.md' },
];

export function stepInfo(id: StepId): StepInfo {
  return STEPS.find((s) => s.id === id) as StepInfo;
}

/** Statuses after which a step need not run again. */
export function isFinished(status: string | undefined): boolean {
  return status === 'done' || status === 'skipped';
}

/** The first step that is not done or skipped, in procedure order; undefined when all are. */
export function firstUnfinished(statuses: Partial<Record<string, { status: string }>>): StepInfo | undefined {
  return STEPS.find((s) => !isFinished(statuses[s.id]?.status));
}
