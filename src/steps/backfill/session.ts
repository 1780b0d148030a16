/**
 * Backfill sessions: connections set up for long COPYs, and the one way to drop them.
 */
import type { Socket } from 'node:net';
import type { Endpoint } from '../../core/connection.js';
import type { QueryResultRow } from 'pg';
import { connect, type Client } from '../../core/db.js';

// Sessions that COPY must not be cut by server-wide timeouts (a worker waiting for a slice another
// process holds sits idle; the control session holding RUN_LOCK sits idle for the whole run), and
// text-format COPY must print and parse values alike on both sides whatever the servers' defaults
// (connect() already pins TimeZone, DateStyle and IntervalStyle; these are the rest).
// Set through pg_settings so a setting an older server lacks (idle_session_timeout < 14) is skipped.
// The tcp_keepalives_* make the server notice within about a minute that a client vanished without
// closing its connection (a crashed host, a cut network), and so free the slice that session held;
// client_connection_check_interval (PostgreSQL 14+) does the same while a query runs.
const SESSION_SETTINGS: [string, string][] = [['statement_timeout', '0'], ['idle_in_transaction_session_timeout', '0'],
  ['idle_session_timeout', '0'], ['extra_float_digits', '3'], ['bytea_output', 'hex'], ['tcp_keepalives_idle', '30'],
  ['tcp_keepalives_interval', '10'], ['tcp_keepalives_count', '3'], ['client_connection_check_interval', '10000']];

// The server process behind each session, as the server itself reports it: behind a connection pooler
// the protocol's BackendKeyData is the pooler's own number, and the watchdog must never act on that.
const serverPids = new WeakMap<Client, number>();

export function serverPid(client: Client | undefined): number | undefined {
  return client ? serverPids.get(client) : undefined;
}

/**
 * A connection set up for backfill work (see SESSION_SETTINGS). `replica`: user triggers do not fire
 * in it (session_replication_role, see user-triggers.ts); a server that refuses it fails the open.
 */
export async function openSession(endpoint: Endpoint, applicationName = 'migrate backfill', options: { replica?: boolean } = {}):
  Promise<Client> {
  const deadline = openTimeoutMs();
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(Object.assign(
    new Error(`no session within ${deadline / 1000} s (the connection may be half-open)`), { code: 'ETIMEDOUT' })), deadline);
  let client: Client;
  try {
    client = await connect(endpoint, { applicationName, signal: giveUp.signal });
  } finally {
    clearTimeout(timer);
  }
  try {
    const rows = await queryWithin<{ pid: number }>(client, `SELECT pg_backend_pid() AS pid, count(set_config(s.name, v.value, false))
      FROM pg_settings s JOIN unnest($1::text[], $2::text[]) v(name, value) ON lower(s.name) = lower(v.name)`, deadline,
    [SESSION_SETTINGS.map(([n]) => n), SESSION_SETTINGS.map(([, v]) => v)]);
    if (rows[0]) serverPids.set(client, rows[0].pid);
    if (options.replica) await queryWithin(client, 'SET session_replication_role = replica', deadline);
  } catch (error) {
    discard(client);
    throw /no answer within/.test((error as Error).message) ? Object.assign(error as Error, { code: 'ETIMEDOUT' }) : error;
  }
  return client;
}

/** No bytes for this long while waiting on a connection counts as stalled (MIGRATE_STALL_SECONDS overrides). */
export function stallSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.MIGRATE_STALL_SECONDS);
  return Number.isFinite(value) && value >= 1 ? value : 60;
}

/**
 * How long opening a session may take before it counts as hung: a connection can go half-open while
 * it is being set up, and nobody else watches it then (the watchdog knows a worker's sessions only
 * once they are open). Never under 10 s, so a busy server is not mistaken for a dead one.
 */
function openTimeoutMs(): number {
  return Math.max(stallSeconds() * 1000, 10_000);
}

/** Close at once, whatever state the connection is in (the server rolls back what was open). */
export function discard(client: Client | undefined): void {
  if (!client) return;
  const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  stream?.destroy();
  client.end().catch(() => undefined);
}

/** Run a query, but give up after `ms`: the connection may be half-open and never answer. */
export async function queryWithin<T extends QueryResultRow>(client: Client, sql: string, ms: number, params: unknown[] = []):
  Promise<T[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return (await Promise.race([client.query<T>(sql, params), timeout])).rows;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * End a session that holds session-level advisory locks for sure. When it does not answer (a
 * half-open connection), its server process is ended from a new connection: otherwise the server
 * would keep the locks, and the "is anyone else still running?" checks would wait for a ghost.
 */
export async function endSession(client: Client, endpoint: Endpoint, releaseSql: string): Promise<void> {
  try {
    await queryWithin(client, releaseSql, 10_000);
  } catch {
    const pid = serverPid(client);
    if (pid !== undefined) {
      const other = await openSession(endpoint).catch(() => undefined);
      if (other) {
        await other.query('SELECT pg_terminate_backend($1)', [pid]).catch(() => undefined);
        discard(other);
      }
    }
  }
  discard(client);
}
