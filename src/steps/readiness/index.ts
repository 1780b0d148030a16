/**
 * `migrate readiness`: the switch-over checklist (issue #8.6-7, DESIGN.md §3b). Run minutes before
 * switching the application, long after the other steps, so every check reads the databases as they
 * are now; state.json only says what cannot be read live (what validate found, what schema carried,
 * which view refreshes failed). Nothing is written anywhere: both sessions are read-only
 * (default_transaction_read_only), no lock is taken that a running backfill could wait on, and
 * state.json is read without its lock.
 *
 * Each group of checks is its own module; a check that cannot be done because the server refuses a
 * query (a permission, a missing catalog) fails with the server's reason instead of ending the run.
 */
import type { StepContext } from '../../core/context.js';
import { withClient, type Client } from '../../core/db.js';
import { InterruptedError, UsageError, describeError, isPgError } from '../../core/errors.js';
import { displayTableSpec } from '../../core/identifiers.js';
import { readState } from '../../core/state.js';
import { DEFAULT_LATENESS, readInterval } from '../completion-point.js';
import { pinSessionFormats } from '../validate-checksums.js';
import { checkContinuousAggregates, checkCompression } from './aggregates.js';
import { checkBackfill, checkLedger } from './backfill.js';
import { checkJobs } from './jobs.js';
import { checkPrivileges } from './privileges.js';
import { compareQueries } from './queries.js';
import { readQueryFile } from './query-file.js';
import { resolveScope } from './scope.js';
import { checkSequences } from './sequences.js';
import { checkTriggers } from './triggers.js';
import type { Check, ReadinessInput, ReadinessResult, Scope } from './types.js';
import { checkPlainTables, checkValidation, checkWindow } from './validation.js';
import { checkMaterializedViews } from './views.js';

export type { Check, CheckStatus, QueryComparison, ReadinessInput, ReadinessResult } from './types.js';

export const DEFAULT_RUNS = 3;
export const DEFAULT_QUERY_TIMEOUT_MS = 60_000;

/** The checks in the order the checklist shows them: a group may give several lines. */
type Found = Pick<ReadinessResult, 'sourceOnlyNewest'>;

const GROUPS: { id: string; title: string; message: string; run: (scope: Scope, found: Found) => Promise<Check[]> }[] = [
  { id: 'backfill', title: 'backfill complete', message: 'Reading the backfill ledger', run: async (s) => [await checkBackfill(s)] },
  { id: 'validation', title: 'validation below T', message: 'Reading the last validation',
    run: async (s) => [await checkValidation(s), checkPlainTables(s)] },
  { id: 'dual-write-window', title: 'dual-write window (rows at or after T)', message: 'Comparing the rows at or after T on both sides',
    run: async (s, found) => {
    const { window, lastRow, newest } = await checkWindow(s);
    found.sourceOnlyNewest = newest;
    return [window, lastRow];
  } },
  { id: 'sequences', title: 'sequences ahead of every id', message: 'Comparing sequences with the ids on both sides',
    run: async (s) => [await checkSequences(s)] },
  { id: 'privileges', title: 'owners and grants as on the source', message: 'Comparing owners and grants',
    run: async (s) => [await checkPrivileges(s)] },
  { id: 'materialized-views', title: 'materialized views refreshed', message: 'Checking materialized views',
    run: async (s) => [await checkMaterializedViews(s)] },
  { id: 'background-jobs', title: 'background jobs restored', message: 'Checking background jobs', run: async (s) => [await checkJobs(s)] },
  { id: 'compression', title: 'compression caught up', message: 'Checking compression', run: async (s) => [await checkCompression(s)] },
  { id: 'continuous-aggregates', title: 'continuous aggregates caught up', message: 'Checking continuous aggregates',
    run: async (s) => [await checkContinuousAggregates(s)] },
  { id: 'ledger', title: 'ledger state', message: 'Checking the ledger for running backfills', run: async (s) => [await checkLedger(s)] },
  { id: 'triggers', title: 'user triggers enabled as on the source', message: 'Comparing user triggers',
    run: async (s) => [await checkTriggers(s)] },
];

export async function runReadiness(input: ReadinessInput, ctx: StepContext): Promise<ReadinessResult> {
  const runs = input.queries?.runs ?? DEFAULT_RUNS;
  const timeoutMs = input.queries?.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new UsageError(`--runs ${runs} is not a whole number from 1 to 100.`, { hint: 'Try --runs 3.' });
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new UsageError(`--query-timeout must be a positive duration.`, { hint: 'Try --query-timeout 60s.' });
  // Before any connection: a bad file is a usage error, and nothing runs.
  const queries = input.queries ? await readQueryFile(input.queries.file) : undefined;
  const state = await readState(ctx.dir);
  const options = { applicationName: 'migrate readiness' };
  return withClient(ctx.source, (source) => withClient(ctx.target, async (target) => {
    await Promise.all([source, target].map(readOnlySession));
    const lateness = await readInterval(target, input.lateness ?? DEFAULT_LATENESS, '--lateness');
    const scope = await resolveScope({ source, target, dir: ctx.dir, state, lateness }, input);
    const checks: Check[] = [];
    const found: Found = { sourceOnlyNewest: [] };
    for (const group of GROUPS) {
      if (ctx.signal.aborted) throw new InterruptedError('Stopped before every check was done; nothing was changed.');
      ctx.emit({ type: 'phase', id: `readiness-${group.id}`, message: `${group.message}…` });
      const lines = await safely(group, scope, found);
      checks.push(...lines);
      ctx.emit({ type: 'done', id: `readiness-${group.id}`, ok: lines.every((c) => c.status !== 'fail'),
        message: lines.map((c) => `${c.title}: ${c.status === 'fail' ? 'FAIL' : c.status}`).join('; ') });
    }
    const result: ReadinessResult = {
      ready: checks.every((c) => c.status !== 'fail'),
      tables: scope.tables.map((t) => ({ table: t.key, column: t.pair.column, until: t.until ?? null })),
      checks,
      sourceOnlyNewest: found.sourceOnlyNewest,
      commands: { sequences: scope.command('sequences'), again: scope.command('readiness', againArgs(input)) },
    };
    if (queries) {
      result.queries = await compareQueries(source, target, queries, { runs, timeoutMs, signal: ctx.signal,
        onQuery: (query, i) => ctx.emit({ type: 'progress', id: 'readiness-queries', rowsDone: 0, unitsDone: i, unitsTotal: queries.length,
          message: `query ${i + 1}/${queries.length}: ${query.label}` }) });
      result.ready &&= result.queries.every((q) => q.match);
    }
    return result;
  }, options), options);
}

/** Everything we run is a read; the server enforces it. Session formats as validate pins them (text compared across sides). */
async function readOnlySession(client: Client): Promise<void> {
  await client.query('SET default_transaction_read_only = on');
  await pinSessionFormats(client);
}

/** A check the server refuses (permission, missing catalog) fails with its reason; lost connections and Ctrl-C end the run. */
async function safely(group: (typeof GROUPS)[number], scope: Scope, found: Found): Promise<Check[]> {
  try {
    return await group.run(scope, found);
  } catch (error) {
    if (!isPgError(error) || /^(08|57P)/.test(error.code ?? '')) throw error;
    return [{ id: group.id, title: group.title, status: 'fail',
      detail: `could not be checked: ${describeError(error).split('\n')[0]}`, fix: 'Fix the cause above (often a permission of the user readiness connects as), then run readiness again.' }];
  }
}

/** This run's own flags, so "run it again" checks the same things. */
function againArgs(input: ReadinessInput): string[] {
  const q = input.queries;
  return [...input.tables.flatMap((t) => ['--table', displayTableSpec(t)]), ...(input.lateness !== undefined ? ['--lateness', input.lateness] : []),
    ...(q ? ['--queries', q.file, ...(q.runs !== undefined ? ['--runs', String(q.runs)] : []),
      ...(q.timeoutMs !== undefined ? ['--query-timeout', `${q.timeoutMs}ms`] : [])] : [])];
}
