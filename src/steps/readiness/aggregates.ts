/**
 * Compression and continuous aggregates caught up on the target.
 *
 * Compression: the backfill writes (and decompresses) chunks the compression policy compresses
 * later; a chunk older than its policy's compress_after and still uncompressed means the target is
 * holding data uncompressed that it was sized to hold compressed (a warning: the job catches up).
 *
 * Continuous aggregates on the backfilled tables (at every level): the backfill refreshes them over
 * [start, T). A cagg whose watermark (the end of what it has materialized) lies below T while its
 * underlying hypertable has rows in between has not taken in the backfill: a materialized-only cagg
 * answers without them. From a TimescaleDB source, a watermark behind the source's is a warning.
 */
import type { Client } from '../../core/db.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../../core/identifiers.js';
import { castParam, isIntegerTimeType, timeLiteral, toTimeType, type TimeType } from '../../core/time-values.js';
import { lowestValue } from '../backfill/axis.js';
import { plannedRefreshes, type Refresh } from '../backfill/continuous-aggregates.js';
import { sqlStringLiteral } from '../hypertable-sql.js';
import { capped, type Check, type Scope } from './types.js';

export async function checkCompression(scope: Scope): Promise<Check> {
  const base = { id: 'compression', title: 'compression caught up' };
  const schema = scope.timescale.target;
  if (schema === undefined) return { ...base, status: 'skipped', detail: 'the target has no TimescaleDB' };
  const { rows: policies } = await scope.target.query<{ id: number; schema: string; table: string; after: string | null; integer: boolean }>(
    `SELECT j.job_id AS id, h.schema_name AS schema, h.table_name AS table, j.config->>'compress_after' AS after,
            jsonb_typeof(j.config->'compress_after') = 'number' AS integer
       FROM timescaledb_information.jobs j
       JOIN _timescaledb_catalog.hypertable h ON h.id = (j.config->>'hypertable_id')::int
      WHERE j.proc_name = 'policy_compression' ORDER BY 1`);
  if (policies.length === 0) return { ...base, status: 'skipped', detail: 'no compression policy on the target' };
  const behind: string[] = [];
  const fixes: string[] = [];
  const unchecked: string[] = [];
  for (const policy of policies) {
    const name = displayName(policy);
    // Integer time (its "now" is a user function) and compress_created_before policies are not judged here.
    if (policy.after === null || policy.integer) { unchecked.push(name); continue; }
    const { rows: [row] } = await scope.target.query<{ n: string }>(
      `SELECT count(*) AS n FROM timescaledb_information.chunks
        WHERE hypertable_schema = $1 AND hypertable_name = $2 AND NOT is_compressed AND range_end <= now() - $3::interval`,
      [policy.schema, policy.table, policy.after]);
    const n = Number(row?.n ?? 0);
    if (n === 0) continue;
    behind.push(`${name}: ${n} chunk(s) older than ${policy.after} not compressed`);
    fixes.push(`CALL ${schema}.run_job(${policy.id});`);
  }
  const note = unchecked.length > 0 ? `; not judged (integer time or created-before policy): ${capped(unchecked, 5)}` : '';
  if (behind.length === 0) return { ...base, status: 'ok', detail: `${policies.length} compression policy(ies), no old chunk left uncompressed${note}` };
  return { ...base, status: 'warn', detail: capped(behind) + note,
    fix: `The policy compresses them on its next run; to do it now, on the target:\n${fixes.join('\n')}` };
}

interface Aggregate { matId: number; watermark: string; raw: QualifiedName; column: string; type: TimeType | undefined }

/** A cagg's watermark (TimescaleDB's internal time: microseconds for time types) and the hypertable it reads. */
async function readAggregate(client: Client, view: QualifiedName): Promise<Aggregate | undefined> {
  const { rows: [fn] } = await client.query<{ f: string | null }>(
    `SELECT coalesce(to_regproc('_timescaledb_functions.cagg_watermark'), to_regproc('_timescaledb_internal.cagg_watermark'))::text AS f`);
  if (!fn?.f) return undefined;
  const { rows: [row] } = await client.query<{ id: number; wm: string; schema: string; table: string; column: string; type: string }>(
    `SELECT ca.mat_hypertable_id AS id, ${fn.f}(ca.mat_hypertable_id)::text AS wm, h.schema_name AS schema, h.table_name AS table,
            d.column_name AS column, format_type(d.column_type, NULL) AS type
       FROM _timescaledb_catalog.continuous_agg ca
       JOIN _timescaledb_catalog.hypertable h ON h.id = ca.raw_hypertable_id
       JOIN _timescaledb_catalog.dimension d ON d.hypertable_id = h.id AND d.interval_length IS NOT NULL
      WHERE ca.user_view_schema = $1 AND ca.user_view_name = $2 ORDER BY d.id LIMIT 1`, [view.schema, view.table]);
  return row && { matId: row.id, watermark: row.wm, raw: { schema: row.schema, table: row.table }, column: row.column, type: toTimeType(row.type) };
}

/** The watermark as a value of the time column: internal microseconds → timestamp; an integer column's value as it is. */
function fromInternal(param: string, type: TimeType): string {
  if (isIntegerTimeType(type)) return `${param}::bigint`;
  const zone = type === 'timestamp with time zone' ? 'timestamptz' : 'timestamp';
  const value = `(${zone} 'epoch' + ${param}::bigint * interval '1 microsecond')`;
  return type === 'date' ? `${value}::date` : value;
}

/** TimescaleDB's lowest internal time (4714-11-24 BC, where PostgreSQL's dates begin): the watermark of a cagg never refreshed. */
const LOWEST_INTERNAL_TIME = -210866803200000000n;

async function watermarkText(client: Client, watermark: string, type: TimeType): Promise<string | undefined> {
  if (BigInt(watermark) <= (isIntegerTimeType(type) ? BigInt(lowestValue(type)) : LOWEST_INTERNAL_TIME)) return undefined;
  const { rows: [row] } = await client.query<{ t: string }>(`SELECT (${fromInternal('$1', type)})::text AS t`, [watermark]);
  return row?.t ?? watermark;
}

/**
 * How far this aggregate should be materialized: T, or less where its refresh policy stops
 * (now() - end_offset, time types) or, from a TimescaleDB source, where the source's own watermark is.
 */
async function expectedHorizon(scope: Scope, cagg: Aggregate, refresh: Refresh & { until: string }, onSource: Aggregate | undefined):
  Promise<{ value: string; why: string }> {
  const type = cagg.type as TimeType;
  const bounds: { value: string; why: string }[] = [{ value: refresh.until, why: 'T' }];
  if (onSource) {
    const theirs = await watermarkText(scope.source, onSource.watermark, type);
    bounds.push({ value: theirs ?? lowestValue(type), why: 'the source has materialized up to there' });
  }
  if (!isIntegerTimeType(type)) {
    const { rows: [policy] } = await scope.target.query<{ v: string | null }>(
      `SELECT (now() - (j.config->>'end_offset')::interval)::${type}::text AS v FROM timescaledb_information.jobs j
        WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND (j.config->>'mat_hypertable_id')::int = $1
          AND j.config->>'end_offset' IS NOT NULL ORDER BY j.job_id LIMIT 1`, [cagg.matId]).catch(() => ({ rows: [] }));
    if (policy?.v) bounds.push({ value: policy.v, why: 'its refresh policy stops at now() - end_offset' });
  }
  let lowest = bounds[0] as { value: string; why: string };
  for (const bound of bounds.slice(1)) {
    const { rows: [cmp] } = await scope.target.query<{ lt: boolean }>(`SELECT ${castParam(1, type)} < ${castParam(2, type)} AS lt`,
      [bound.value, lowest.value]);
    if (cmp?.lt) lowest = bound;
  }
  return lowest;
}

export async function checkContinuousAggregates(scope: Scope): Promise<Check> {
  const base = { id: 'continuous-aggregates', title: 'continuous aggregates caught up' };
  if (scope.timescale.target === undefined) return { ...base, status: 'skipped', detail: 'the target has no TimescaleDB' };
  // Per table, so each cagg (at every level) is judged against its own table's T.
  const refreshes: (Refresh & { until: string })[] = [];
  for (const t of scope.tables) {
    if (t.until === undefined) continue;
    const range = { table: t.pair.spec, type: t.pair.type, from: t.plan?.from ?? lowestValue(t.pair.type), until: t.until };
    refreshes.push(...(await plannedRefreshes(scope.target, [range])).map((r) => ({ ...r, until: t.until as string })));
  }
  if (refreshes.length === 0) return { ...base, status: 'skipped', detail: 'no continuous aggregate reads the backfilled tables' };
  const problems: string[] = [];
  const warnings: string[] = [];
  const fixes: string[] = [];
  const call = (view: QualifiedName, start: string | null, end: string | null, type: TimeType): string =>
    `CALL ${scope.timescale.target}.refresh_continuous_aggregate(${sqlStringLiteral(quoteQualified(view))}, ` +
    `${start === null ? 'NULL' : timeLiteral(start, type)}, ${end === null ? 'NULL' : timeLiteral(end, type)});`;
  for (const refresh of refreshes) {
    const name = displayName(refresh.view);
    const cagg = await readAggregate(scope.target, refresh.view);
    const { until } = refresh;
    if (!cagg || !cagg.type) { warnings.push(`${name}: its watermark could not be read`); continue; }
    const onSource = scope.timescale.source !== undefined ? await readAggregate(scope.source, refresh.view) : undefined;
    // Caught up means materialized as far as it should be: up to T, but never past what its refresh
    // policy would materialize (now() - end_offset) nor, from a TimescaleDB source, past what the
    // source itself has materialized (the target mirrors it; the bucket in progress is the policy's).
    const horizon = await expectedHorizon(scope, cagg, refresh, onSource);
    const { rows: [lag] } = await scope.target.query<{ behind: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${quoteQualified(cagg.raw)} WHERE ${quoteIdent(cagg.column)} >= ${fromInternal('$1', cagg.type)}
                        AND ${quoteIdent(cagg.column)} < ${castParam(2, cagg.type)}) AS behind`, [cagg.watermark, horizon.value]);
    const materialized = await watermarkText(scope.target, cagg.watermark, cagg.type);
    if (lag?.behind) {
      const bound = horizon.value === until ? `T ${until}` : `${horizon.value} (${horizon.why}; T is ${until})`;
      problems.push(materialized === undefined ? `${name} has materialized nothing below ${bound}`
        : `${name} is materialized up to ${materialized} only, below ${bound}, over rows it has not taken in`);
      fixes.push(call(refresh.view, refresh.start, horizon.value === until ? refresh.end : horizon.value, refresh.type));
      continue;
    }
    if (onSource && BigInt(onSource.watermark) > BigInt(cagg.watermark)) {
      const theirs = await watermarkText(scope.source, onSource.watermark, cagg.type);
      warnings.push(`${name} is materialized up to ${materialized ?? 'nothing'}, the source's up to ${theirs}`);
      fixes.push(call(refresh.view, materialized ?? null, theirs ?? null, cagg.type));
    }
  }
  const fix = `On the target, bottom-up:\n${fixes.join('\n')}`;
  if (problems.length > 0) return { ...base, status: 'fail', detail: capped([...problems, ...warnings]), fix };
  if (warnings.length > 0) return { ...base, status: 'warn', detail: capped(warnings), ...(fixes.length > 0 ? { fix } : {}) };
  return { ...base, status: 'ok', detail: `${refreshes.length} continuous aggregate(s) hold the backfilled range: ` +
    capped(refreshes.map((r) => displayName(r.view)), 5) };
}
