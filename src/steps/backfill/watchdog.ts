/**
 * Bounded waits for the backfill's workers. A connection can go half-open — the network drops it
 * while both ends still think it is up — and then a worker waits for an answer that never comes,
 * while the server still holds the slice's row lock for a session nobody drives. TCP keepalives
 * notice in minutes at best; this notices in STALL_SECONDS, by asking the servers themselves.
 *
 * Every WATCH_MS, for each worker that has had no answer and moved no bytes for the stall time while
 * it waits on its connections (claiming a slice, copying one, committing it), it reads the worker's two backends in pg_stat_activity (from connections of its own):
 *   - the target backend is gone, or sits idle in its transaction: it waits for us while we wait
 *     for it, so the target connection is dead;
 *   - the target waits for COPY data (ClientRead) and the source backend is gone, idle, or blocked
 *     sending to us (ClientWrite): both servers wait for us, so one of our connections is dead.
 * Either way both backends are terminated (that frees the slice's row lock at once) and both
 * sockets destroyed: the worker's pending query fails and the slice is retried from scratch, as
 * after any dropped connection. A backend waiting on a lock is only reported, with who holds it.
 * Workers with nothing to claim while other sessions hold the last slices report those holders.
 */
import type { Endpoint } from '../../core/connection.js';
import type { Emit } from '../../core/context.js';
import type { QueryResultRow } from 'pg';
import type { Client } from '../../core/db.js';
import { discard, openSession, queryWithin, serverPid, stallSeconds } from './session.js';


/** What a worker tells the watchdog; updated by the worker as it goes. */
export interface WorkerActivity {
  /** "w2", for messages. */
  name: string;
  /**
   * What the worker waits on its connections for ("copying the slice [start, end) of schema.table",
   * "claiming a slice"); undefined while it waits for nothing (sleeping between polls). A connection
   * can go half-open during any query, not only during a COPY, so every wait is watched.
   */
  task?: string;
  source?: Client;
  target?: Client;
  /** Date.now() of the last sign of life: a slice claimed, bytes streamed, a query answered. */
  lastProgress: number;
  /** Date.now() since when the worker has found no free slice while others were pending. */
  waitingSince?: number;
}

interface Backend {
  pid: number;
  state: string | null;
  wait_event_type: string | null;
  wait_event: string | null;
  idle_s: number;
  xact_s: number | null;
  application_name: string;
  blockers: number[];
}

const BACKEND_COLUMNS = `pid, state, wait_event_type, wait_event, application_name,
    extract(epoch FROM now() - state_change)::int AS idle_s, extract(epoch FROM now() - xact_start)::int AS xact_s,
    pg_blocking_pids(pid) AS blockers`;
const BACKEND_SQL = `SELECT ${BACKEND_COLUMNS} FROM pg_stat_activity WHERE pid = ANY($1::int[])`;

const WATCH_MS = 2_000;
/** A monitoring query that takes longer than this is given up (its own connection may be half-open). */
const QUERY_TIMEOUT_MS = 10_000;

export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private monitors: { source?: Client; target?: Client } = {};
  private readonly reported = new Map<string, number>();
  private lastRound = Date.now();
  readonly activities: WorkerActivity[] = [];

  constructor(private readonly endpoints: { source: Endpoint; target: Endpoint }, private readonly emit: Emit,
    private readonly stallMs = stallSeconds() * 1000) {}

  register(name: string): WorkerActivity {
    const activity: WorkerActivity = { name, lastProgress: Date.now() };
    this.activities.push(activity);
    return activity;
  }

  start(): void {
    this.lastRound = Date.now();
    this.timer = setInterval(() => { void this.check(); }, this.periodMs());
    this.timer.unref();
  }

  private periodMs(): number {
    return Math.min(WATCH_MS, this.stallMs / 2);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    discard(this.monitors.source);
    discard(this.monitors.target);
    this.monitors = {};
  }

  /** One round; never throws (a watchdog that fails must not fail the backfill). */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = Date.now();
      const sinceLast = now - this.lastRound;
      this.lastRound = now;
      if (sinceLast > 3 * this.periodMs()) {
        // This process was not running (stopped with SIGSTOP, suspended, starved): the silence was
        // ours, not the connections'. Start counting again.
        for (const activity of this.activities) activity.lastProgress = now;
        return;
      }
      for (const activity of this.activities) {
        if (activity.task !== undefined && now - activity.lastProgress >= this.stallMs) await this.inspect(activity);
      }
      const waiting = this.activities.filter((a) => a.waitingSince !== undefined && now - a.waitingSince >= this.stallMs);
      if (waiting.length > 0) await this.reportHolders(waiting.length);
    } catch (error) {
      // The monitor's own connections may be the broken ones: open new ones next round.
      discard(this.monitors.source);
      discard(this.monitors.target);
      this.monitors = {};
      this.emit({ type: 'warn', message: `The backfill's watchdog could not read the servers: ${(error as Error).message}` });
    } finally {
      this.running = false;
    }
  }

  private async inspect(activity: WorkerActivity): Promise<void> {
    const { source, target } = activity;
    const stalled = Math.round((Date.now() - activity.lastProgress) / 1000);
    const targetPid = serverPid(target);
    const sourcePid = serverPid(source);
    const onTarget = targetPid ? (await this.backends('target', [targetPid]))[0] : undefined;
    const onSource = sourcePid ? (await this.backends('source', [sourcePid]))[0] : undefined;
    // Only sessions that name themselves ours are judged (a pooler or a reused pid must never be ended).
    if ((onTarget && !onTarget.application_name.startsWith('migrate')) || (onSource && !onSource.application_name.startsWith('migrate'))) return;
    const targetWaitsForUs = !onTarget || onTarget.state === 'idle in transaction' || onTarget.state === 'idle';
    const copyWaitsForData = onTarget?.wait_event === 'ClientRead' && onTarget.state === 'active';
    const sourceWaitsForUs = !onSource || onSource.state !== 'active' || onSource.wait_event === 'ClientWrite';
    if (targetWaitsForUs || (copyWaitsForData && sourceWaitsForUs)) {
      const why = targetWaitsForUs
        ? `the target ${onTarget ? `session (pid ${onTarget.pid}) has been ${onTarget.state} for ${onTarget.idle_s} s` : 'session is gone'}`
        : `both servers are waiting for it (target pid ${onTarget?.pid}: waiting for COPY data; source ${onSource
          ? `pid ${onSource.pid}: ${onSource.wait_event === 'ClientWrite' ? 'blocked sending rows' : onSource.state}` : 'session gone'})`;
      this.emit({ type: 'warn', message: `Worker ${activity.name} has had no answer for ${stalled} s while ${activity.task} and ${why}: ` +
        'its connection is dead (half-open). Dropping both sessions; what it held starts over.' });
      await this.terminate('target', onTarget?.pid);
      await this.terminate('source', onSource?.pid);
      discard(activity.target);
      discard(activity.source);
      activity.lastProgress = Date.now();
      return;
    }
    const key = `${activity.name}:${activity.task}`;
    if (Date.now() - (this.reported.get(key) ?? 0) < this.stallMs) return;
    this.reported.set(key, Date.now());
    if (onTarget?.wait_event_type === 'Lock' && onTarget.blockers.length > 0) {
      const holders = await this.backends('target', onTarget.blockers);
      this.emit({ type: 'warn', message: `Worker ${activity.name} has waited ${stalled} s while ${activity.task} for a lock held by ` +
        `${holders.map(describeHolder).join('; ') || `pid ${onTarget.blockers.join(', ')}`}.`,
      detail: ['It goes on by itself when they finish; to end one: SELECT pg_terminate_backend(pid) on the target.'] });
      return;
    }
    this.emit({ type: 'info', message: `Worker ${activity.name} has had no answer for ${stalled} s while ${activity.task}; the servers ` +
      `are still working on it (target: ${describeState(onTarget)}; source: ${describeState(onSource)}).` });
  }

  /** Workers have been idle for the stall time while slices are pending: say who holds them. */
  private async reportHolders(waiting: number): Promise<void> {
    if (Date.now() - (this.reported.get('holders') ?? 0) < this.stallMs) return;
    this.reported.set('holders', Date.now());
    const own = new Set(this.activities.map((a) => serverPid(a.target)).filter((p): p is number => p !== undefined));
    const holders = (await this.query<Backend>('target', `SELECT ${BACKEND_COLUMNS}
      FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'migrate %#%' AND xact_start IS NOT NULL
       AND pid <> pg_backend_pid()`, [])).filter((b) => !own.has(b.pid));
    if (holders.length === 0) return;
    this.emit({ type: 'info', message: `${waiting} worker${waiting === 1 ? ' is' : 's are'} waiting for the last slices, which other ` +
      'sessions hold:', detail: [...holders.map(describeHolder),
      'A process that was stopped keeps its slices until it goes on or its sessions end (SELECT pg_terminate_backend(pid) on the target).'] });
  }

  private backends(side: 'source' | 'target', pids: number[]): Promise<Backend[]> {
    return this.query<Backend>(side, BACKEND_SQL, [pids]);
  }

  private async terminate(side: 'source' | 'target', pid: number | undefined): Promise<void> {
    if (pid === undefined) return;
    await this.query(side, 'SELECT pg_terminate_backend($1)', [pid]).catch(() => undefined);
  }

  private async query<T extends QueryResultRow>(side: 'source' | 'target', sql: string, params: unknown[]): Promise<T[]> {
    const client = this.monitors[side] ??= await openSession(this.endpoints[side], 'migrate backfill watchdog');
    return queryWithin<T>(client, sql, QUERY_TIMEOUT_MS, params);
  }
}

function describeState(b: Backend | undefined): string {
  if (!b) return 'no session';
  return `${b.state ?? 'unknown'}${b.wait_event ? ` (${b.wait_event_type}: ${b.wait_event})` : ''}`;
}

function describeHolder(b: Backend): string {
  return `pid ${b.pid} "${b.application_name}", transaction open ${b.xact_s ?? '?'} s, ${describeState(b)}`;
}
