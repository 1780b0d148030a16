/**
 * Which tables readiness checks, and their T: the --table flags, else the tables with recorded
 * completion points (as validate and backfill do without --table), else the tables in the target's
 * backfill ledger — so a migration driven with `backfill --until` and no recorded point is checked too.
 * T is the recorded completion point, else the ledger plan's end (what was backfilled).
 */
import { readCompletionPoints, recordedPointFor, recordedTables, resolveTimeTables } from '../../core/completion-points.js';
import type { Client } from '../../core/db.js';
import { UsageError } from '../../core/errors.js';
import { displayTableSpec, type TableSpec } from '../../core/identifiers.js';
import { formatCommandLine } from '../../core/shell.js';
import type { MigrationState } from '../../core/state.js';
import { ledgerExists, readPlan } from '../backfill/ledger.js';
import { timescaleSchema } from '../backfill/policies.js';
import type { ReadinessInput, ReadyTable, Scope } from './types.js';

/** Commands that take --dir, and those that take --table/--until. */
const DIR_COMMANDS = new Set(['backfill', 'validate', 'completion-point', 'status', 'resume', 'wizard', 'schema', 'readiness']);
const TABLE_COMMANDS = new Set(['backfill', 'validate']);

export interface ScopeBase { source: Client; target: Client; dir: string; state: MigrationState | undefined; lateness: string }

export async function resolveScope(base: ScopeBase, input: ReadinessInput): Promise<Scope> {
  const { source, target } = base;
  const points = await readCompletionPoints(base.dir);
  const ledger = await ledgerExists(target);
  const origin = input.tables.length > 0 ? 'flags' : Object.keys(points.tables).length > 0 ? 'recorded' : 'ledger';
  const specs = origin === 'flags' ? input.tables : origin === 'recorded' ? recordedTables(points) : ledger ? await plannedTables(target) : [];
  if (specs.length === 0) {
    throw new UsageError(`No table to check: no --table given, no completion point recorded in ${base.dir}, and no backfill ledger ` +
      'in the target.', { hint: 'Point --dir at the migration\'s directory, or name the backfilled tables with --table schema.table.' });
  }
  const tables: ReadyTable[] = [];
  for (const pair of await resolveTimeTables(source, target, specs)) {
    const recorded = recordedPointFor(points, pair.spec);
    const point = recorded?.column === pair.column && recorded.type === pair.type ? recorded : undefined;
    const planned = ledger ? await readPlan(target, pair.spec) : undefined;
    const plan = planned?.column === pair.column && planned.type === pair.type ? planned : undefined;
    const until = point?.until ?? plan?.until;
    tables.push({ pair, key: pair.key, ...(until !== undefined ? { until } : {}), ...(point ? { point } : {}), ...(plan ? { plan } : {}) });
  }
  const tableArgs = argsForTables(origin, input.tables, tables);
  const repeat = input.repeat ?? {};
  return {
    ...base, points, tables, ledger,
    timescale: await timescaleSchemas(source, target),
    command(name: string, extra: string[] = []): string {
      return formatCommandLine(['migrate', name, ...(TABLE_COMMANDS.has(name) ? tableArgs : []), ...extra,
        ...(repeat.source !== undefined ? ['--source', repeat.source] : []), ...(repeat.target !== undefined ? ['--target', repeat.target] : []),
        ...(repeat.dir !== undefined && DIR_COMMANDS.has(name) ? ['--dir', repeat.dir] : [])]);
    },
  };
}

/** --table (and --until where T was not recorded) so backfill and validate act on exactly these tables. */
function argsForTables(origin: 'flags' | 'recorded' | 'ledger', given: TableSpec[], tables: ReadyTable[]): string[] {
  if (origin === 'recorded') return [];
  const names = origin === 'flags' ? given.map((spec) => displayTableSpec(spec)) : tables.map((t) => displayTableSpec(t.pair.spec));
  const unrecorded = tables.filter((t) => t.point === undefined && t.until !== undefined);
  const untils = unrecorded.length === 1 && tables.length === 1
    ? ['--until', unrecorded[0]?.until as string]
    : unrecorded.flatMap((t) => ['--until', `${t.key}=${t.until}`]);
  return [...names.flatMap((name) => ['--table', name]), ...untils];
}

async function plannedTables(target: Client): Promise<TableSpec[]> {
  const { rows } = await target.query<{ schema: string; table: string; column: string }>(
    'SELECT schema_name AS schema, table_name AS table, time_column AS column FROM _migrate.backfill_plan ORDER BY 1, 2');
  return rows;
}

async function timescaleSchemas(source: Client, target: Client): Promise<Scope['timescale']> {
  const [onSource, onTarget] = [await timescaleSchema(source), await timescaleSchema(target)];
  return { ...(onSource ? { source: onSource } : {}), ...(onTarget ? { target: onTarget } : {}) };
}
