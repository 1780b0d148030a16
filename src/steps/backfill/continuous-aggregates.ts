/**
 * Continuous aggregates on the backfilled hypertables (DESIGN.md §2: "refresh continuous aggregates
 * over the backfilled range before turning jobs back on").
 *
 * Rows the backfill writes below a cagg's invalidation threshold are only logged as invalidations;
 * the aggregate shows the old buckets until something refreshes them, and the refresh policies
 * were paused (or their window may not reach back that far). So after the last slice we call
 * refresh_continuous_aggregate over each table's range, bottom-up through hierarchical caggs.
 *
 * The window is widened by one bucket on each side: a refresh only recomputes buckets that lie
 * entirely inside its window, and the buckets holding `from` and `until` mix backfilled rows with
 * rows outside the range (a window narrower than a bucket is even an error). Recomputing a bucket
 * from the hypertable is always correct, so widening costs at most two buckets of work.
 */
import type { Emit } from '../../core/context.js';
import type { Client } from '../../core/db.js';
import { MigrateError, describeError } from '../../core/errors.js';
import { displayName, quoteQualified, type QualifiedName } from '../../core/identifiers.js';
import { castParam, isIntegerTimeType, type TimeType } from '../../core/time-values.js';
import { isInfinite, lowestValue } from './axis.js';
import { currentWatermark, type CopiedHistory } from './materializations.js';
import { sleep } from './retry.js';

export interface ContinuousAggregate {
  view: QualifiedName;
  /** Its materialization hypertable (what a cagg built on this one names as its hypertable). */
  materialization: QualifiedName;
  /** The bucket width ('01:00:00', '1 mon', or an integer), when the catalog tells it. */
  bucketWidth: string | undefined;
}

export interface BackfilledRange { table: QualifiedName; type: TimeType; from: string; until: string }

export interface Refresh {
  view: QualifiedName;
  /** On top of (the raw hypertable or the cagg below). */
  on: string;
  type: TimeType;
  /** Text typed like the time column; null = open (NULL window bound). */
  start: string | null;
  end: string | null;
  /** Recompute every bucket in the window, invalidated or not (TimescaleDB 2.18+; see plannedRefreshes). */
  force: boolean;
}

/** Caggs built directly on this hypertable (or cagg materialization hypertable). */
async function caggsOn(client: Client, table: QualifiedName): Promise<ContinuousAggregate[]> {
  // The bucket catalog exists from 2.13 on; older versions refresh the exact range.
  const { rows: [catalog] } = await client.query<{ ok: boolean }>(
    "SELECT to_regclass('_timescaledb_catalog.continuous_aggs_bucket_function') IS NOT NULL AS ok");
  const width = catalog?.ok
    ? `(SELECT b.bucket_width FROM _timescaledb_catalog.continuous_aggs_bucket_function b
         JOIN _timescaledb_catalog.hypertable h ON h.id = b.mat_hypertable_id
        WHERE h.schema_name = c.materialization_hypertable_schema AND h.table_name = c.materialization_hypertable_name)`
    : 'NULL::text';
  const { rows } = await client.query<{ vs: string; vn: string; ms: string; mn: string; width: string | null }>(
    `SELECT c.view_schema AS vs, c.view_name AS vn, c.materialization_hypertable_schema AS ms,
            c.materialization_hypertable_name AS mn, ${width} AS width
       FROM timescaledb_information.continuous_aggregates c
      WHERE c.hypertable_schema = $1 AND c.hypertable_name = $2 ORDER BY 1, 2`, [table.schema, table.table]);
  return rows.map((r) => ({ view: { schema: r.vs, table: r.vn }, materialization: { schema: r.ms, table: r.mn },
    bucketWidth: r.width ?? undefined }));
}

/** Whether any cagg (at any level) reads one of these hypertables. */
export async function hasContinuousAggregates(client: Client, tables: QualifiedName[]): Promise<boolean> {
  for (const table of tables) if ((await caggsOn(client, table)).length > 0) return true;
  return false;
}

/** `from` widened one bucket down, `until` one bucket up; null for an open or unrepresentable bound. */
async function widen(client: Client, type: TimeType, start: string | null, end: string | null, width: string | undefined):
  Promise<[string | null, string | null]> {
  if (width === undefined) return [start, end];
  const step = async (value: string | null, sign: '-' | '+'): Promise<string | null> => {
    if (value === null) return null;
    const sql = isIntegerTimeType(type)
      ? `SELECT (${castParam(1, type)}::numeric ${sign} $2::numeric)::${type}::text AS v`
      : `SELECT (${castParam(1, type)} ${sign} $2::interval)::${type}::text AS v`;
    try {
      return (await client.query<{ v: string }>(sql, [value, width])).rows[0]?.v ?? null;
    } catch {
      return null; // past the type's range: the bound is open anyway
    }
  };
  return [await step(start, '-'), await step(end, '+')];
}

/**
 * Whether refresh_continuous_aggregate takes `force` (TimescaleDB 2.18+). The backfill forces its
 * refreshes: it cannot count on the invalidation log. Measured on 2.28.3: a COPY into a hypertable
 * with a BEFORE ROW trigger logs no invalidation for the rows it writes (INSERT does, and COPY
 * without such a trigger does), so a window materialized before the backfill stayed stale, and a
 * plain refresh found "nothing to do". Nearly every bucket below T changed anyway, so forcing costs
 * little.
 */
async function refreshTakesForce(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_proc
    WHERE proname = 'refresh_continuous_aggregate' AND 'force' = ANY(proargnames)) AS ok`);
  return Boolean(rows[0]?.ok);
}

/**
 * The end of a refresh window, kept where the aggregate's refresh policy stops (now() - end_offset):
 * the bucket still in progress is never materialized by the backfill when the policy would not.
 * Integer time needs the hypertable's integer_now function; those windows are left as they are.
 */
async function clampToPolicy(client: Client, cagg: ContinuousAggregate, type: TimeType, end: string | null): Promise<string | null> {
  if (isIntegerTimeType(type)) return end;
  const { rows } = await client.query<{ offset: string | null }>(
    // The jobs view names the aggregate's view as the policy's hypertable; its config names the materialization.
    `SELECT j.config->>'end_offset' AS offset FROM timescaledb_information.jobs j
       JOIN _timescaledb_catalog.hypertable h ON h.id = (j.config->>'mat_hypertable_id')::int
      WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND h.schema_name = $1 AND h.table_name = $2
      ORDER BY j.job_id LIMIT 1`, [cagg.materialization.schema, cagg.materialization.table]);
  const offset = rows[0]?.offset;
  if (offset == null) return end;
  const { rows: [clamped] } = await client.query<{ v: string }>(
    `SELECT least(${castParam(1, type)}, (now() - $2::interval)::${type})::text AS v`, [end, offset]);
  return clamped?.v ?? end;
}

/** a < b for two values of `type` (null = open: below or above everything, by position). */
async function before(client: Client, type: TimeType, a: string, b: string): Promise<boolean> {
  const { rows } = await client.query<{ lt: boolean }>(`SELECT ${castParam(1, type)} < ${castParam(2, type)} AS lt`, [a, b]);
  return Boolean(rows[0]?.lt);
}

async function greatest(client: Client, type: TimeType, values: (string | undefined)[]): Promise<string | undefined> {
  const known = values.filter((v): v is string => v !== undefined);
  if (known.length <= 1) return known[0];
  const { rows } = await client.query<{ v: string }>(
    `SELECT max(v)::text AS v FROM unnest($1::text[]) t(x), LATERAL (SELECT x::${type} AS v) c`, [known]);
  return rows[0]?.v;
}

/**
 * The window of an aggregate whose history was copied below C (materializations.ts): recompute
 * [C, whatever either side has materialized), the source's watermark (what it shows) or the
 * target's own (what a refresh there may have materialized from partial rows). Undefined: nothing to do.
 */
async function windowAboveHistory(client: Client, cagg: ContinuousAggregate, type: TimeType, history: CopiedHistory):
  Promise<[string, string] | undefined> {
  const end = await greatest(client, type, [history.sourceWatermark, await currentWatermark(client, cagg.materialization, type)]);
  if (end === undefined || !(await before(client, type, history.bound, end))) return undefined;
  return [history.bound, end];
}

/**
 * Every refresh to run for these ranges, in order: each cagg after the ones it is built on.
 * `histories` (by view) are the aggregates whose materialized rows were copied from the source.
 */
export async function plannedRefreshes(client: Client, ranges: BackfilledRange[],
  histories: Map<string, CopiedHistory> = new Map()): Promise<Refresh[]> {
  const refreshes: Refresh[] = [];
  const { rows: [ts] } = await client.query<{ ok: boolean }>(
    "SELECT to_regclass('timescaledb_information.continuous_aggregates') IS NOT NULL AS ok");
  if (!ts?.ok) return refreshes; // a plain PostgreSQL target
  const force = await refreshTakesForce(client);
  for (const range of ranges) {
    const open = (v: string): boolean => isInfinite(v) || v === lowestValue(range.type);
    // Breadth-first from the raw hypertable: a cagg is refreshed after the cagg it reads.
    const queue: { on: QualifiedName; start: string | null; end: string | null }[] = [
      { on: range.table, start: open(range.from) ? null : range.from, end: isInfinite(range.until) ? null : range.until }];
    for (let next = queue.shift(); next; next = queue.shift()) {
      for (const cagg of await caggsOn(client, next.on)) {
        const history = histories.get(displayName(cagg.view));
        if (history) {
          const window = await windowAboveHistory(client, cagg, range.type, history);
          if (window) refreshes.push({ view: cagg.view, on: displayName(next.on), type: range.type, start: window[0], end: window[1], force });
          queue.push({ on: cagg.materialization, start: window?.[0] ?? history.bound, end: window?.[1] ?? history.bound });
          continue;
        }
        const [start, wideEnd] = await widen(client, range.type, next.start, next.end, cagg.bucketWidth);
        const end = await clampToPolicy(client, cagg, range.type, wideEnd);
        if (start !== null && end !== null && !(await before(client, range.type, start, end))) continue;
        refreshes.push({ view: cagg.view, on: displayName(next.on), type: range.type, start, end, force });
        queue.push({ on: cagg.materialization, start, end });
      }
    }
  }
  return refreshes;
}

export function refreshSql(refresh: Refresh): string {
  return `CALL refresh_continuous_aggregate($1::regclass, ${castParam(2, refresh.type)}, ${castParam(3, refresh.type)}` +
    `${refresh.force ? ', force => true' : ''})`;
}

export function refreshParams(refresh: Refresh): unknown[] {
  return [quoteQualified(refresh.view), refresh.start, refresh.end];
}

export function describeRefresh(refresh: Refresh): string {
  return `${displayName(refresh.view)} (on ${refresh.on}) over [${refresh.start ?? 'NULL'}, ${refresh.end ?? 'NULL'})`;
}

/**
 * Pausing a job does not stop a run already under way: a policy refresh that started before the
 * pause makes ours fail with "concurrent refresh" until it ends, so we wait for it a little.
 */
async function refreshOnce(client: Client, refresh: Refresh): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await client.query(refreshSql(refresh), refreshParams(refresh));
      return;
    } catch (error) {
      if (attempt >= 30 || !/concurrent refresh/i.test((error as Error).message)) throw error;
      await sleep(1000);
    }
  }
}

/**
 * Run the refreshes. `client` must be a connection of its own in autocommit mode:
 * refresh_continuous_aggregate refuses to run inside a transaction block.
 */
export async function refreshContinuousAggregates(client: Client, ranges: BackfilledRange[], emit: Emit,
  histories: Map<string, CopiedHistory> = new Map()): Promise<Refresh[]> {
  const refreshes = await plannedRefreshes(client, ranges, histories);
  if (refreshes.length === 0) return [];
  emit({ type: 'info', message: `Refreshing ${refreshes.length} continuous aggregate${refreshes.length === 1 ? '' : 's'} ` +
    'over the backfilled range (bottom-up):', detail: refreshes.map(describeRefresh) });
  for (const refresh of refreshes) {
    try {
      await refreshOnce(client, refresh);
    } catch (error) {
      throw new MigrateError(`Refreshing the continuous aggregate ${describeRefresh(refresh)} failed: ${describeError(error)}`, {
        cause: error, hint: 'Fix the cause and run the same `migrate backfill` again: every slice is done, so it only refreshes ' +
          'the continuous aggregates (the paused jobs were restored).' });
    }
  }
  return refreshes;
}
