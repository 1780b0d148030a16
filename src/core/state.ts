/**
 * The migration's memory: `<dir>/state.json` holds every answer (as a plan, see plan.ts) and every
 * step's outcome, so `migrate resume` can continue and `migrate status` can report. It is
 * versioned and zod-validated, written atomically (temp file + rename), and guarded by
 * `<dir>/.lock` so two runs cannot work on one directory at once. Passwords never go in it.
 *
 * The backfill's own progress lives in the target's ledger (exactly-once per slice); this file only
 * records that the step is running, done, or was interrupted.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { UsageError } from './errors.js';
import { writeFileAtomic } from './files.js';
import { acquireLock, type Lock } from './state-lock.js';
import { formatIssues, planSchema, withoutPasswords, type Plan } from './plan.js';
import { displayPath, formatCommandLine } from './shell.js';

export { acquireLock, readLock, type Lock, type LockInfo } from './state-lock.js';

export const STATE_VERSION = 1;
export const STATE_FILE = 'state.json';

export const stepStatusSchema = z.enum(['pending', 'running', 'done', 'skipped', 'failed', 'interrupted']);
export type StepStatus = z.infer<typeof stepStatusSchema>;

const stepRecordSchema = z.object({
  status: stepStatusSchema,
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** One line for status: what happened, or why it failed. */
  message: z.string().optional(),
  /** Step-specific facts for the summary (JSON; never passwords). */
  outcome: z.unknown().optional(),
});
export type StepRecord = z.infer<typeof stepRecordSchema>;

export const stateSchema = z.object({
  version: z.literal(STATE_VERSION),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The answers so far, in plan form (connection strings without passwords). */
  answers: planSchema,
  steps: z.record(z.string(), stepRecordSchema),
});
export type MigrationState = z.infer<typeof stateSchema>;

export function stateFile(dir: string): string {
  return path.join(dir, STATE_FILE);
}

export function emptyState(now = new Date()): MigrationState {
  const at = now.toISOString();
  return { version: STATE_VERSION, createdAt: at, updatedAt: at, answers: {}, steps: {} };
}

/**
 * Read and check the state file; undefined when there is none yet. The one loader every command
 * that reads or records state goes through, so a damaged, unreadable or newer-version file gets the
 * same message and exit code (2: bad input) everywhere. Never throws a raw parse error.
 */
export async function readState(dir: string): Promise<MigrationState | undefined> {
  const file = stateFile(dir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`Cannot read the state file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`, {
      hint: 'Check the permissions of the migration directory (--dir), or point --dir at the right one.',
      cause: error,
    });
  }
  return parseState(text, file);
}

export function parseState(text: string, file = STATE_FILE): MigrationState {
  const aside = formatCommandLine(['mv', file, `${file}.bad`]);
  const corrupt = (why: string): UsageError => new UsageError(`The state file ${file} is damaged: ${why}`, {
    hint: `Restore it from a backup, or move it aside (\`${aside}\`) and start again with ` +
      `\`${formatCommandLine(['migrate', 'wizard', '--dir', displayPath(path.dirname(file))])}\`; ` +
      'the backfill ledger in the target still knows which slices are done.',
  });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw corrupt(`it is not valid JSON (${error instanceof Error ? error.message : String(error)}).`);
  }
  const version = (data as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version > STATE_VERSION) {
    throw new UsageError(`The state file ${file} was written by a newer migrate (state version ${version}; ` +
      `this one reads version ${STATE_VERSION}).`, {
      hint: 'Upgrade migrate (pull and reinstall the checkout, or install a newer packed tarball: README "Install") and run the command again.',
    });
  }
  const result = stateSchema.safeParse(data);
  if (!result.success) throw corrupt(`\n${formatIssues(result.error.issues).map((l) => `  - ${l}`).join('\n')}`);
  return result.data;
}


export async function writeState(dir: string, state: MigrationState): Promise<void> {
  const safe: MigrationState = { ...state, answers: withoutPasswords(state.answers), updatedAt: new Date().toISOString() };
  await writeFileAtomic(stateFile(dir), `${JSON.stringify(safe, null, 2)}\n`, { mode: 0o600 });
}

/**
 * A locked, open migration directory. Writes are serialized so concurrent updates from one process
 * (progress, a Ctrl-C handler) never interleave.
 */
export class StateStore {
  private queue: Promise<void> = Promise.resolve();

  private constructor(readonly dir: string, public state: MigrationState, private readonly lock: Lock) {}

  /** Lock the directory and read its state (a fresh one when there is none). */
  static async open(dir: string, command: string): Promise<StateStore> {
    const lock = await acquireLock(dir, command);
    try {
      const state = (await readState(dir)) ?? emptyState();
      return new StateStore(dir, state, lock);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** Apply a change and write the file; resolves once it is on disk. */
  update(change: (state: MigrationState) => void): Promise<void> {
    const run = async (): Promise<void> => {
      change(this.state);
      this.state.answers = withoutPasswords(this.state.answers);
      await writeState(this.dir, this.state);
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  step(id: string): StepRecord {
    return this.state.steps[id] ?? { status: 'pending' };
  }

  setAnswers(answers: Partial<Plan>): Promise<void> {
    return this.update((state) => { state.answers = { ...state.answers, ...answers }; });
  }

  markStep(id: string, status: StepStatus, details: { message?: string; outcome?: unknown } = {}): Promise<void> {
    return this.update((state) => { state.steps[id] = applyStatus(state.steps[id], status, details); });
  }

  async release(): Promise<void> {
    await this.queue;
    await this.lock.release();
  }
}

function applyStatus(previous: StepRecord | undefined, status: StepStatus,
  details: { message?: string; outcome?: unknown; startedAt?: string; finishedAt?: string }): StepRecord {
  const now = new Date().toISOString();
  const record: StepRecord = { ...(previous ?? { status }), status };
  if (status === 'running') {
    record.startedAt = details.startedAt ?? now;
    delete record.finishedAt;
    delete record.message;
  } else if (status !== 'pending') {
    record.startedAt = details.startedAt ?? record.startedAt ?? now;
    record.finishedAt = details.finishedAt ?? now;
  } else {
    delete record.startedAt;
    delete record.finishedAt;
    delete record.outcome;
  }
  if (details.message !== undefined) record.message = details.message;
  if (details.outcome !== undefined) record.outcome = details.outcome;
  return record;
}

export interface StepOutcome {
  status: StepStatus;
  message?: string;
  /** Step-specific JSON facts (never passwords). */
  data?: unknown;
  startedAt?: string;
  finishedAt?: string;
}

/**
 * Record one step's outcome from a subcommand (`migrate backfill` …), so `status` and `resume` know
 * about work done outside the wizard. Takes the lock briefly; creates the state file if needed.
 */
export async function recordStepOutcome(dir: string, stepId: string, outcome: StepOutcome): Promise<void> {
  const lock = await acquireLock(dir, `record ${stepId}`, { waitMs: 5000 });
  try {
    const state = (await readState(dir)) ?? emptyState();
    state.steps[stepId] = applyStatus(state.steps[stepId], outcome.status, {
      message: outcome.message, outcome: outcome.data, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt,
    });
    await writeState(dir, state);
  } finally {
    await lock.release();
  }
}
