/**
 * Continuous-aggregate history from a TimescaleDB source (issue #9.1).
 *
 * The schema dump leaves out `_timescaledb_internal.*`, so the target's materialization hypertables
 * start empty, while the dump *does* carry the catalog: each aggregate's watermark, invalidation
 * threshold and invalidation logs arrive as the source had them (same hypertable ids, so the same
 * `_materialized_hypertable_N` names). Recomputing the aggregates from the raw rows cannot bring
 * their history back: retention has usually dropped raw chunks the aggregate still covers, and a
 * refresh there would *delete* those buckets.
 *
 * So each aggregate on a backfilled hypertable (and each aggregate on top of those) gets its
 * materialized rows copied from the source, as one more table of the backfill with the same
 * exactly-once slices: the materialization hypertable, on its bucket column, over
 * [lowest, C) with
 *
 *     C = least(the source's watermark when planned, T - one bucket width)
 *
 * Every bucket that starts below C lies wholly below T (T - width < ... ), where the target's raw
 * rows are the backfilled copy of the source's, so the source's materialized row is the right one
 * (even where the source's raw rows are gone). Buckets at or above C are recomputed on the target
 * from its own complete rows (backfilled below T, dual-written above), over [C, the source's
 * watermark then), which is exactly the window the source itself has materialized: nothing past its
 * refresh policy's end_offset, and the bucket holding T is recomputed, never copied half-written.
 * The recorded C is kept for the plan's life: a re-run copies and refreshes against the same bound.
 */
import type { Client } from '../../core/db.js';
import { displayName, type QualifiedName } from '../../core/identifiers.js';
import { castParam, isIntegerTimeType, toTimeType, type TimeType } from '../../core/time-values.js';
import { lowestValue } from './axis.js';
import type { BackfillTableInput } from './prepare.js';

export interface SourceAggregate {
  view: QualifiedName;
  /** Its materialization hypertable (the same name on both sides after our schema load). */
  materialization: QualifiedName;
  /** The hypertable (or the materialization hypertable of the aggregate) it reads. */
  on: QualifiedName;
  bucketColumn: string;
  type: TimeType;
  /** '01:00:00', '1 mon' or an integer, from the bucket catalog (TimescaleDB 2.13+). */
  bucketWidth: string | undefined;
  /** The source's watermark as text of `type`; undefined when nothing is materialized yet. */
  watermark: string | undefined;
}

/** Where TimescaleDB keeps its internal functions (2.12 moved them). */
async function functionSchema(client: Client): Promise<string> {
  const { rows } = await client.query<{ ok: boolean }>(
    "SELECT to_regnamespace('_timescaledb_functions') IS NOT NULL AND to_regprocedure('_timescaledb_functions.cagg_watermark(integer)') IS NOT NULL AS ok");
  return rows[0]?.ok ? '_timescaledb_functions' : '_timescaledb_internal';
}

/**
 * The watermark as text of the bucket column's type. TimescaleDB stores it in its internal form
 * (microseconds since 2000 for time types), with its lowest value meaning "nothing materialized".
 */
function watermarkSql(fn: string, type: TimeType): string {
  const w = `${fn}.cagg_watermark(c.mat_hypertable_id)`;
  switch (type) {
    case 'timestamp with time zone': return `${fn}.to_timestamp(${w})::text`;
    case 'timestamp without time zone': return `${fn}.to_timestamp_without_timezone(${w})::text`;
    case 'date': return `${fn}.to_date(${w})::text`;
    default: return `${w}::text`;
  }
}

/** Every aggregate reading these hypertables on the source, each after the aggregate it reads. */
export async function sourceAggregates(source: Client, tables: QualifiedName[]): Promise<SourceAggregate[]> {
  const { rows: [has] } = await source.query<{ catalog: boolean; buckets: boolean }>(
    `SELECT to_regclass('_timescaledb_catalog.continuous_agg') IS NOT NULL AS catalog,
            to_regclass('_timescaledb_catalog.continuous_aggs_bucket_function') IS NOT NULL AS buckets`);
  if (!has?.catalog) return [];
  const fn = await functionSchema(source);
  const width = has.buckets
    ? '(SELECT b.bucket_width FROM _timescaledb_catalog.continuous_aggs_bucket_function b WHERE b.mat_hypertable_id = c.mat_hypertable_id)'
    : 'NULL::text';
  const found: SourceAggregate[] = [];
  const queue = [...tables];
  for (let on = queue.shift(); on; on = queue.shift()) {
    const { rows } = await source.query<{ vs: string; vn: string; ms: string; mn: string; col: string; type: string; width: string | null }>(
      `SELECT c.user_view_schema AS vs, c.user_view_name AS vn, m.schema_name AS ms, m.table_name AS mn,
              d.column_name AS col, format_type(d.column_type, NULL) AS type, ${width} AS width
         FROM _timescaledb_catalog.continuous_agg c
         JOIN _timescaledb_catalog.hypertable r ON r.id = c.raw_hypertable_id
         JOIN _timescaledb_catalog.hypertable m ON m.id = c.mat_hypertable_id
         JOIN LATERAL (SELECT column_name, column_type FROM _timescaledb_catalog.dimension
                        WHERE hypertable_id = c.mat_hypertable_id ORDER BY id LIMIT 1) d ON true
        WHERE r.schema_name = $1 AND r.table_name = $2
        ORDER BY 1, 2`, [on.schema, on.table]);
    for (const row of rows) {
      const type = toTimeType(row.type);
      if (!type) continue; // a bucket type the backfill cannot slice (none that TimescaleDB allows today)
      const materialization = { schema: row.ms, table: row.mn };
      const { rows: [mark] } = await source.query<{ w: string | null }>(
        `SELECT ${watermarkSql(fn, type)} AS w FROM _timescaledb_catalog.continuous_agg c
           JOIN _timescaledb_catalog.hypertable m ON m.id = c.mat_hypertable_id WHERE m.schema_name = $1 AND m.table_name = $2`,
        [row.ms, row.mn]);
      found.push({ view: { schema: row.vs, table: row.vn }, materialization, on, bucketColumn: row.col, type,
        bucketWidth: row.width ?? undefined, watermark: usableWatermark(mark?.w ?? null, type) });
      queue.push(materialization);
    }
  }
  return found;
}

/**
 * "Nothing materialized" is TimescaleDB's lowest value: a date in 4714 BC or -infinity for time
 * types, the column type's minimum for integer ones (int2, int4 and int8 alike).
 */
function usableWatermark(text: string | null, type: TimeType): string | undefined {
  if (text === null || text === '-infinity' || / BC$/.test(text)) return undefined;
  if (isIntegerTimeType(type) && /^-?\d+$/.test(text) && BigInt(text) <= BigInt(lowestValue(type))) return undefined;
  return text;
}

/** C = least(watermark, until - width) as text of `type`, or undefined when nothing lies below it. */
export async function historyBound(client: Client, aggregate: SourceAggregate, until: string): Promise<string | undefined> {
  if (aggregate.watermark === undefined || aggregate.bucketWidth === undefined) return undefined;
  const t = aggregate.type;
  const minus = isIntegerTimeType(t)
    ? `(${castParam(2, t)}::numeric - $3::numeric)::${t}` : `(${castParam(2, t)} - $3::interval)::${t}`;
  // An integer T near the type's minimum has no room below it: nothing to copy then, not an error.
  const { rows } = await client.query<{ c: string; above: boolean }>(
    `SELECT c::text AS c, c > ${castParam(4, t)} AS above FROM (SELECT least(${castParam(1, t)}, ${minus}) AS c) b`,
    [aggregate.watermark, until, aggregate.bucketWidth, lowestValue(t)]).catch(() => ({ rows: [] }));
  return rows[0]?.above ? rows[0].c : undefined;
}

/** The target's materialization hypertable of this view, when the view is a continuous aggregate there. */
async function targetMaterialization(target: Client, view: QualifiedName): Promise<QualifiedName | undefined> {
  const { rows } = await target.query<{ ms: string; mn: string }>(
    `SELECT m.schema_name AS ms, m.table_name AS mn FROM _timescaledb_catalog.continuous_agg c
       JOIN _timescaledb_catalog.hypertable m ON m.id = c.mat_hypertable_id
      WHERE c.user_view_schema = $1 AND c.user_view_name = $2`, [view.schema, view.table]).catch(() => ({ rows: [] }));
  const row = rows[0];
  return row ? { schema: row.ms, table: row.mn } : undefined;
}

export interface HistoryPlan {
  inputs: BackfillTableInput[];
  /** Why an aggregate's history is not copied (it is then refreshed from the raw rows, as before). */
  skipped: string[];
}

/**
 * One more backfill input per aggregate whose history is to be copied: its materialization
 * hypertable on the bucket column, until C. `untilFor` gives each backfilled hypertable's T.
 */
export async function historyInputs(source: Client, target: Client, tables: { name: QualifiedName; until: string }[]):
  Promise<HistoryPlan> {
  const inputs: BackfillTableInput[] = [];
  const skipped: string[] = [];
  for (const table of tables) {
    for (const aggregate of await sourceAggregates(source, [table.name])) {
      const label = `${displayName(aggregate.view)} (continuous aggregate)`;
      const onTarget = await targetMaterialization(target, aggregate.view);
      if (!onTarget) {
        skipped.push(`${label}: not a continuous aggregate on the target, so its history has nowhere to go.`);
        continue;
      }
      if (onTarget.schema !== aggregate.materialization.schema || onTarget.table !== aggregate.materialization.table) {
        skipped.push(`${label}: its materialization hypertable is ${displayName(onTarget)} on the target but ` +
          `${displayName(aggregate.materialization)} on the source (the target was not loaded by \`migrate schema\`); ` +
          'its history is not copied.');
        continue;
      }
      if (aggregate.bucketWidth === undefined) {
        skipped.push(`${label}: the source's TimescaleDB is older than 2.13 and does not record bucket widths; its history ` +
          'is not copied (it is refreshed from the raw rows).');
        continue;
      }
      const bound = await historyBound(source, aggregate, table.until);
      if (bound === undefined) continue; // nothing materialized on the source yet: the refresh does it all
      inputs.push({ table: aggregate.materialization, timeColumn: aggregate.bucketColumn, until: bound,
        history: { view: aggregate.view, type: aggregate.type } });
    }
  }
  return { inputs, skipped };
}

/** A view's current watermark on this side, as text of `type` (undefined: nothing materialized). */
export async function currentWatermark(client: Client, materialization: QualifiedName, type: TimeType): Promise<string | undefined> {
  const fn = await functionSchema(client);
  const { rows } = await client.query<{ w: string | null }>(
    `SELECT ${watermarkSql(fn, type)} AS w FROM _timescaledb_catalog.continuous_agg c
       JOIN _timescaledb_catalog.hypertable m ON m.id = c.mat_hypertable_id WHERE m.schema_name = $1 AND m.table_name = $2`,
    [materialization.schema, materialization.table]);
  return usableWatermark(rows[0]?.w ?? null, type);
}

/** What the refresh needs to know of an aggregate whose history was copied. */
export interface CopiedHistory {
  /** C: the copied rows are the buckets below it. */
  bound: string;
  /** The source's watermark now: the source has materialized [.., it). */
  sourceWatermark: string | undefined;
}

/**
 * The copied histories of the aggregates on these hypertables, by view (displayName): each aggregate
 * whose materialization hypertable has a plan (`boundOf` gives its recorded bound C, from the ledger
 * or, in a dry run, from the plan it would record). Read from the ledger, not from this run's tables:
 * a repair (`validate --repair`) copies raw slices only, and its refresh must still spare the history.
 */
export async function copiedHistories(source: Client, rawTables: QualifiedName[],
  boundOf: (materialization: QualifiedName) => Promise<string | undefined>): Promise<Map<string, CopiedHistory>> {
  const histories = new Map<string, CopiedHistory>();
  for (const aggregate of await sourceAggregates(source, rawTables)) {
    const bound = await boundOf(aggregate.materialization);
    if (bound !== undefined) histories.set(displayName(aggregate.view), { bound, sourceWatermark: aggregate.watermark });
  }
  return histories;
}

/** TimescaleDB names every materialization hypertable so, in its internal schema. */
export function isMaterialization(table: QualifiedName): boolean {
  return table.schema === '_timescaledb_internal' && /^_materialized_hypertable_\d+$/.test(table.table);
}
