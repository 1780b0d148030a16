/**
 * A backfill worker: its own source and target connections, pulling slices from the ledger until
 * none are left. Each slice is one target transaction: claim (FOR UPDATE SKIP LOCKED), DELETE the
 * range, COPY it in, mark it done, COMMIT. Several workers, and several processes on several
 * machines, share one ledger this way.
 *
 * After any failure both connections are thrown away (they may be mid-COPY); the server rolls the
 * target transaction back when its connection goes, so the slice is untouched and starts over.
 */
import type { Endpoint } from '../../core/connection.js';
import type { Emit } from '../../core/context.js';
import type { Client } from '../../core/db.js';
import { MigrateError, describeError } from '../../core/errors.js';
import { displayName, type QualifiedName } from '../../core/identifiers.js';
import type { CopyColumns } from './columns.js';
import { copySlice } from './copy.js';
import type { LedgerPlan } from './ledger.js';
import type { Progress } from './progress.js';
import { MAX_ATTEMPTS, backoffMs, isRetryable, sleep } from './retry.js';
import { discard, openSession } from './session.js';
import type { WorkerActivity } from './watchdog.js';

export { discard, openSession } from './session.js';

export interface TableWork { plan: LedgerPlan; columns: CopyColumns }

export interface WorkerShared {
  source: Endpoint;
  target: Endpoint;
  tables: TableWork[];
  /** Aborted on Ctrl-C or when another worker failed: stop, rolling back the slice in flight. */
  signal: AbortSignal;
  progress: Progress;
  emit: Emit;
  /** host:pid, recorded in claimed_by. */
  by: string;
  /** Failed attempts per slice in this process, shared by the workers (a slice may move between them). */
  failures?: Map<string, number>;
  /** Where each worker reports what it holds and when it last moved, for the watchdog (watchdog.ts). */
  activityFor?: (index: number) => WorkerActivity;
  /** Target sessions in replica mode, so user triggers do not fire for copied rows (user-triggers.ts). */
  replicaRole?: boolean;
  /** Called on the worker's target session after each slice commits (compression.ts); never throws. */
  afterSlice?: (target: Client, plan: LedgerPlan, start: string, end: string) => Promise<void>;
}

const PENDING_POLL_MS = 200;

interface Claimed { work: TableWork; start: string; end: string; estRows: number; seq: number }

const CLAIM_SQL = `SELECT range_start AS start, range_end AS end, est_rows, seq FROM _migrate.backfill_slice
  WHERE schema_name = $1 AND table_name = $2 AND status = 'pending'
    AND ($3::text IS NULL OR (range_start = $3 AND range_end = $4))
  ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED`;

async function claim(target: Client, tables: TableWork[], first: number, only?: Claimed): Promise<Claimed | undefined> {
  const order = only ? [only.work] : tables.map((_, i) => tables[(first + i) % tables.length] as TableWork);
  for (const work of order) {
    const { rows } = await target.query<{ start: string; end: string; est_rows: string; seq: number }>(CLAIM_SQL,
      [work.plan.table.schema, work.plan.table.table, only?.start ?? null, only?.end ?? null]);
    const row = rows[0];
    if (row) return { work, start: row.start, end: row.end, estRows: Number(row.est_rows), seq: row.seq };
  }
  return undefined;
}

async function countPending(target: Client, tables: TableWork[]): Promise<number> {
  const { rows } = await target.query<{ n: string }>(
    `SELECT count(*) AS n FROM _migrate.backfill_slice s JOIN unnest($1::text[], $2::text[]) t(s, n)
       ON s.schema_name = t.s AND s.table_name = t.n WHERE s.status = 'pending'`,
    [tables.map((t) => t.plan.table.schema), tables.map((t) => t.plan.table.table)]);
  return Number(rows[0]?.n ?? 0);
}

/** Best effort: note a failed attempt in the ledger (the slice's own transaction is gone). */
async function recordAttempt(target: Endpoint, table: QualifiedName, slice: Claimed, error: unknown): Promise<void> {
  try {
    const client = await openSession(target);
    try {
      await client.query(`UPDATE _migrate.backfill_slice SET attempts = attempts + 1, last_error = $5
        WHERE schema_name = $1 AND table_name = $2 AND range_start = $3 AND range_end = $4`,
      [table.schema, table.table, slice.start, slice.end, describeError(error).slice(0, 2000)]);
    } finally {
      discard(client);
    }
  } catch { /* the target may be down; the retry will tell */ }
}

export async function runWorker(shared: WorkerShared, index: number): Promise<void> {
  let source: Client | undefined;
  let target: Client | undefined;
  // After a transient failure the worker tries that same slice again first (if it is still free).
  let retry: { slice: Claimed } | undefined;
  let connectAttempt = 0;
  const failures = shared.failures ?? new Map<string, number>();
  const activity: WorkerActivity = shared.activityFor?.(index) ?? { name: `w${index + 1}`, lastProgress: Date.now() };
  const alive = (): void => { activity.lastProgress = Date.now(); };
  while (!shared.signal.aborted) {
    let slice: Claimed | undefined;
    let bytes = 0;
    try {
      source ??= activity.source = await openSession(shared.source);
      target ??= activity.target = await openSession(shared.target, undefined, { replica: shared.replicaRole ?? false });
      connectAttempt = 0;
      activity.task = 'claiming a slice';
      alive();
      await target.query('BEGIN');
      slice = await claim(target, shared.tables, index, retry?.slice);
      if (!slice) {
        await target.query('ROLLBACK');
        if (retry) { retry = undefined; continue; } // done or taken by another worker meanwhile
        // Nothing free: finished, unless slices are still held by other workers or processes (which
        // may yet fail and release them); wait for those so that returning means "all done". The
        // watchdog says who holds them when the wait grows long.
        const pending = await countPending(target, shared.tables);
        activity.task = undefined;
        if (pending === 0) break;
        activity.waitingSince ??= Date.now();
        // Short: while this worker waits, the run's end waits on it (measured: a 1 s poll cost up
        // to a second per run).
        await sleep(PENDING_POLL_MS, shared.signal);
        continue;
      }
      activity.waitingSince = undefined;
      activity.task = `copying the slice [${slice.start}, ${slice.end}) of ${displayName(slice.work.plan.table)}`;
      alive();
      // Named in pg_stat_activity for as long as this transaction holds the slice (is_local), so a
      // peer waiting for it can say who holds it.
      await target.query('SELECT set_config(\'application_name\', $1, true)',
        [`migrate ${displayName(slice.work.plan.table)}#${slice.seq} ${shared.by}/w${index + 1}`.slice(0, 63)]);
      const key = displayName(slice.work.plan.table);
      shared.progress.sliceStarted(key);
      const { plan, columns } = slice.work;
      const copied = await copySlice(source, target, {
        table: plan.table, column: plan.column, sourceType: plan.type, targetType: plan.targetType,
        start: slice.start, end: slice.end, columns,
      }, { signal: shared.signal, onBytes: (n) => { bytes += n; alive(); shared.progress.addBytes(key, n); } });
      alive();
      await target.query(`UPDATE _migrate.backfill_slice
          SET status = 'done', rows = $5, bytes = $6, attempts = attempts + 1, claimed_by = $7, finished_at = now(), last_error = NULL
        WHERE schema_name = $1 AND table_name = $2 AND range_start = $3 AND range_end = $4`,
      [plan.table.schema, plan.table.table, slice.start, slice.end, copied.rows, copied.bytes, `${shared.by}/w${index + 1}`]);
      await target.query('COMMIT');
      activity.task = undefined;
      shared.progress.sliceDone(key, { rows: copied.rows, estRows: slice.estRows, deleted: copied.deleted });
      retry = undefined;
      if (shared.afterSlice) {
        activity.task = `compressing the chunks ${displayName(plan.table)} completed`;
        alive();
        await shared.afterSlice(target, plan, slice.start, slice.end);
        activity.task = undefined;
      }
    } catch (error) {
      activity.task = undefined;
      discard(source);
      discard(target);
      source = activity.source = undefined;
      target = activity.target = undefined;
      if (slice && bytes > 0) shared.progress.sliceFailed(displayName(slice.work.plan.table), bytes);
      if (shared.signal.aborted) break;
      const failed = slice ?? retry?.slice;
      let attempt: number;
      if (failed) {
        const id = `${displayName(failed.work.plan.table)} ${failed.start}`;
        attempt = (failures.get(id) ?? 0) + 1;
        failures.set(id, attempt);
      } else {
        attempt = connectAttempt += 1;
      }
      if (isRetryable(error) && attempt < MAX_ATTEMPTS) {
        const wait = backoffMs(attempt);
        shared.emit({ type: 'warn', message: `${failed ? `Slice [${failed.start}, ${failed.end}) of ${displayName(failed.work.plan.table)}`
          : 'A worker'} failed (attempt ${attempt} of ${MAX_ATTEMPTS}): ${describeError(error).split('\n')[0]}; ` +
          `retrying in ${wait / 1000}s (it starts over: its transaction was rolled back).` });
        if (failed) await recordAttempt(shared.target, failed.work.plan.table, failed, error);
        await sleep(wait, shared.signal);
        retry = failed ? { slice: failed } : undefined;
        continue;
      }
      if (failed) await recordAttempt(shared.target, failed.work.plan.table, failed, error);
      throw sliceError(error, failed, attempt);
    }
  }
  discard(source);
  discard(target);
}

function sliceError(error: unknown, slice: Claimed | undefined, attempts: number): MigrateError {
  const where = slice ? `the slice [${slice.start}, ${slice.end}) of ${displayName(slice.work.plan.table)}` : 'a backfill worker';
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  return new MigrateError(`The backfill failed on ${where}${tries}: ${describeError(error)}`, {
    hint: `${slice ? 'Nothing of that slice was kept (its transaction rolled back); slices' : 'Slices'} already done are kept. ` +
      'Fix the cause, then run the same `migrate backfill` command again (or `migrate resume`) to continue.',
    cause: error,
  });
}
