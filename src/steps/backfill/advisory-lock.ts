/**
 * Waiting for one of the ledger's advisory locks without going silent: try it, and while another
 * session holds it, say every so often which one (pid, application, how long its transaction has
 * been open) and how to end it if it is stuck — a process stopped half-way holds it until it ends.
 */
import type { Emit } from '../../core/context.js';
import type { Client } from '../../core/db.js';
import { InterruptedError } from '../../core/errors.js';
import { sleep } from '../../core/sleep.js';

export interface LockWait {
  /** The lock key, an SQL expression (ledger.ts: PLAN_LOCK, RUN_LOCK). */
  key: string;
  /** 'xact': exclusive until the transaction ends; 'shared': shared, for the session. */
  mode: 'xact' | 'shared';
  /** What the lock guards, for messages: "the backfill plan". */
  what: string;
  emit: Emit;
  signal?: AbortSignal;
  /** First report after this long, then every `reportEveryMs` (default 5 s, 30 s). */
  firstReportMs?: number;
  reportEveryMs?: number;
}

const POLL_MS = 200;

export async function acquireAdvisoryLock(client: Client, wait: LockWait): Promise<void> {
  const take = wait.mode === 'xact' ? 'pg_try_advisory_xact_lock' : 'pg_try_advisory_lock_shared';
  const started = Date.now();
  let nextReport = started + (wait.firstReportMs ?? 5_000);
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>(`SELECT ${take}(${wait.key}) AS ok`);
    if (rows[0]?.ok) return;
    if (Date.now() >= nextReport) {
      nextReport = Date.now() + (wait.reportEveryMs ?? 30_000);
      const holders = await client.query<{ pid: number; app: string; state: string | null; xact_s: number | null }>(
        `SELECT a.pid, a.application_name AS app, a.state, extract(epoch FROM now() - a.xact_start)::int AS xact_s
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND ((l.classid::int8 << 32) | l.objid::int8) = ${wait.key} AND l.pid <> pg_backend_pid()`);
      wait.emit({ type: 'info', message: `Waiting ${Math.round((Date.now() - started) / 1000)} s for ${wait.what}, which another ` +
        `session holds${holders.rows.length ? ':' : '.'}`, detail: [
        ...holders.rows.map((h) => `pid ${h.pid} "${h.app}", ${h.state ?? 'unknown'}, transaction open ${h.xact_s ?? '?'} s`),
        'It goes on by itself when that session finishes; if it is stuck, end it with SELECT pg_terminate_backend(pid) on the target.'] });
    }
    if (wait.signal?.aborted) throw new InterruptedError(`Stopped while waiting for ${wait.what}.`);
    await sleep(POLL_MS, wait.signal);
  }
}
