/**
 * `validate --estimate`: the reference procedure's quick check. ANALYZE both sides, then compare
 * pg_class.reltuples (summed over a hypertable's chunks, or over a source tree's partitions or
 * children). Fast and approximate: it covers the whole table (not just [from, T)), a large table's
 * estimate comes from a sample, and a compressed chunk's reltuples do not count its rows, so the
 * check is refused when any chunk is compressed.
 */
import { resolveTable, type TableInfo } from '../core/catalog.js';
import type { TimeTablePair } from '../core/completion-points.js';
import type { StepContext } from '../core/context.js';
import type { Client } from '../core/db.js';
import { quoteQualified, type QualifiedName } from '../core/identifiers.js';

/** Estimates further apart than this (relative to the larger) count as a difference. */
export const ESTIMATE_TOLERANCE = 0.01;

export interface EstimateRow {
  table: string;
  source: number;
  target: number;
  /** |source - target| / max(source, target) */
  relativeDifference: number;
  status: 'match' | 'differs' | 'unusable';
  note?: string;
}

/** Compressed chunks of a hypertable on this side (0 without TimescaleDB or for a plain table). */
async function compressedChunks(client: Client, table: QualifiedName): Promise<number> {
  const { rows: ext } = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'");
  if (ext.length === 0) return 0;
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM timescaledb_information.chunks
      WHERE hypertable_schema = $1 AND hypertable_name = $2 AND is_compressed`, [table.schema, table.table]);
  return Number(rows[0]?.n ?? 0);
}

/**
 * ANALYZE a table so that reltuples is fresh wherever its rows are. ANALYZE of a partitioned table
 * visits its partitions, but ANALYZE of an inheritance parent leaves its children's reltuples as they were.
 */
async function analyzeTree(client: Client, table: TableInfo): Promise<void> {
  await client.query(`ANALYZE ${quoteQualified(table.name)}`);
  if (table.tree?.kind !== 'inheritance') return;
  for (const member of table.tree.members) await client.query(`ANALYZE ${quoteQualified(member)}`);
}

export async function estimateTable(source: Client, target: Client, pair: TimeTablePair, ctx: StepContext): Promise<EstimateRow> {
  const compressed = { source: await compressedChunks(source, pair.spec), target: await compressedChunks(target, pair.spec) };
  if (compressed.source > 0 || compressed.target > 0) {
    const where = [compressed.source > 0 ? `${compressed.source} on the source` : '', compressed.target > 0 ? `${compressed.target} on the target` : '']
      .filter(Boolean).join(' and ');
    return { table: pair.key, source: -1, target: -1, relativeDifference: 0, status: 'unusable',
      note: `${where} compressed chunk(s): their row estimates do not count compressed rows, so estimates cannot be compared` };
  }
  ctx.emit({ type: 'phase', id: `analyze-${pair.key}`, message: `ANALYZE ${pair.key} on both sides…` });
  await Promise.all([analyzeTree(source, pair.source), target.query(`ANALYZE ${quoteQualified(pair.spec)}`)]);
  ctx.emit({ type: 'done', id: `analyze-${pair.key}`, message: `Analyzed ${pair.key}.` });
  // resolveTable sums reltuples over chunks (hypertables) and the whole tree (partitioned tables, inheritance parents).
  const [s, t] = [(await resolveTable(source, pair.spec, 'source')).estimatedRows, (await resolveTable(target, pair.spec, 'target')).estimatedRows];
  const larger = Math.max(s, t);
  const relativeDifference = larger > 0 ? Math.abs(s - t) / larger : 0;
  return { table: pair.key, source: s, target: t, relativeDifference,
    status: relativeDifference > ESTIMATE_TOLERANCE ? 'differs' : 'match' };
}
