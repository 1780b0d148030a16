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

/** Every refresh to run for these ranges, in order: each cagg after the ones it is built on. */
export async function plannedRefreshes(client: Client, ranges: BackfilledRange[]): Promise<Refresh[]> {
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
        const [start, end] = await widen(client, range.type, next.start, next.end, cagg.bucketWidth);
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
export async function refreshContinuousAggregates(client: Client, ranges: BackfilledRange[], emit: Emit): Promise<Refresh[]> {
  const refreshes = await plannedRefreshes(client, ranges);
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
