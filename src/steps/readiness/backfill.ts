/**
 * The backfill, read live from the target's ledger: every slice of every table done, up to the
 * table's T; and nothing at work right now — no backfill holding RUN_LOCK or PLAN_LOCK, no slice being copied.
 * Both are read from pg_locks, so readiness never takes a lock a running backfill could wait on.
 */
import type { Client } from '../../core/db.js';
import { castParam } from '../../core/time-values.js';
import { PLAN_LOCK, RUN_LOCK, readLedger } from '../backfill/ledger.js';
import { capped, summarize, type Check, type Scope } from './types.js';

export async function checkBackfill(scope: Scope): Promise<Check> {
  const base = { id: 'backfill', title: 'backfill complete' };
  const fix = `Run \`${scope.command('backfill')}\`: it copies the slices still to do.`;
  if (!scope.ledger) {
    const done = scope.state?.steps.backfill?.status === 'done';
    return done
      ? { ...base, status: 'warn', detail: 'the target has no backfill ledger any more (removed with `migrate clean`?); ' +
          `state.json says the backfill finished at ${scope.state?.steps.backfill?.finishedAt ?? '?'}` }
      : { ...base, status: 'fail', detail: 'the target has no backfill ledger (schema _migrate): nothing was backfilled', fix };
  }
  const problems: string[] = [];
  const done: string[] = [];
  for (const table of scope.tables) {
    const slices = await readLedger(scope.target, table.pair.spec);
    if (!table.plan || slices.length === 0) { problems.push(`${table.key}: not backfilled (no plan in the ledger)`); continue; }
    const pending = slices.filter((s) => s.status === 'pending');
    if (pending.length > 0) {
      const failed = pending.find((s) => s.lastError);
      problems.push(`${table.key}: ${pending.length} of ${slices.length} slices not done` +
        (failed ? ` (last error: ${failed.lastError?.split('\n')[0]})` : ''));
      continue;
    }
    if (table.until !== undefined && !(await sameValue(scope.target, table.plan.type, table.plan.until, table.until))) {
      problems.push(`${table.key}: backfilled up to ${table.plan.until}, but the recorded completion point is ${table.until}`);
      continue;
    }
    done.push(`${table.key} ${slices.length}/${slices.length} slices up to ${table.plan.until}`);
  }
  const redo = problems.some((p) => p.includes('but the recorded completion point'));
  return summarize(base, problems, done.join('; '),
    redo ? `Run \`${scope.command('backfill', ['--redo'])}\`: it plans again up to the recorded completion point.` : fix);
}

/** The ledger's state: nothing running, nothing half-copied; it can go once the application has switched. */
export async function checkLedger(scope: Scope): Promise<Check> {
  const base = { id: 'ledger', title: 'ledger state' };
  if (!scope.ledger) return { ...base, status: 'ok', detail: 'no backfill ledger in the target (nothing to remove)' };
  const problems: string[] = [];
  // Every running backfill holds RUN_LOCK (shared); one still planning holds PLAN_LOCK.
  const running = await lockHolders(scope.target, `l.locktype = 'advisory' AND l.objsubid = 1
    AND ((l.classid::int8 << 32) | l.objid::int8) IN (${RUN_LOCK}, ${PLAN_LOCK})`);
  if (running.length > 0) problems.push(`a backfill is running (${capped(running, 3)})`);
  // A worker holds its slice's row FOR UPDATE (RowShareLock on the table) from claim to commit.
  const copying = await lockHolders(scope.target, `l.locktype = 'relation' AND l.mode = 'RowShareLock'
    AND l.relation = to_regclass('_migrate.backfill_slice')`);
  if (copying.length > 0) problems.push(`slices are being copied right now (${capped(copying, 3)})`);
  const { rows: [counts] } = await scope.target.query<{ done: string; total: string }>(
    "SELECT count(*) FILTER (WHERE status = 'done') AS done, count(*) AS total FROM _migrate.backfill_slice");
  return summarize(base, problems,
    `no backfill running, ${counts?.done ?? 0}/${counts?.total ?? 0} slices done; after the switch-over, remove the ledger with ` +
    `\`${scope.command('clean')}\``,
    `Wait for the backfill to finish (\`${scope.command('status')}\` shows its progress), then run readiness again.`);
}

/** Other sessions holding a lock that matches `where` (alias l for pg_locks): "pid 123 (migrate backfill)". */
async function lockHolders(client: Client, where: string): Promise<string[]> {
  const { rows } = await client.query<{ pid: number; app: string | null }>(
    `SELECT DISTINCT l.pid, a.application_name AS app FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.granted AND l.pid <> pg_backend_pid()
        AND (l.database IS NULL OR l.database = (SELECT oid FROM pg_database WHERE datname = current_database())) AND ${where}
      ORDER BY l.pid`);
  return rows.map((r) => `pid ${r.pid}${r.app ? ` (${r.app})` : ''}`);
}

/** Whether two values of a time type are the same value (text may differ: '2024-01-01' vs '2024-01-01 00:00:00'). */
export async function sameValue(client: Client, type: Parameters<typeof castParam>[1], a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  const { rows } = await client.query<{ same: boolean }>(`SELECT ${castParam(1, type)} = ${castParam(2, type)} AS same`, [a, b]);
  return Boolean(rows[0]?.same);
}
