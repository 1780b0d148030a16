/**
 * Background jobs restored: the backfill pauses TimescaleDB jobs (policies.ts) and the last backfill
 * to leave restores them; a crash can leave them paused, recorded in `_migrate.paused_job`. From a
 * TimescaleDB source `migrate schema` pauses them all until every table it left empty is backfilled
 * (schema-load-pause.ts). None may be left there, and — from a TimescaleDB source — each source job
 * (matched by hypertable and procedure) must be on the target and scheduled as it is on the source.
 */
import type { Client } from '../../core/db.js';
import { displayName } from '../../core/identifiers.js';
import { jobLabel } from '../backfill/policies.js';
import { describeWait, readJobPause, type JobPause } from '../backfill/schema-load-pause.js';
import { capped, type Check, type Scope } from './types.js';

interface Job { id: number; proc: string; hypertable: string | null; scheduled: boolean }

async function readJobs(client: Client): Promise<Job[]> {
  const { rows } = await client.query<{ id: number; proc: string; schema: string | null; table: string | null; scheduled: boolean }>(
    `SELECT job_id AS id, format('%s.%s', proc_schema, proc_name) AS proc, hypertable_schema AS schema, hypertable_name AS table,
            scheduled FROM timescaledb_information.jobs WHERE job_id >= 1000 ORDER BY job_id`);
  return rows.map((r) => ({ id: r.id, proc: r.proc, hypertable: r.schema === null ? null : `${r.schema}.${r.table}`, scheduled: r.scheduled }));
}

/** Policies have the same procedure on both sides; TimescaleDB moved them from _timescaledb_internal to _timescaledb_functions. */
function jobKey(job: Job): string {
  return `${job.hypertable ?? ''}|${job.proc.replace(/^_timescaledb_(internal|functions)\./, '')}`;
}

function label(job: Job): string {
  return `job ${job.id} (${job.proc.replace(/^.*\./, '')}${job.hypertable ? ` on ${job.hypertable}` : ''})`;
}

export async function checkJobs(scope: Scope): Promise<Check> {
  const base = { id: 'background-jobs', title: 'background jobs restored' };
  const schema = scope.timescale.target;
  if (schema === undefined) return { ...base, status: 'skipped', detail: 'the target has no TimescaleDB: no background jobs' };
  const problems: string[] = [];
  const fixes: string[] = [];
  const pause: JobPause = scope.ledger ? await readJobPause(scope.target) : { sinceSchemaLoad: [], byBackfill: [], waitingFor: [] };
  const again = `Run \`${scope.command('backfill')}\` again: with every slice done it only refreshes the views and restores the jobs ` +
    '(if a backfill is running, it restores them when it ends).';
  if (pause.byBackfill.length > 0) {
    problems.push(`${pause.byBackfill.length} job(s) still paused by the backfill: ${capped(pause.byBackfill.map(jobLabel), 5)}`);
    fixes.push(again);
  }
  if (pause.sinceSchemaLoad.length > 0 && pause.waitingFor.length > 0) {
    problems.push(describeWait(pause.sinceSchemaLoad.length, pause.waitingFor));
    fixes.push(`Backfill ${pause.waitingFor.map(displayName).join(', ')} (\`migrate backfill --table … --until …\`); if they are not to be ` +
      'backfilled, `migrate clean --force` restores the jobs (and drops the ledger).');
  } else if (pause.sinceSchemaLoad.length > 0) {
    problems.push(`${pause.sinceSchemaLoad.length} job(s) still paused since the schema load, though every table it left empty is backfilled`);
    if (pause.byBackfill.length === 0) fixes.push(again);
  }
  const target = await readJobs(scope.target);
  const pausedIds = new Set([...pause.sinceSchemaLoad, ...pause.byBackfill].map((p) => p.jobId));
  if (scope.timescale.source !== undefined) {
    const onTarget = new Map(target.map((j) => [jobKey(j), j]));
    for (const job of await readJobs(scope.source)) {
      const found = onTarget.get(jobKey(job));
      if (!found) { problems.push(`${label(job)} is not on the target`); continue; }
      if (found.scheduled === job.scheduled || pausedIds.has(found.id)) continue;
      problems.push(`${label(found)} is ${found.scheduled ? '' : 'not '}scheduled, on the source it is${job.scheduled ? '' : ' not'}`);
      fixes.push(`On the target: SELECT ${schema}.alter_job(${found.id}, scheduled => ${job.scheduled});`);
    }
    if (problems.some((p) => p.endsWith('is not on the target'))) {
      fixes.push('Create the missing jobs on the target as they are on the source (add_compression_policy, add_retention_policy, ' +
        'add_continuous_aggregate_policy, add_job).');
    }
  }
  if (problems.length > 0) return { ...base, status: 'fail', detail: capped(problems, 5), fix: fixes.join('\n') };
  const off = target.filter((j) => !j.scheduled);
  const detail = `no paused jobs; ${target.length} job(s) on the target` +
    (scope.timescale.source !== undefined ? ', scheduled as on the source' : '');
  // From a plain source nothing says how they should be; a job switched off is worth a look.
  if (off.length > 0 && scope.timescale.source === undefined) {
    return { ...base, status: 'warn', detail: `${detail}; not scheduled: ${capped(off.map(label), 5)}`,
      fix: `If they should run, on the target:\n${off.map((j) => `SELECT ${schema}.alter_job(${j.id}, scheduled => true);`).join('\n')}` };
  }
  return { ...base, status: 'ok', detail };
}
