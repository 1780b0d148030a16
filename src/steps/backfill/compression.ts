/**
 * Chunks that are compressed on a TimescaleDB source end compressed on the target (issue #9.2).
 *
 * The backfill writes rows, and rows land uncompressed; only a compression policy would compress
 * them again, at its next run — and a hypertable compressed by hand has none. So each source chunk
 * that is compressed (fully or partially) and lies wholly below T names a time range to compress on
 * the target: as soon as the last slice overlapping it commits, the worker that committed it
 * compresses the target's chunks inside that range (in their own transaction, while the other
 * workers go on copying), and once every slice is done a sweep compresses whatever a crash or a
 * failure left uncompressed. compress_chunk on a partially compressed chunk compresses the rest.
 *
 * Exactly-once is untouched: a slice whose target chunk is already compressed (a re-run with
 * --redo, `validate --repair`) has it decompressed before the workers start (index.ts), and
 * compressed again here when its slices are done.
 */
import type { Emit } from '../../core/context.js';
import type { Client } from '../../core/db.js';
import { describeError } from '../../core/errors.js';
import { displayName, quoteQualified, type QualifiedName } from '../../core/identifiers.js';
import { castParam, isIntegerTimeType, type TimeType } from '../../core/time-values.js';
import type { LedgerPlan } from './ledger.js';
import { timescaleSchema } from './policies.js';

export interface TimeRange {
  start: string;
  end: string;
  /**
   * With space partitions several chunks share a time range, and the source may have compressed only
   * some of them: each compressed one's slices in the other dimensions ("device:-9223372036854775808:
   * 1073741823"), '' for a hypertable without them. The target's chunk with the same slices is the one
   * to compress (hash partitions are cut alike on both sides for the same number of partitions).
   */
  partitions: string[];
}

/**
 * A chunk's slices in the dimensions other than the first (time) one, in a stable order; '' when it
 * has none. `chunkIdSql` yields the _timescaledb_catalog.chunk id.
 */
function partitionKeySql(chunkIdSql: string): string {
  return `coalesce((SELECT string_agg(d.column_name || ':' || ds.range_start || ':' || ds.range_end, ',' ORDER BY d.column_name)
      FROM _timescaledb_catalog.chunk_constraint cc
      JOIN _timescaledb_catalog.dimension_slice ds ON ds.id = cc.dimension_slice_id
      JOIN _timescaledb_catalog.dimension d ON d.id = ds.dimension_id
     WHERE cc.chunk_id = ${chunkIdSql}
       AND d.id <> (SELECT min(d0.id) FROM _timescaledb_catalog.dimension d0 WHERE d0.hypertable_id = d.hypertable_id)), '')`;
}

/** Source chunk ranges of this plan's table that are compressed and lie wholly inside [from, until). */
export async function sourceCompressedRanges(source: Client, plan: Pick<LedgerPlan, 'table' | 'type' | 'from' | 'until'>):
  Promise<TimeRange[]> {
  if (!(await timescaleSchema(source))) return [];
  const integer = isIntegerTimeType(plan.type);
  const [lo, hi] = integer ? ['range_start_integer', 'range_end_integer'] : ['range_start', 'range_end'];
  const cast = integer ? 'bigint' : 'timestamptz';
  // Bounds compared as the chunk view's types; the result is text of the column's own type.
  const { rows } = await source.query<{ start: string; end: string; partitions: string[] }>(
    `SELECT ${lo}::${plan.type}::text AS start, ${hi}::${plan.type}::text AS end,
            array_agg(${partitionKeySql('k.id')} ORDER BY k.id) AS partitions
       FROM timescaledb_information.chunks c
       JOIN _timescaledb_catalog.chunk k ON k.schema_name = c.chunk_schema AND k.table_name = c.chunk_name
      WHERE c.hypertable_schema = $1 AND c.hypertable_name = $2 AND c.is_compressed
        AND ${lo} >= $3::${plan.type}::${cast} AND ${hi} <= $4::${plan.type}::${cast}
      GROUP BY ${lo}, ${hi} ORDER BY ${lo}`, [plan.table.schema, plan.table.table, plan.from, plan.until]);
  return rows.map((r) => ({ start: r.start, end: r.end, partitions: r.partitions }));
}

/** Compress the target's chunks inside [start, end) that are compressed on the source; returns those it compressed. */
async function compressRange(client: Client, table: QualifiedName, type: TimeType, range: TimeRange): Promise<string[]> {
  const schema = await timescaleSchema(client);
  if (!schema) return [];
  // Not compressed, or partially (rows written into it since: status bit 8): compress_chunk compresses the rest.
  const { rows } = await client.query<{ chunk: string }>(
    `SELECT c::text AS chunk FROM ${schema}.show_chunks($1::regclass, older_than => ${castParam(3, type)},
       newer_than => ${castParam(2, type)}) c
       JOIN _timescaledb_catalog.chunk k ON format('%I.%I', k.schema_name, k.table_name)::regclass = c
      WHERE ${partitionKeySql('k.id')} = ANY($4::text[]) AND (k.status & 1 = 0 OR k.status & 8 <> 0)
      ORDER BY k.id`, [quoteQualified(table), range.start, range.end, range.partitions]);
  const compressed: string[] = [];
  for (const { chunk } of rows) {
    await client.query(`SELECT ${schema}.compress_chunk($1::regclass, if_not_compressed => true)`, [chunk]);
    compressed.push(chunk);
  }
  return compressed;
}

/** Whether every slice of the plan overlapping the range is done. */
async function rangeDone(client: Client, plan: LedgerPlan, range: TimeRange): Promise<boolean> {
  const t = plan.type;
  const { rows } = await client.query<{ open: string }>(
    `SELECT count(*) AS open FROM _migrate.backfill_slice WHERE schema_name = $1 AND table_name = $2 AND status <> 'done'
        AND range_start::${t} < ${castParam(4, t)} AND range_end::${t} > ${castParam(3, t)}`,
    [plan.table.schema, plan.table.table, range.start, range.end]);
  return Number(rows[0]?.open ?? 1) === 0;
}

async function overlaps(client: Client, type: TimeType, range: TimeRange, start: string, end: string): Promise<boolean> {
  const { rows } = await client.query<{ yes: boolean }>(
    `SELECT ${castParam(1, type)} < ${castParam(4, type)} AND ${castParam(2, type)} > ${castParam(3, type)} AS yes`,
    [range.start, range.end, start, end]);
  return Boolean(rows[0]?.yes);
}

/** Shared by the workers of one run: which ranges to compress, and what was compressed. */
export class ChunkCompressor {
  /** Per table (displayName): the target chunks compressed by this run. */
  readonly compressed = new Map<string, string[]>();
  readonly failures: string[] = [];
  private readonly finished = new Set<string>();

  constructor(private readonly ranges: Map<string, TimeRange[]>, private readonly emit: Emit) {}

  get empty(): boolean {
    return [...this.ranges.values()].every((r) => r.length === 0);
  }

  /** After a slice committed: compress each range it completed. Never throws (the sweep tries again). */
  async afterSlice(client: Client, plan: LedgerPlan, start: string, end: string): Promise<void> {
    for (const range of this.ranges.get(displayName(plan.table)) ?? []) {
      if (this.finished.has(key(plan, range))) continue;
      try {
        if (!(await overlaps(client, plan.type, range, start, end)) || !(await rangeDone(client, plan, range))) continue;
        await this.compress(client, plan, range);
      } catch (error) {
        this.emit({ type: 'warn', message: `Compressing the chunks of ${displayName(plan.table)} in [${range.start}, ${range.end}) ` +
          `failed: ${describeError(error).split('\n')[0]}; tried again when every slice is done.` });
      }
    }
  }

  /** Once every slice is done: compress every range not compressed yet. */
  async sweep(client: Client, plans: LedgerPlan[]): Promise<void> {
    for (const plan of plans) {
      for (const range of this.ranges.get(displayName(plan.table)) ?? []) {
        if (this.finished.has(key(plan, range)) || !(await rangeDone(client, plan, range))) continue;
        try {
          await this.compress(client, plan, range);
        } catch (error) {
          const reason = `${displayName(plan.table)} [${range.start}, ${range.end}): ${describeError(error).split('\n')[0]}`;
          this.failures.push(reason);
          this.emit({ type: 'warn', message: `Could not compress the chunks of ${reason}. The rows are all there; compress them ` +
            'with compress_chunk, or let a compression policy do it.' });
        }
      }
    }
  }

  private async compress(client: Client, plan: LedgerPlan, range: TimeRange): Promise<void> {
    const chunks = await compressRange(client, plan.table, plan.targetType, range);
    this.finished.add(key(plan, range));
    if (chunks.length === 0) return;
    const table = displayName(plan.table);
    this.compressed.set(table, [...(this.compressed.get(table) ?? []), ...chunks]);
    this.emit({ type: 'info', message: `Compressed ${chunks.join(', ')} of ${table} ([${range.start}, ${range.end}) is compressed on ` +
      'the source, and every slice in it is done).' });
  }
}

function key(plan: LedgerPlan, range: TimeRange): string {
  return `${displayName(plan.table)} ${range.start}`;
}
