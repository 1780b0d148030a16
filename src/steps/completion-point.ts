/**
 * `migrate completion-point`: suggest, check and record T per table (DESIGN.md §1 step 5).
 *
 * Rows with time < T come from the backfill, rows >= T are in the target from dual-writes. T must
 * lie in the consistency range: not before the first dual-written row (rows between T and that row
 * would be in neither range), and not so recent that late rows could still arrive below it.
 * Every comparison runs in SQL, typed like the column.
 */
import {
  completionPointsPath, recordCompletionPoints, resolveTimeTables, resolveUntil, type TimeTablePair,
} from '../core/completion-points.js';
import type { StepContext } from '../core/context.js';
import { withClient, withTransaction, type Client } from '../core/db.js';
import { MigrateError, UsageError, isPgError } from '../core/errors.js';
import { displayTableSpec, quoteQualified, quoteIdent, type TableSpec } from '../core/identifiers.js';
import { suggestCommand } from '../core/suggest.js';
import { isIntegerTimeType, shortTypeName } from '../core/time-values.js';
import { guardCompletionPoints, recordDualWriteStart } from './completion-point-guard.js';
import { countEdgeRows, rowCount } from './time-edge-rows.js';
import { acquireAdvisoryLock } from './backfill/advisory-lock.js';
import { PLAN_LOCK, ensureLedger } from './backfill/ledger.js';
import { consistencyRange, detectEpochUnit, epochSecondsNow, type EpochUnit, type RangeFacts } from './completion-point-range.js';

export const DEFAULT_MARGIN = '5 minutes';
export const DEFAULT_LATENESS = '10 minutes';

export interface CompletionPointInput {
  tables: TableSpec[];
  /** --until flags: `VALUE` for every table or `schema.table=VALUE`. Given: check and record. */
  until?: string[];
  /** How long after the first dual-written row every writer is surely dual-writing (interval text). */
  margin?: string;
  /** How late rows may arrive (interval text). */
  lateness?: string;
  /** Zone of offset-less --until values, and of timestamp/date columns' wall-clock values. */
  timezone?: string;
}

export type PointStatus = 'suggested' | 'recorded' | 'no-dual-writes' | 'range-empty' | 'units-unknown';

export interface TablePoint {
  table: string;
  column: string;
  type: string;
  /** min(time) on the target: where dual-writes began. */
  earliestDualWrite: string | null;
  /** max(time) on the source. */
  latestOnSource: string | null;
  /** pg_class estimates; -1 when never analyzed. */
  estimatedRows: { source: number; target: number };
  /** Integer columns: the epoch unit read from the values' magnitude. */
  unit?: EpochUnit | 'unknown';
  range?: RangeFacts;
  status: PointStatus;
  suggested?: string;
  until?: string;
  notes: string[];
}

export interface CompletionPointResult {
  now: string;
  margin: string;
  lateness: string;
  tables: TablePoint[];
  /** Set when --until values were recorded (or, with --dry-run, would be). */
  recorded?: { file: string; dryRun: boolean };
  /** The command to run next: record the suggestion, or start the backfill. */
  next?: string;
}

export async function runCompletionPoint(input: CompletionPointInput, ctx: StepContext): Promise<CompletionPointResult> {
  if (input.tables.length === 0) {
    throw new UsageError('Name the tables to choose a completion point for.', {
      hint: 'Pass --table schema.table[:time_column] once per hypertable candidate, e.g. --table public.metrics:time.',
    });
  }
  return withClient(ctx.source, (source) => withClient(ctx.target, async (target) => {
    const margin = await readInterval(target, input.margin ?? DEFAULT_MARGIN, '--margin');
    const lateness = await readInterval(target, input.lateness ?? DEFAULT_LATENESS, '--lateness');
    ctx.emit({ type: 'phase', id: 'completion-point', message: 'Reading the first dual-written rows and the latest source rows…' });
    const pairs = await resolveTimeTables(source, target, input.tables);
    const nowEpoch = await epochSecondsNow(target);
    const { rows: [clock] } = await target.query<{ now: string }>('SELECT now()::text AS now');
    const points: TablePoint[] = [];
    for (const pair of pairs) points.push(await readFacts(source, target, pair, nowEpoch));
    ctx.emit({ type: 'done', id: 'completion-point', message: 'Read the time ranges on both sides.' });
    const result: CompletionPointResult = { now: clock?.now ?? '', margin, lateness, tables: points };
    const shared = { margin, lateness, ...(input.timezone ? { timezone: input.timezone } : {}) };
    if ((input.until ?? []).length > 0) {
      await checkAndRecord(source, target, pairs, points, { ...shared, untilFlags: input.until ?? [] }, ctx);
      result.recorded = { file: completionPointsPath(ctx.dir), dryRun: ctx.dryRun };
      result.next = suggestCommand(ctx.repeat, 'backfill', pairs.flatMap((p) => ['--table', displayTableSpec(p.spec)]));
      return result;
    }
    for (const [i, pair] of pairs.entries()) await suggest(target, pair, points[i] as TablePoint, shared);
    const suggested = points.filter((p) => p.suggested !== undefined);
    if (suggested.length === points.length) {
      const values = pairs.map((p, i) => ({ key: p.key, value: points[i]?.suggested as string }));
      result.next = suggestCommand(ctx.repeat, 'completion-point', [...pairs.flatMap((p) => ['--table', displayTableSpec(p.spec)]),
        ...untilArgs(values)]);
    }
    return result;
  }));
}

async function readFacts(source: Client, target: Client, pair: TimeTablePair, nowEpoch: bigint): Promise<TablePoint> {
  const col = quoteIdent(pair.column);
  const [{ rows: [first] }, { rows: [last] }] = [
    await target.query<{ v: string | null }>(`SELECT min(${col})::text AS v FROM ${quoteQualified(pair.spec)}`),
    await source.query<{ v: string | null }>(`SELECT max(${col})::text AS v FROM ${quoteQualified(pair.spec)}`),
  ];
  const point: TablePoint = {
    table: pair.key, column: pair.column, type: shortTypeName(pair.type),
    earliestDualWrite: first?.v ?? null, latestOnSource: last?.v ?? null,
    estimatedRows: { source: pair.source.estimatedRows, target: pair.target.estimatedRows },
    status: 'suggested', notes: [],
  };
  if (isIntegerTimeType(pair.type)) {
    point.unit = detectEpochUnit([point.earliestDualWrite, point.latestOnSource], nowEpoch) ?? 'unknown';
  }
  if (point.earliestDualWrite === null) point.status = 'no-dual-writes';
  const edges = await countEdgeRows(source, pair.source, pair.column, pair.type);
  if (edges.plusInfinity > 0) {
    point.notes.push(`${rowCount(edges.plusInfinity)} on the source at +infinity: at or after every T, so no dual-write brings ` +
      'them; `migrate backfill --include-infinity` copies them (the backfill refuses to start without that decision).');
  }
  if (edges.nulls > 0) {
    point.notes.push(`${rowCount(edges.nulls)} on the source with a NULL ${pair.column}: no range holds them; the backfill ` +
      'refuses to start until they have a time or are deleted.');
  }
  return point;
}

interface Shared { margin: string; lateness: string; timezone?: string }

async function suggest(target: Client, pair: TimeTablePair, point: TablePoint, shared: Shared): Promise<void> {
  if (point.earliestDualWrite === null) {
    point.notes.push('The target table is empty: dual-writes have not started, so there is no consistency range yet.');
    return;
  }
  if (point.unit === 'unknown') {
    point.status = 'units-unknown';
    point.notes.push(`${point.earliestDualWrite} does not read as epoch seconds, milliseconds, microseconds or nanoseconds ` +
      'between 2000 and now, so "now minus lateness" cannot be computed: choose T yourself with --until.');
    return;
  }
  const range = await consistencyRange(target, {
    type: pair.type, earliest: point.earliestDualWrite, margin: shared.margin, lateness: shared.lateness,
    ...(shared.timezone ? { timezone: shared.timezone } : {}), ...(point.unit ? { unit: point.unit } : {}),
  });
  point.range = range;
  if (point.unit) point.notes.push(`Integer values read as epoch ${point.unit} (by their magnitude).`);
  if (!range.open || range.suggested === undefined) {
    point.status = 'range-empty';
    point.notes.push(`The consistency range is still empty: earliest dual-write + margin (${range.lower}) is after ` +
      `now - lateness (${range.upper}). It opens at ${range.opensAt}.`);
    return;
  }
  point.suggested = range.suggested;
  if (pair.type === 'timestamp without time zone' || pair.type === 'date') {
    point.notes.push(`"Now" is read in ${shared.timezone ?? 'UTC'} for this ${shortTypeName(pair.type)} column (--timezone sets the zone its values are in).`);
  }
}

async function checkAndRecord(source: Client, target: Client, pairs: TimeTablePair[], points: TablePoint[],
  options: Shared & { untilFlags: string[] }, ctx: StepContext): Promise<void> {
  const values = await resolveUntil({
    tables: pairs.map((p) => p.spec), untilFlags: options.untilFlags, dir: ctx.dir, source, useRecorded: false,
    ...(options.timezone ? { timezone: options.timezone } : {}),
  });
  const empty = points.filter((p) => p.earliestDualWrite === null);
  if (empty.length > 0) {
    throw new MigrateError(`Dual-writes have not started for ${empty.map((p) => p.table).join(', ')}: the target table is ` +
      'empty, so a completion point cannot be checked against the first dual-written row.', {
      hint: 'Start writing to both databases from the application, wait until rows arrive in the target, then run ' +
        '`migrate completion-point` again.',
    });
  }
  const guarded = pairs.map((p) => ({ table: p.spec, key: p.key, column: p.column, type: p.type,
    until: values.get(p.key)?.until as string }));
  // The same check backfill and validate run, against where dual-writes began (kept in the ledger
  // once observed, since a backfill lowers the target's minimum).
  const { warnings, starts } = await guardCompletionPoints(target, guarded, {
    dir: ctx.dir, repeat: ctx.repeat, margin: options.margin, lateness: options.lateness, timezone: options.timezone,
  });
  for (const [i, pair] of pairs.entries()) {
    const point = points[i] as TablePoint;
    const start = starts.get(pair.key);
    if (start && start.origin !== 'observed') point.earliestDualWrite = start.earliest;
    point.notes.push(...warnings.filter((w) => w.startsWith(`${pair.key}: `)).map((w) => w.slice(pair.key.length + 2)));
    point.until = values.get(pair.key)?.until as string;
    point.status = 'recorded';
  }
  const records = guarded.map((g) => ({ schema: g.table.schema, table: g.table.table, column: g.column, type: g.type,
    until: g.until, ...(starts.get(g.key)?.origin === 'plan' ? {} : { dualWritesFrom: starts.get(g.key)?.earliest as string }), ...(options.timezone ? { timezone: options.timezone } : {}) }));
  if (ctx.dryRun) {
    ctx.emit({ type: 'info', message: `Would record in ${completionPointsPath(ctx.dir)}:`,
      detail: records.map((r, i) => `${pairs[i]?.key}: ${r.until}`) });
    return;
  }
  await recordCompletionPoints(ctx.dir, records);
  await withTransaction(target, async () => {
    await acquireAdvisoryLock(target, { key: PLAN_LOCK, mode: 'xact', what: 'the backfill ledger (another process is planning)',
      emit: ctx.emit, signal: ctx.signal });
    await ensureLedger(target);
    for (const g of guarded) {
      const start = starts.get(g.key);
      if (start && start.origin !== 'plan') await recordDualWriteStart(target, g, start.earliest);
    }
  });
}

/** Check an interval flag in PostgreSQL (`10m`, `5 minutes`, `1h30m`); it must not be negative. */
export async function readInterval(client: Client, raw: string, flag: string): Promise<string> {
  try {
    const { rows } = await client.query<{ v: string; ok: boolean }>(
      `SELECT $1::interval::text AS v, $1::interval >= interval '0' AS ok`, [raw]);
    if (rows[0]?.ok) return rows[0].v;
  } catch (error) {
    if (!isPgError(error) || !/^22/.test(error.code ?? '')) throw error;
  }
  throw new UsageError(`${flag} ${JSON.stringify(raw)} is not a duration we can use.`, {
    hint: `Write it as a non-negative interval, e.g. ${flag} 10m, ${flag} '5 minutes' or ${flag} 1h.`,
  });
}

/** `--until VALUE` for one table; `--until schema.table=VALUE` each when there are several (types may differ). */
function untilArgs(values: { key: string; value: string }[]): string[] {
  if (values.length === 1) return ['--until', values[0]?.value as string];
  return values.flatMap((v) => ['--until', `${v.key}=${v.value}`]);
}

