/**
 * Rows per chunk of a TimescaleDB hypertable, read from the catalogs only (no table scan).
 *
 * Planner statistics do not see the rows of compressed chunks: a compressed chunk's own heap is
 * empty (its rows live in a separate, much smaller compressed chunk), so `reltuples` summed over
 * the chunks, and the hypertable's histogram, leave out all compressed history. Here each chunk
 * counts both parts:
 * - its heap (the uncompressed rows, also those inserted into a compressed chunk since it was
 *   compressed: a "partially compressed" chunk), as the planner would estimate it: `reltuples`
 *   scaled to the heap's current size; a heap that was never analyzed gets the row density of its
 *   analyzed siblings (same columns, so about the same rows per page), else one from the column
 *   widths;
 * - its compressed rows: `numrows_pre_compression` in `_timescaledb_catalog.compression_chunk_size`,
 *   which compress_chunk records (the hypertable_compression_stats functions report bytes only).
 */
import type { Client } from './db.js';
import type { QualifiedName } from './identifiers.js';

export interface ChunkRows {
  /** The chunk's range on the time dimension as text: a timestamptz for timestamp, timestamptz and
   *  date columns (TimescaleDB keeps all three as UTC microseconds and shows them so), the value for
   *  integer columns. Undefined where the range is open (±infinity, the dimension's end of time). */
  start?: string;
  end?: string;
  /** Estimated rows in the chunk's heap (its uncompressed part). */
  heapRows: number;
  /** Rows in the compressed part (0 when the chunk is not compressed). */
  compressedRows: number;
  compressed: boolean;
  /** The heap was never analyzed: heapRows is a guess from the row density. */
  guessed: boolean;
  /** A compressed chunk whose row count the catalog does not give (not readable, or no entry). */
  compressedUnknown: boolean;
}

export interface HypertableRows {
  /** The hypertable's first (time) dimension column. */
  dimension: string;
  chunks: ChunkRows[];
  /** heapRows + compressedRows over all chunks. */
  total: number;
  compressedTotal: number;
  /** Chunks whose compressed rows are not counted (see ChunkRows.compressedUnknown). */
  unknownCompressed: number;
  /** Some heap was never analyzed. */
  guessed: boolean;
}

// The compressed rows, when the catalog lets us read them. A row count missing from an entry (a chunk
// compressed by a TimescaleDB before 2.0) is bounded by its batches: at most 1,000 rows each.
const COMPRESSED_ROWS = `(SELECT coalesce(s.numrows_pre_compression, s.numrows_post_compression * 1000)::float8
    FROM _timescaledb_catalog.chunk k JOIN _timescaledb_catalog.compression_chunk_size s ON s.chunk_id = k.id
   WHERE k.schema_name = ic.chunk_schema AND k.table_name = ic.chunk_name)`;

// The planner's density for a table without statistics (estimate_rel_size): the page minus its
// header (24 bytes), over the row width plus the tuple header (24) and line pointer (4).
const WIDTH_DENSITY = `(current_setting('block_size')::float8 - 24) / (28 + (
    SELECT coalesce(sum(CASE WHEN t.typlen > 0 THEN t.typlen ELSE 32 END), 0) FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = $3 AND a.attnum > 0 AND NOT a.attisdropped))`;

function chunksSql(catalogReadable: boolean): string {
  const edge = (which: 'start' | 'end'): string => `CASE WHEN ic.range_${which}_integer IS NOT NULL THEN ic.range_${which}_integer::text
              WHEN isfinite(ic.range_${which}) THEN ic.range_${which}::text END`;
  return `
    WITH chunk AS (
      SELECT ic.primary_dimension AS dimension, ${edge('start')} AS lo, ${edge('end')} AS hi, ic.is_compressed AS compressed,
             c.reltuples::float8 AS reltuples, c.relpages::float8 AS relpages,
             coalesce(pg_relation_size(c.oid), 0)::float8 / current_setting('block_size')::float8 AS pages,
             ${catalogReadable ? `CASE WHEN ic.is_compressed THEN ${COMPRESSED_ROWS} END` : 'NULL::float8'} AS compressed_rows
        FROM timescaledb_information.chunks ic
        JOIN pg_namespace n ON n.nspname = ic.chunk_schema
        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = ic.chunk_name
       WHERE ic.hypertable_schema = $1 AND ic.hypertable_name = $2
    ), density AS (
      SELECT coalesce(sum(reltuples) FILTER (WHERE reltuples > 0 AND relpages > 0)
                        / nullif(sum(relpages) FILTER (WHERE reltuples > 0 AND relpages > 0), 0), ${WIDTH_DENSITY}) AS per_page
        FROM chunk
    )
    SELECT dimension, lo, hi, compressed, compressed_rows,
           CASE WHEN pages = 0 THEN 0 WHEN reltuples >= 0 AND relpages > 0 THEN reltuples / relpages * pages
                ELSE pages * density.per_page END AS heap_rows,
           pages > 0 AND NOT (reltuples >= 0 AND relpages > 0) AS guessed
      FROM chunk, density`;
}

/** Whether the database has TimescaleDB and lets us read the chunk catalog (compressed row counts). */
async function catalogAccess(client: Client): Promise<{ views: boolean; catalog: boolean }> {
  const { rows } = await client.query<{ views: boolean; catalog: boolean }>(
    `SELECT to_regclass('timescaledb_information.chunks') IS NOT NULL AS views,
            coalesce((SELECT bool_and(has_table_privilege(r, 'SELECT'))
                        FROM unnest(ARRAY[to_regclass('_timescaledb_catalog.chunk'),
                                          to_regclass('_timescaledb_catalog.compression_chunk_size')]) r
                       WHERE r IS NOT NULL HAVING count(*) = 2), false) AS catalog`);
  return rows[0] ?? { views: false, catalog: false };
}

/**
 * Rows per chunk of the hypertable `table` (oid given to read its column widths); undefined when the
 * database has no TimescaleDB or the table is not a hypertable (no chunks at all gives an empty list).
 */
export async function readHypertableRows(client: Client, table: { name: QualifiedName; oid: number }): Promise<HypertableRows | undefined> {
  const access = await catalogAccess(client);
  if (!access.views) return undefined;
  const { rows: dims } = await client.query<{ column: string }>(
    `SELECT column_name AS column FROM timescaledb_information.dimensions
      WHERE hypertable_schema = $1 AND hypertable_name = $2 ORDER BY dimension_number LIMIT 1`, [table.name.schema, table.name.table]);
  const dimension = dims[0]?.column;
  if (dimension === undefined) return undefined;
  const { rows } = await client.query<{ lo: string | null; hi: string | null; compressed: boolean; compressed_rows: number | null;
    heap_rows: number; guessed: boolean }>(chunksSql(access.catalog), [table.name.schema, table.name.table, table.oid]);
  const chunks = rows.map((r): ChunkRows => ({
    ...(r.lo !== null ? { start: r.lo } : {}), ...(r.hi !== null ? { end: r.hi } : {}),
    heapRows: Number(r.heap_rows), compressedRows: Number(r.compressed_rows ?? 0), compressed: r.compressed,
    guessed: r.guessed, compressedUnknown: r.compressed && r.compressed_rows === null,
  }));
  const compressedTotal = chunks.reduce((sum, c) => sum + c.compressedRows, 0);
  return {
    dimension, chunks, compressedTotal,
    total: chunks.reduce((sum, c) => sum + c.heapRows, 0) + compressedTotal,
    unknownCompressed: chunks.filter((c) => c.compressedUnknown).length,
    guessed: chunks.some((c) => c.guessed),
  };
}
