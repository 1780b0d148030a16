/**
 * Retrying slices after transient failures (a dropped connection, a server restart, a terminated
 * backend, a serialization failure). A slice can always start over cleanly: its target transaction
 * rolled back with the failure, so nothing of the attempt is left.
 */
import { isTransientError } from '../../core/errors.js';

export const MAX_ATTEMPTS = 5;

/** Transient, looking through wrappers (connect() wraps its errors in MigrateErrors with a cause). */
export function isRetryable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    if (isTransientError(e)) return true;
    // "the database system is starting up / shutting down / in recovery mode" while it restarts.
    if (/database system is (starting up|shutting down|in recovery mode)|Cannot reach the/i.test(e.message)) return true;
  }
  return false;
}

/** 1 s, 2 s, 4 s, 8 s, … for attempt 1, 2, 3, 4. */
export function backoffMs(attempt: number, baseMs = 1000): number {
  return baseMs * 2 ** Math.max(0, attempt - 1);
}

/** Wait, but wake up early (without throwing) when the signal aborts. */
export { sleep } from '../../core/sleep.js';
