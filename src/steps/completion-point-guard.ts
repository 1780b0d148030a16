/**
 * The one check every path that takes a completion point T runs before it acts on it: `migrate
 * completion-point --until`, `backfill` (flags, recorded points, the wizard, plan files, `validate
 * --repair`) and `validate`. A T before the first dual-written row leaves the rows in between in
 * neither range; a T in the future makes rows the application is still writing arrive twice (once
 * by dual-write, once by the slice). Both lose or duplicate rows with exit 0, so both are refused.
 *
 * "The first dual-written row" is min(time) on the target *before any backfill*: the backfill
 * itself lowers that minimum. So the first value observed is kept in the ledger
 * (`_migrate.completion_point`, in the target, shared by every machine) and in completion-points.json,
 * and later checks read it from there instead of from the table.
 */
import type { Client } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { displayTableSpec, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { displayPath } from '../core/shell.js';
import { suggestCommand, type RepeatFlags } from '../core/suggest.js';
import { readCompletionPoints, recordedPointFor, type CompletionPointsFile } from '../core/completion-points.js';
import { castParam, isIntegerTimeType, type TimeType } from '../core/time-values.js';
import { checkUntil } from './completion-point-checks.js';
import { detectEpochUnit, epochSecondsNow } from './completion-point-range.js';

export const GUARD_MARGIN = '5 minutes';
export const GUARD_LATENESS = '10 minutes';

export interface GuardedTable {
  table: QualifiedName;
  /** displayName of the table, for messages. */
  key: string;
  column: string;
  type: TimeType;
  /** The normalized T. */
  until: string;
}

export interface DualWriteStart {
  /** min(time) on the target when it was first observed, as PostgreSQL text. */
  earliest: string;
  /**
   * Where the value came from: the ledger, the local file, read from the table just now, or — for a
   * ledger an older migrate left, with a plan but no record — that plan's completion point.
   */
  origin: 'ledger' | 'file' | 'observed' | 'plan';
}

export interface GuardOptions {
  dir: string;
  /** The shared flags the command was given, repeated by the suggested command (--dir is always named). */
  repeat?: RepeatFlags | undefined;
  timezone?: string | undefined;
  margin?: string;
  lateness?: string;
}

export interface GuardResult {
  warnings: string[];
  /** Per table key: where dual-writes began (to be recorded with the plan when it was only observed). */
  starts: Map<string, DualWriteStart>;
  /** Per table key: the zone of a zone-less column's values (the flag, else the one T was recorded with). */
  zones: Map<string, string | undefined>;
}

/**
 * Check each table's T. Throws one UsageError (exit 2) listing every table whose T would lose or
 * duplicate rows; returns the warnings (T inside the margin or the lateness window).
 */
export async function guardCompletionPoints(target: Client, tables: GuardedTable[], options: GuardOptions): Promise<GuardResult> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const starts = new Map<string, DualWriteStart>();
  const zones = new Map<string, string | undefined>();
  const nowEpoch = await epochSecondsNow(target);
  const recorded = await readCompletionPoints(options.dir);
  for (const table of tables) {
    const start = await dualWriteStart(target, table, recorded);
    if (start === undefined) {
      problems.push(`${table.key}: dual-writes have not started (the target table is empty), so rows at or after ${table.until} ` +
        'would reach the target from nowhere. Start writing to both databases first.');
      continue;
    }
    starts.set(table.key, start);
    const unit = isIntegerTimeType(table.type) ? detectEpochUnit([start.earliest], nowEpoch) : undefined;
    // The zone T was recorded in, when this run was not given one (a wizard's plan, a later command).
    const point = recordedPointFor(recorded, table.table);
    const timezone = options.timezone ?? (point?.column === table.column ? point.timezone : undefined);
    zones.set(table.key, timezone);
    const { rows: [newest] } = await target.query<{ v: string | null }>(
      `SELECT max(${quoteIdent(table.column)})::text AS v FROM ${quoteQualified(table.table)}`);
    const check = await checkUntil(target, {
      type: table.type, until: table.until, earliest: start.earliest, earliestIsPoint: start.origin === 'plan',
      latest: newest?.v ?? null, zoneKnown: timezone !== undefined,
      margin: options.margin ?? GUARD_MARGIN, lateness: options.lateness ?? GUARD_LATENESS,
      ...(timezone ? { timezone } : {}), ...(unit ? { unit } : {}),
    });
    problems.push(...check.problems.map((p) => `${table.key}: ${p}`));
    warnings.push(...check.warnings.map((w) => `${table.key}: ${w}`));
  }
  if (problems.length > 0) {
    const command = suggestCommand({ ...options.repeat, dir: options.repeat?.dir ?? displayPath(options.dir) }, 'completion-point',
      tables.flatMap((t) => ['--table', displayTableSpec({ ...t.table, column: t.column })]));
    throw new UsageError(`The completion point would lose or duplicate rows; nothing was changed:\n  - ${problems.join('\n  - ')}`, {
      hint: `Run \`${command}\` (without --until) to see the consistency range and a suggested T, then record it with --until.`,
    });
  }
  return { warnings, starts, zones };
}

/**
 * Where dual-writes began for this table: the ledger's record, else completion-points.json's, else
 * the target's minimum now (only meaningful before the first slice; the caller records it then).
 */
export async function dualWriteStart(target: Client, table: GuardedTable, file: CompletionPointsFile):
  Promise<DualWriteStart | undefined> {
  const inLedger = await ledgerValue(target, table, 'completion_point');
  if (inLedger !== undefined) return { earliest: inLedger, origin: 'ledger' };
  const point = recordedPointFor(file, table.table);
  if (point?.dualWritesFrom !== undefined && point.column === table.column && point.type === table.type) {
    return { earliest: point.dualWritesFrom, origin: 'file' };
  }
  // A plan without a record (an older ledger): its backfill has lowered min(time), so the table
  // says nothing; the T that plan was made for is the one bound left.
  const planned = await ledgerValue(target, table, 'backfill_plan');
  if (planned !== undefined) return { earliest: planned, origin: 'plan' };
  const { rows } = await target.query<{ v: string | null }>(
    `SELECT min(${quoteIdent(table.column)})::text AS v FROM ${quoteQualified(table.table)}`);
  const observed = rows[0]?.v ?? null;
  return observed === null ? undefined : { earliest: observed, origin: 'observed' };
}

/** The plan's T (backfill_plan) or the recorded start (completion_point) for this table and column. */
async function ledgerValue(target: Client, table: GuardedTable, relation: 'backfill_plan' | 'completion_point'):
  Promise<string | undefined> {
  // An older ledger has no completion_point table yet (ensureLedger adds it); no ledger has neither.
  const { rows: [exists] } = await target.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`_migrate.${relation}`]);
  if (exists?.t == null) return undefined;
  const value = relation === 'backfill_plan' ? 'until_value' : 'dual_writes_from';
  const { rows } = await target.query<{ v: string; column: string; type: string }>(
    `SELECT ${value} AS v, time_column AS column, time_type AS type FROM _migrate.${relation}
      WHERE schema_name = $1 AND table_name = $2`, [table.table.schema, table.table.table]);
  const row = rows[0];
  return row && row.column === table.column && row.type === table.type ? row.v : undefined;
}

/**
 * Keep where dual-writes began in the ledger (callers hold the ledger's PLAN_LOCK or know it exists).
 * Until the table's backfill is planned, an earlier observation (a late dual-written row) lowers it;
 * once planned, the backfilled rows would lower it, so it never changes again.
 */
export async function recordDualWriteStart(target: Client, table: GuardedTable, earliest: string): Promise<void> {
  const t = castParam(5, table.type);
  await target.query(
    `INSERT INTO _migrate.completion_point AS c (schema_name, table_name, time_column, time_type, dual_writes_from, until_value)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (schema_name, table_name) DO UPDATE
        SET dual_writes_from = CASE WHEN c.time_column <> excluded.time_column OR c.time_type <> excluded.time_type
                                      OR ${t} < c.dual_writes_from::${table.type} THEN excluded.dual_writes_from
                                    ELSE c.dual_writes_from END,
            time_column = excluded.time_column, time_type = excluded.time_type, until_value = excluded.until_value,
            recorded_at = now()
      WHERE NOT EXISTS (SELECT 1 FROM _migrate.backfill_plan p WHERE p.schema_name = $1 AND p.table_name = $2)`,
    [table.table.schema, table.table.table, table.column, table.type, earliest, table.until]);
}
