/**
 * Restoring the paused background jobs (policies.ts) and the triggers altered for the backfill's
 * duration (user-triggers.ts), by whoever is the last backfill to leave: each running
 * backfill holds RUN_LOCK shared, so getting it exclusively proves no backfill is running (a
 * crashed process's lock went with its connection). `migrate resume` calls restorePausedPolicies
 * to repair what a crash left behind. Jobs the schema load paused stay paused until every table it
 * left empty is backfilled (schema-load-pause.ts): the restorer that finds that true restores them.
 */
import type { StepContext } from '../../core/context.js';
import { withClient, type Client } from '../../core/db.js';
import { describeError } from '../../core/errors.js';
import type { QualifiedName } from '../../core/identifiers.js';
import { RUN_LOCK, ledgerExists } from './ledger.js';
import { countPausedJobs, jobLabel, restoreRecordedPolicies, type PausedJob } from './policies.js';
import { sleep } from './retry.js';
import { describeWait, readJobPause, tablesAwaitingBackfill } from './schema-load-pause.js';
import { countAlteredTriggers, restoreAlteredTriggers } from './user-triggers.js';

interface Restored {
  jobs: PausedJob[];
  triggers: string[];
  /** Jobs the schema load paused that stay paused, and the tables they wait for. */
  held: { jobs: number; waitingFor: QualifiedName[] };
}

/** Restore the paused jobs and altered triggers if no backfill holds RUN_LOCK; undefined when one does. */
export async function restoreIfIdle(client: Client): Promise<Restored | undefined> {
  if (!(await ledgerExists(client))) return { jobs: [], triggers: [], held: { jobs: 0, waitingFor: [] } };
  const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${RUN_LOCK}) AS ok`);
  if (!rows[0]?.ok) return undefined;
  try {
    const triggers = await restoreAlteredTriggers(client);
    // Read under RUN_LOCK: no backfill can finish or reopen a slice meanwhile.
    const waitingFor = await tablesAwaitingBackfill(client);
    const jobs = await restoreRecordedPolicies(client, { keepSchemaLoad: waitingFor.length > 0 });
    const held = waitingFor.length > 0 ? await countPausedJobs(client) : 0;
    return { jobs, triggers, held: { jobs: held, waitingFor: held > 0 ? waitingFor : [] } };
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${RUN_LOCK})`);
  }
}

/** Jobs paused or triggers altered and not yet restored. */
async function leftToRestore(client: Client): Promise<number> {
  return (await countPausedJobs(client)) + (await countAlteredTriggers(client));
}

function report(ctx: Pick<StepContext, 'emit'>, restored: Restored): void {
  if (restored.jobs.length > 0) {
    ctx.emit({ type: 'info', message: 'Restored the paused background jobs to their state before migrate paused them:',
      detail: restored.jobs.map((j) => `${jobLabel(j)}: ${j.wasScheduled ? 'scheduled' : 'not scheduled (as before)'}`) });
  }
  if (restored.triggers.length > 0) {
    ctx.emit({ type: 'info', message: 'Put the triggers altered for the backfill back as they were:', detail: restored.triggers });
  }
  if (restored.held.jobs > 0) {
    ctx.emit({ type: 'info', message: `${describeWait(restored.held.jobs, restored.held.waitingFor)}.`,
      detail: ['`migrate status` lists them; `migrate clean --force` restores them at once (and drops the ledger).'] });
  }
}

/** At the end of a backfill (success or not). Never throws: a failure here must not hide the run's own outcome. */
export async function restoreWhenLast(ctx: Pick<StepContext, 'target' | 'emit'>): Promise<PausedJob[]> {
  try {
    return await withClient(ctx.target, async (client) => {
      // Our own session-level lock is gone with unlock or our connection; a server slow to notice a
      // closed connection gets a few moments.
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const restored = await restoreIfIdle(client);
        if (restored !== undefined) { report(ctx, restored); return restored.jobs; }
        if ((await leftToRestore(client)) === 0) return [];
        await sleep(300);
      }
      ctx.emit({ type: 'info', message: 'Another backfill is still running on this target; the last one to finish restores the paused background jobs ' +
        'and altered triggers.' });
      return [];
    }, { applicationName: 'migrate backfill' });
  } catch (error) {
    ctx.emit({ type: 'warn', message: `Could not restore the paused background jobs and altered triggers: ${describeError(error)}`,
      detail: ['Run `migrate backfill` again (same flags) or `migrate resume` to restore them; they are recorded in ' +
        '_migrate.paused_job and _migrate.altered_trigger.'] });
    return [];
  }
}

/**
 * Restore the jobs a crashed backfill left paused, and the triggers it left altered (for `migrate
 * resume` and the wizard's finish). Does nothing while a backfill is running: that one restores them
 * when it ends.
 */
export async function restorePausedPolicies(ctx: Pick<StepContext, 'target' | 'emit' | 'dryRun'>): Promise<PausedJob[]> {
  return withClient(ctx.target, async (client) => {
    if (ctx.dryRun) {
      const { sinceSchemaLoad, byBackfill, waitingFor } = await readJobPause(client);
      const paused = byBackfill.length + (waitingFor.length > 0 ? 0 : sinceSchemaLoad.length);
      if (paused > 0) ctx.emit({ type: 'info', message: `Would restore ${paused} paused background job${paused === 1 ? '' : 's'}.` });
      if (waitingFor.length > 0) ctx.emit({ type: 'info', message: `${describeWait(sinceSchemaLoad.length, waitingFor)}.` });
      const altered = await countAlteredTriggers(client);
      if (altered > 0) ctx.emit({ type: 'info', message: `Would put back ${altered} trigger${altered === 1 ? '' : 's'} altered for the backfill.` });
      return [];
    }
    const restored = await restoreIfIdle(client);
    if (restored === undefined) {
      ctx.emit({ type: 'info', message: 'A backfill is running on this target; it restores the paused background jobs and ' +
        'altered triggers when it ends.' });
      return [];
    }
    report(ctx, restored);
    return restored.jobs;
  }, { applicationName: 'migrate backfill' });
}
