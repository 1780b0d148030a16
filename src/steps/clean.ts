/**
 * `migrate clean`: drop what migrate left in the target, the `_migrate` ledger schema.
 *
 * It refuses (exit 1) while a backfill is running (it holds RUN_LOCK) or while background jobs
 * paused (by the backfill, or by `migrate schema` until every table it left empty is backfilled) or
 * triggers altered are not restored yet: dropping the ledger would forget their original state.
 * --force restores them all first, whatever they wait for, then drops the schema anyway.
 */
import { suggestCommand } from '../core/suggest.js';
import type { StepContext } from '../core/context.js';
import { withClient, withTransaction, type Client } from '../core/db.js';
import { MigrateError } from '../core/errors.js';
import { quoteIdent } from '../core/identifiers.js';
import { LEDGER_SCHEMA, PLAN_LOCK, RUN_LOCK } from './backfill/ledger.js';
import { countPausedJobs, jobLabel, restoreRecordedPolicies, type PausedJob } from './backfill/policies.js';
import { countAlteredTriggers, restoreAlteredTriggers } from './backfill/user-triggers.js';

export interface CleanInput {
  /** Drop even while a backfill runs or policies are still paused (restoring them first). */
  force?: boolean;
}

export interface CleanResult {
  dryRun: boolean;
  /** The schema was there. */
  existed: boolean;
  dropped: boolean;
  pendingSlices: number;
  restoredPolicies: PausedJob[];
  /** Triggers a crashed backfill left altered, put back before the drop. */
  restoredTriggers: string[];
}

const DROP_SQL = `DROP SCHEMA ${quoteIdent(LEDGER_SCHEMA)} CASCADE`;

async function inspect(client: Client): Promise<{ schema: boolean; ours: boolean; pending: number; paused: number; altered: number }> {
  const { rows } = await client.query<{ schema: boolean; ours: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema,
            to_regclass('_migrate.ledger_version') IS NOT NULL AS ours`, [LEDGER_SCHEMA]);
  const schema = Boolean(rows[0]?.schema);
  const ours = Boolean(rows[0]?.ours);
  if (!ours) return { schema, ours, pending: 0, paused: 0, altered: 0 };
  const pending = await client.query<{ n: string }>(
    "SELECT count(*) AS n FROM _migrate.backfill_slice WHERE status = 'pending'").catch(() => ({ rows: [{ n: '0' }] }));
  return { schema, ours, pending: Number(pending.rows[0]?.n ?? 0), paused: await countPausedJobs(client),
    altered: await countAlteredTriggers(client) };
}

export async function runClean(input: CleanInput, ctx: StepContext): Promise<CleanResult> {
  return withClient(ctx.target, async (client) => {
    const state = await inspect(client);
    const result: CleanResult = { dryRun: ctx.dryRun, existed: state.schema, dropped: false, pendingSlices: state.pending, restoredPolicies: [],
      restoredTriggers: [] };
    if (!state.schema) {
      ctx.emit({ type: 'info', message: 'The target has no _migrate schema: nothing to clean.' });
      return result;
    }
    if (!state.ours) {
      throw new MigrateError('The target has a schema named _migrate, but it is not a migrate ledger (no _migrate.ledger_version); it was left alone.', {
        hint: 'Drop it yourself if it is not needed: DROP SCHEMA _migrate CASCADE.',
      });
    }
    const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${RUN_LOCK}) AS ok`);
    const running = !rows[0]?.ok;
    try {
      if (running && !input.force) {
        throw new MigrateError('A backfill is running on this target (it holds the backfill lock); the ledger was not dropped.', {
          hint: `Wait for it to finish (\`${suggestCommand(ctx.repeat, 'status')}\` shows its progress) and run ` +
            `\`${suggestCommand(ctx.repeat, 'clean')}\` again, or use --force.`,
        });
      }
      const unrestored = [
        ...(state.paused > 0 ? [`${state.paused} background job${state.paused === 1 ? '' : 's'} paused`] : []),
        ...(state.altered > 0 ? [`${state.altered} trigger${state.altered === 1 ? '' : 's'} altered`] : []),
      ];
      if (unrestored.length > 0 && !input.force) {
        throw new MigrateError(`${unrestored.join(' and ')} by migrate ${state.paused + state.altered === 1 ? 'is' : 'are'} ` +
          'not restored yet; dropping the ledger would forget their original state.', {
          hint: `Run \`${suggestCommand(ctx.repeat, 'resume')}\` (or the \`migrate backfill\` command again) to finish and restore them ` +
            `(\`${suggestCommand(ctx.repeat, 'status')}\` says what jobs paused since the schema load still wait for), or ` +
            `\`${suggestCommand(ctx.repeat, 'clean', [], ['--force'])}\` to restore them now and drop the ledger.`,
        });
      }
      if (state.pending > 0) {
        ctx.emit({ type: 'warn', message: `${state.pending} backfill slices are not done; without the ledger a later ` +
          '`migrate backfill` plans again and copies the whole range.' });
      }
      if (ctx.dryRun) {
        if (state.paused > 0) ctx.emit({ type: 'info', message: `Would restore ${state.paused} paused background job(s) first.` });
        if (state.altered > 0) ctx.emit({ type: 'info', message: `Would put back ${state.altered} trigger(s) altered for the backfill first.` });
        ctx.emit({ type: 'sql', side: 'target', sql: DROP_SQL });
        return result;
      }
      if (state.paused > 0) {
        result.restoredPolicies = await restoreRecordedPolicies(client);
        ctx.emit({ type: 'info', message: 'Restored the paused background jobs:',
          detail: result.restoredPolicies.map((j) => `${jobLabel(j)}: ${j.wasScheduled ? 'scheduled' : 'not scheduled'}`) });
      }
      if (state.altered > 0) {
        result.restoredTriggers = await restoreAlteredTriggers(client);
        ctx.emit({ type: 'info', message: 'Put the triggers altered for the backfill back as they were:', detail: result.restoredTriggers });
      }
      await withTransaction(client, async () => {
        await client.query(`SELECT pg_advisory_xact_lock(${PLAN_LOCK})`);
        // With --force a running backfill may hold row locks: give up rather than hang.
        await client.query("SET LOCAL lock_timeout = '30s'");
        await client.query(DROP_SQL);
      });
      result.dropped = true;
      ctx.emit({ type: 'info', message: 'Dropped the _migrate schema (the backfill ledger) from the target.' });
      return result;
    } finally {
      if (!running) await client.query(`SELECT pg_advisory_unlock(${RUN_LOCK})`).catch(() => undefined);
    }
  }, { applicationName: 'migrate clean' });
}
