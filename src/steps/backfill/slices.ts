/**
 * Cut a table's backfill range [from, until) into slices: aligned to the target's chunk boundaries
 * (or to multiples of --slice, or to a hypertable source's own chunks), sized from the source's
 * planner statistics — or, for a hypertable source, its chunks' row counts, compressed rows
 * included — so a slice holds a few hundred thousand rows, dense chunks split and sparse ones merged.
 *
 * The first slice starts at `from` (default: below every row, `-infinity` or the integer type's
 * minimum) and the last ends at `until`, so the slices cover the range exactly whatever the
 * statistics say; the statistics only decide where the inner edges go.
 */
import { resolveTable, resolveTimeColumn, type TableInfo } from '../../core/catalog.js';
import { readHypertableRows } from '../../core/chunk-rows.js';
import type { Client } from '../../core/db.js';
import { UsageError } from '../../core/errors.js';
import { displayName, quoteIdent, quoteQualified, type TableSpec } from '../../core/identifiers.js';
import { hasTimeIndex, timeColumnStats } from '../../core/time-column.js';
import { castParam, isIntegerTimeType, shortTypeName, type TimeType } from '../../core/time-values.js';
import { axisKind, fromAxis, intervalOnAxis, isInfinite, lowestValue, sliceWidth, toAxis, toAxisSql } from './axis.js';
import { clipToData, innerEdges, microsToAxis, rangeEstimator } from './chunk-grid.js';
import { cellsFor, chooseWidth, estimateRows, gridPoints, mergeEmptyRuns, sizeCells, DEFAULT_TARGET_ROWS, type Distribution } from './grid.js';

export interface SliceRequest {
  table: TableSpec;
  /** Default: the table spec's column, else the catalog's choice. */
  timeColumn?: string;
  /** Normalized text; undefined or '-infinity' = below every row. */
  from?: string;
  /** Normalized text (exclusive). */
  until: string;
  /** --slice: an interval (time types) or a whole number (integer types); exact width, no resizing. */
  slice?: string;
  targetRows?: number;
  /** Already resolved, to save the lookups. */
  sourceInfo?: TableInfo;
  targetInfo?: TableInfo;
}

export interface PlannedSlice { start: string; end: string; estRows: number }

export interface SlicePlan {
  table: TableSpec;
  column: string;
  type: TimeType;
  /** The target's time column type (usually the same). */
  targetType: TimeType;
  from: string;
  until: string;
  /** How the edges were chosen, for messages. */
  alignment: string;
  /** Where the row estimates come from, for messages (not kept in the ledger). */
  estimatedFrom: string;
  slices: PlannedSlice[];
  estimatedRows: number;
  warnings: string[];
}

/** Plan the slices of one table. Reads statistics only; changes nothing. */
export async function planSlices(source: Client, target: Client, request: SliceRequest): Promise<SlicePlan> {
  const sourceInfo = request.sourceInfo ?? await resolveTable(source, request.table, 'source');
  const targetInfo = request.targetInfo ?? await resolveTable(target, request.table, 'target');
  const { column, type } = await resolveTimeColumn(source, sourceInfo, request.timeColumn ?? request.table.column);
  const targetType = await resolveTimeColumn(target, targetInfo, column).then((t) => t.type);
  const from = request.from === undefined || isInfinite(request.from) ? lowestValue(type) : request.from;
  const { until } = request;
  const name = displayName(sourceInfo.name);
  const ordered = await source.query<{ ok: boolean }>(`SELECT ${castParam(1, type)} < ${castParam(2, type)} AS ok`, [from, until]);
  if (!ordered.rows[0]?.ok) {
    throw new UsageError(`The backfill range of ${name} is empty: --from ${from} is not before --until ${until}.`, {
      hint: 'Give a --from earlier than the completion point, or leave --from out to start at the first row.',
    });
  }
  const warnings: string[] = [];
  const stats = await timeColumnStats(source, sourceInfo, column, type);
  // ±infinity rows (or sentinels) say nothing about where the data is: use the finite extremes.
  const minText = stats.minText !== undefined && isInfinite(stats.minText) ? await finiteBound(source, sourceInfo, column, type, 'min') : stats.minText;
  const maxText = stats.maxText !== undefined && isInfinite(stats.maxText) ? await finiteBound(source, sourceInfo, column, type, 'max') : stats.maxText;
  const [fromAxis_, untilAxis, minAxis, maxAxis] = await toAxis(source,
    [request.from ?? '-infinity', until, minText ?? 'infinity', maxText ?? '-infinity'], type);
  const base = { table: request.table, column, type, targetType, from, until, warnings };
  const lower = maxDefined(fromAxis_, minAxis);
  const upper = untilAxis !== undefined && maxAxis !== undefined && maxAxis + 1n < untilAxis ? maxAxis + 1n : untilAxis;
  if (lower === undefined || upper === undefined || lower >= upper) {
    // No rows in the range on the source: one slice still clears the range on the target.
    return { ...base, alignment: 'one slice (no source rows in the range)', estimatedFrom: 'the time column\'s range',
      slices: [{ start: from, end: until, estRows: 0 }], estimatedRows: 0 };
  }
  const model = await rowModel(source, sourceInfo, column, type, { lower, upper, min: minAxis ?? lower, max: maxAxis ?? upper });
  warnings.push(...model.warnings);
  const { estimate } = model;
  let points: bigint[];
  let alignment: string;
  if (request.slice !== undefined) {
    points = gridPoints(lower, upper, await sliceWidth(source, request.slice, type));
    alignment = `--slice ${request.slice}`;
  } else {
    const dim = targetInfo.hypertable?.column === column && targetInfo.hypertable.interval !== undefined
      ? await intervalOnAxis(target, targetInfo.hypertable.interval, type) : undefined;
    if (dim !== undefined) {
      points = gridPoints(lower, upper, dim);
      alignment = `the target's chunks (${targetInfo.hypertable?.interval})`;
    } else if (model.chunkEdges) {
      // No target chunks to follow: the source's own chunk edges are where its rows change density.
      points = model.chunkEdges;
      alignment = "the source's chunks";
    } else {
      points = gridPoints(lower, upper, chooseWidth(upper - lower, estimate(lower, upper), axisKind(type), request.targetRows));
      alignment = 'estimated row counts';
    }
  }
  let cells = cellsFor(lower, upper, points, estimate);
  const targetRows = request.targetRows ?? DEFAULT_TARGET_ROWS;
  cells = request.slice === undefined ? sizeCells(cells, { targetRows, estimate }) : mergeEmptyRuns(cells, targetRows);
  const edges = await fromAxis(source, cells.slice(1).map((c) => c.lo), type);
  const slices: PlannedSlice[] = cells.map((cell, i) => ({
    start: i === 0 ? from : edges[i - 1] as string,
    end: i === cells.length - 1 ? until : edges[i] as string,
    estRows: Math.round(cell.est),
  }));
  return { ...base, alignment, estimatedFrom: model.from, slices, estimatedRows: slices.reduce((sum, s) => sum + s.estRows, 0) };
}

interface RowModel {
  estimate: (lo: bigint, hi: bigint) => number;
  /** Where the estimates come from, for messages. */
  from: string;
  /** A hypertable source's chunk edges inside the range. */
  chunkEdges?: bigint[];
  warnings: string[];
}

/**
 * Row estimates along the axis. A hypertable source partitioned on this column is counted chunk by
 * chunk (core/chunk-rows.ts), compressed rows included: its planner statistics miss every compressed
 * row, so all compressed history would otherwise look like a handful of rows and become one slice.
 * Other tables use the planner statistics.
 */
async function rowModel(client: Client, info: TableInfo, column: string, type: TimeType,
  range: { lower: bigint; upper: bigint; min: bigint; max: bigint }): Promise<RowModel> {
  const counted = info.hypertable?.column === column ? await readHypertableRows(client, info) : undefined;
  if (!counted || counted.chunks.length === 0) {
    const dist = await readDistribution(client, info, column, type, { lo: Number(range.min), hi: Number(range.max) });
    return { estimate: (lo, hi) => estimateRows(dist, Number(lo), Number(hi)), from: 'planner statistics', warnings: [] };
  }
  const kind = axisKind(type);
  // Time dimensions' edges come as timestamptz text (TimescaleDB's microseconds), integer ones as
  // integers (read here: an edge may lie outside a smallint's range, where a cast would fail).
  const texts = kind === 'integer' ? [] : counted.chunks.flatMap((c) => [c.start, c.end]).filter((t): t is string => t !== undefined);
  const axes = await toAxis(client, texts, 'timestamp with time zone');
  const positions = new Map(texts.map((text, i) => [text, axes[i]]));
  const onAxis = (text: string | undefined): bigint | undefined => {
    if (text === undefined) return undefined;
    const micros = kind === 'integer' ? BigInt(text) : positions.get(text);
    return micros === undefined ? undefined : microsToAxis(micros, kind);
  };
  const chunks = counted.chunks.map((c) => ({ lo: onAxis(c.start), hi: onAxis(c.end), rows: c.heapRows + c.compressedRows }));
  const estimate = rangeEstimator(clipToData(chunks, range.min, range.max + 1n));
  const warnings = counted.unknownCompressed === 0 ? [] : [`${displayName(info.name)}: ${counted.unknownCompressed} compressed ` +
    'chunk(s) have no row count that migrate can read (_timescaledb_catalog.compression_chunk_size); their rows are left out of ' +
    'the estimates, so the slices over them may be large.'];
  const compressed = counted.compressedTotal > 0 ? `, ~${Math.round(counted.compressedTotal).toLocaleString('en-US')} rows compressed` : '';
  return { estimate, from: `the source's chunks: ${counted.chunks.length}${compressed}`,
    chunkEdges: innerEdges(chunks, range.lower, range.upper), warnings };
}

function maxDefined(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/** The smallest (largest) finite value: by the index when there is one, else the statistics' histogram. */
async function finiteBound(client: Client, info: TableInfo, column: string, type: TimeType, which: 'min' | 'max'): Promise<string | undefined> {
  const col = quoteIdent(column);
  const indexed = hasTimeIndex(info, column);
  const { rows } = indexed
    ? await client.query<{ v: string | null }>(`SELECT ${which}(${col})::text AS v FROM ${quoteQualified(info.name)} WHERE isfinite(${col})`)
    : await client.query<{ v: string | null }>(
      `SELECT ${which}(v)::text AS v FROM pg_stats s, unnest(s.histogram_bounds::text::${type}[]) v
        WHERE s.schemaname = $1 AND s.tablename = $2 AND s.attname = $3 AND isfinite(v)`, [info.name.schema, info.name.table, column]);
  return rows[0]?.v ?? undefined;
}

/** The source's statistics for the column, on the axis. `span` is where rows the statistics miss go. */
async function readDistribution(client: Client, info: TableInfo, column: string, type: TimeType,
  span: { lo: number; hi: number }): Promise<Distribution> {
  const finite = isIntegerTimeType(type) ? 'true' : 'isfinite(v)';
  const { rows } = await client.query<{ null_frac: number; hist: string[] | null; mcv: string[] | null; freqs: number[] | null }>(
    `SELECT s.null_frac::float8 AS null_frac,
            (SELECT array_agg(${toAxisSql('v', type)}::text ORDER BY o)
               FROM unnest(s.histogram_bounds::text::${type}[]) WITH ORDINALITY h(v, o) WHERE ${finite}) AS hist,
            (SELECT array_agg(${toAxisSql('v', type)}::text ORDER BY o)
               FROM unnest(s.most_common_vals::text::${type}[], s.most_common_freqs) WITH ORDINALITY m(v, f, o) WHERE ${finite}) AS mcv,
            (SELECT array_agg(f::float8 ORDER BY o)
               FROM unnest(s.most_common_vals::text::${type}[], s.most_common_freqs) WITH ORDINALITY m(v, f, o) WHERE ${finite}) AS freqs
       FROM pg_stats s WHERE s.schemaname = $1 AND s.tablename = $2 AND s.attname = $3
      ORDER BY s.inherited DESC LIMIT 1`, [info.name.schema, info.name.table, column]);
  const explain = await client.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
    `EXPLAIN (FORMAT JSON) SELECT ${quoteIdent(column)} FROM ${quoteQualified(info.name)}`);
  const nowRows = Number(explain.rows[0]?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0);
  const row = rows[0];
  const histogram = (row?.hist ?? []).map(Number);
  const mcv = (row?.mcv ?? []).map((v, i) => ({ value: Number(v), freq: Number(row?.freqs?.[i] ?? 0) }));
  const nullFrac = Number(row?.null_frac ?? 0);
  const analyzed = histogram.length >= 2 || mcv.length > 0 ? Math.max(0, info.estimatedRows) : 0;
  const histHi = histogram[histogram.length - 1];
  // Rows added since ANALYZE are most likely newer than the histogram's last bound (time series grow
  // at the end); without statistics, assume the rows are spread evenly between min and max.
  const tailFrom = analyzed > 0 && histHi !== undefined && histHi < span.hi ? histHi : span.lo;
  return {
    analyzedRows: analyzed, nullFrac, histogram, mcv,
    extraRows: Math.max(0, nowRows - analyzed) * (1 - nullFrac),
    extraLo: tailFrom, extraHi: span.hi,
  };
}

/** One-line summary of a plan, for messages. */
export function describePlan(plan: SlicePlan): string {
  return `${displayName(plan.table)}: ${plan.slices.length} slice${plan.slices.length === 1 ? '' : 's'} over ` +
    `[${plan.from}, ${plan.until}) on ${plan.column} (${shortTypeName(plan.type)}), aligned to ${plan.alignment}, ` +
    `~${plan.estimatedRows.toLocaleString('en-US')} rows (estimated from ${plan.estimatedFrom})`;
}
