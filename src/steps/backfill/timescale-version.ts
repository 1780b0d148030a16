/**
 * The TimescaleDB version match (compat.ts), checked again when a backfill starts: preflight and
 * schema checked it, but the target (or the source) may have been upgraded since, and what the
 * backfill copies from a TimescaleDB source is TimescaleDB's own data. Two catalog lookups, before
 * anything is planned or written.
 */
import { timescaleVersionProblem } from '../../core/compat.js';
import type { Client } from '../../core/db.js';
import { MigrateError } from '../../core/errors.js';

async function installedVersion(client: Client): Promise<string | undefined> {
  const { rows } = await client.query<{ version: string }>("SELECT extversion AS version FROM pg_extension WHERE extname = 'timescaledb'");
  return rows[0]?.version;
}

/**
 * Throws (exit 1) when both databases have TimescaleDB in different versions. A plain source has
 * nothing version-bound to copy, and a target database without TimescaleDB has no hypertables,
 * aggregates or jobs to copy into, so neither is refused here.
 */
export async function requireTimescaleMatch(source: Client, target: Client): Promise<void> {
  const sourceVersion = await installedVersion(source);
  if (sourceVersion === undefined) return;
  const installed = await installedVersion(target);
  if (installed === undefined) return;
  // With a version installed, that is what the rule compares; what else the server offers does not matter.
  const problem = timescaleVersionProblem(sourceVersion, { installed, installable: [installed] });
  if (!problem) return;
  throw new MigrateError(`Cannot backfill: ${problem.detail}. Nothing was written.`, {
    hint: `${problem.fix ?? ''} Then run \`migrate backfill\` again.`.trim(),
  });
}
