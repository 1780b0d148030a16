/**
 * `migrate candidates`: which source tables should become hypertables. A candidate is big enough
 * (--min-size) and has a time-like column; for each we suggest the time column and a chunk
 * interval, and list everything that would stop `create_hypertable` with the fix. Read-only.
 */
import { describeTable, resolveTable, resolveTimeColumn, type TableInfo, type TableTree } from '../core/catalog.js';
import { readHypertableRows } from '../core/chunk-rows.js';
import { suggestChunkInterval, type SuggestedInterval } from '../core/chunk-interval.js';
import type { StepContext } from '../core/context.js';
import { withClient, type Client } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { nullTimeBlocker, structuralBlockers, type Blocker } from '../core/hypertable-blockers.js';
import { quoteIdent, quoteQualified, type QualifiedName, type TableSpec } from '../core/identifiers.js';
import { SMALL_TABLE_BYTES, hasTimeIndex, rankTimeColumns, timeColumnStats, type TimeColumnStats } from '../core/time-column.js';
import { isIntegerTimeType, shortTypeName, type TimeType } from '../core/time-values.js';
import { countEdgeRows, rowCount, type EdgeRows } from './time-edge-rows.js';

export type { Blocker } from '../core/hypertable-blockers.js';

/** Default --min-size: smaller tables are cheaper to copy with the schema than to backfill. */
export const DEFAULT_MIN_BYTES = 10 * 1024 * 1024;

export interface Candidate {
  table: QualifiedName;
  totalBytes: number;
  /** pg_class.reltuples (a hypertable's chunks with their compressed rows), or an exact count for small
   *  never-analyzed tables; -1 = unknown (never analyzed). */
  estimatedRows: number;
  timeColumn?: { name: string; type: string; reason: string };
  otherTimeColumns: string[];
  chunkInterval?: { value: string; reason: string };
  /** Oldest and newest value of the time column (PostgreSQL text), and how we read them. */
  timeRange?: { min: string; max: string; method: string };
  blockers: Blocker[];
  /** Worth knowing, not blocking (e.g. foreign keys that reference the table). */
  warnings: Blocker[];
  notes: string[];
  /** Already a TimescaleDB hypertable on the source. */
  hypertable: boolean;
}

export interface CandidatesInput {
  /** Only tables at least this big (bytes, table + indexes + TOAST). Default DEFAULT_MIN_BYTES; ignored for `tables`. */
  minBytes?: number;
  /** Examine exactly these tables (each must exist), whatever their size. */
  tables?: TableSpec[];
  /** Whether the target's TimescaleDB lets foreign keys reference hypertables (2.16+); default true. */
  foreignKeysToHypertables?: boolean;
}

const UNITS: Record<string, number> = { b: 1, bytes: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3,
  g: 1024 ** 3, tb: 1024 ** 4, t: 1024 ** 4 };

/** "10MB", "1.5 GB", "0", "500kB" → bytes (powers of 1024, like pg_size_pretty). */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = match ? UNITS[(match[2] || 'b').toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new UsageError(`Cannot read the size ${JSON.stringify(text)}.`, { hint: 'Write it like 0, 500kB, 10MB or 2GB.' });
  }
  return Math.round(Number(match[1]) * factor);
}

/**
 * User tables on the source at least `minBytes` big. A tree (partitions at every level, inheritance
 * children and theirs, a hypertable's chunks) is one entry, its root, sized as a whole.
 */
async function listTables(client: Client, minBytes: number): Promise<number[]> {
  const { rows } = await client.query<{ oid: string }>(
    `SELECT oid::int8 AS oid FROM (
       SELECT c.oid, (WITH RECURSIVE tree(relid) AS (
                        SELECT c.oid UNION SELECT i.inhrelid FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid)
                      SELECT sum(pg_total_relation_size(relid)) FROM tree) AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
          AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND n.nspname NOT LIKE 'pg\\_temp%' AND n.nspname NOT LIKE '\\_timescaledb%'
          AND n.nspname NOT IN ('timescaledb_information', 'timescaledb_experimental', '_migrate')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                     AND d.deptype = 'e')) s
      WHERE bytes >= $1 ORDER BY bytes DESC, oid`, [minBytes]);
  return rows.map((r) => Number(r.oid));
}

export async function findCandidates(input: CandidatesInput, ctx: StepContext): Promise<Candidate[]> {
  return withClient(ctx.source, async (client) => {
    ctx.emit({ type: 'phase', id: 'candidates', message: 'Reading tables on the source' });
    const explicit = input.tables !== undefined && input.tables.length > 0;
    const tables: { info: TableInfo; column?: string }[] = [];
    if (explicit) {
      for (const spec of input.tables ?? []) {
        const info = await resolveTable(client, spec, 'source');
        tables.push(spec.column === undefined ? { info } : { info, column: spec.column });
      }
    } else {
      for (const oid of await listTables(client, input.minBytes ?? DEFAULT_MIN_BYTES)) {
        tables.push({ info: await describeTable(client, oid) });
      }
    }
    const result: Candidate[] = [];
    for (const { info, column } of tables) {
      if (ctx.signal.aborted) break;
      const candidate = await examine(client, info, column, explicit, input.foreignKeysToHypertables ?? true);
      if (candidate) result.push(candidate);
    }
    result.sort((a, b) => b.totalBytes - a.totalBytes || quoteQualified(a.table).localeCompare(quoteQualified(b.table)));
    ctx.emit({ type: 'done', id: 'candidates', message: `${result.length} hypertable candidate(s) found` });
    return result;
  });
}

async function examine(client: Client, table: TableInfo, column: string | undefined, explicit: boolean,
  foreignKeysToHypertables: boolean): Promise<Candidate | undefined> {
  const ranked = rankTimeColumns(table);
  let time: { column: string; type: TimeType; reason: string } | undefined;
  if (column !== undefined || table.hypertable) {
    const resolved = await resolveTimeColumn(client, table, column);
    const rank = ranked.find((r) => r.column.name === resolved.column);
    const why = column !== undefined ? 'named with --table' : 'the hypertable\'s time dimension';
    time = { ...resolved, reason: [why, ...(rank?.reasons ?? [])].join(', ') };
  } else if (ranked[0]) {
    time = { column: ranked[0].column.name, type: ranked[0].type, reason: ranked[0].reasons.join(', ') };
  }
  // Without --table, a table with no time-like column is simply not a candidate.
  if (!time && !explicit) return undefined;
  const notes: string[] = [];
  const rows = await rowEstimate(client, table, notes);
  if (table.estimatedRows < 0 && rows >= 0) notes.push('never analyzed: rows counted exactly (small table)');
  else if (rows < 0) {
    notes.push(`never analyzed, so the row count is unknown: run ANALYZE ${quoteQualified(table.name)}; for estimates`);
  }
  const { blockers, warnings } = structuralBlockers(table, time?.column, { foreignKeysToHypertables, treeBecomesOneTable: true });
  if (table.tree) notes.push(treeNote(table.tree));
  const candidate: Candidate = {
    table: table.name, totalBytes: table.totalBytes, estimatedRows: rows,
    otherTimeColumns: ranked.map((r) => r.column.name).filter((n) => n !== time?.column),
    blockers, warnings, notes, hypertable: table.hypertable !== undefined,
  };
  if (table.hypertable) notes.push('already a hypertable on the source');
  if (time) {
    candidate.timeColumn = { name: time.column, type: shortTypeName(time.type), reason: time.reason };
    const domain = table.columns.find((c) => c.name === time?.column && c.baseType !== undefined);
    if (domain) {
      notes.push(`${time.column} has the domain type ${domain.type} over ${shortTypeName(time.type)}: on the target it will have ` +
        `the base type ${shortTypeName(time.type)}`);
    }
    const stats = await timeColumnStats(client, table, time.column, time.type);
    if (stats.minText !== undefined && stats.maxText !== undefined) {
      candidate.timeRange = { min: stats.minText, max: stats.maxText, method: stats.method };
    }
    const nullable = !table.columns.find((c) => c.name === time?.column)?.notNull;
    if (stats.hasNulls) blockers.push(nullTimeBlocker(table, time.column));
    else if (nullable && stats.hasNulls === false) notes.push(`${time.column} is nullable but has no NULLs; create_hypertable makes it NOT NULL`);
    else if (nullable) notes.push(`${time.column} is nullable and the table is too big to check for NULLs cheaply`);
    if (!isIntegerTimeType(time.type) && (hasTimeIndex(table, time.column) || table.totalBytes <= SMALL_TABLE_BYTES)) {
      warnings.push(...infiniteTimeWarnings(table, time.column, await countEdgeRows(client, table, time.column, time.type)));
    }
    const interval = table.hypertable?.interval !== undefined
      ? { value: table.hypertable.interval, reason: 'the hypertable\'s current chunk interval on the source' }
      : intervalFromStats(stats, time.type, rows, table.totalBytes);
    if (interval) candidate.chunkInterval = interval;
    else notes.push('cannot tell the units of the integer time column: choose --chunk-interval yourself');
  }
  return candidate;
}

/** What happens to a tree: one table in its place; the numbers above are the whole tree's. */
function treeNote(tree: TableTree): string {
  const members = tree.kind === 'partitions'
    ? `${tree.members.length} partition${tree.members.length === 1 ? '' : 's'}` +
      (tree.depth > 1 ? ` over ${tree.depth} levels (sub-partitioned; ${tree.leaves} hold rows)` : '') +
      (tree.defaultPartitions > 0 ? `, ${tree.defaultPartitions === 1 ? 'a default partition' : `${tree.defaultPartitions} default partitions`} included` : '')
    : `${tree.members.length} inheritance ${tree.members.length === 1 ? 'child' : 'children'}` +
      (tree.depth > 1 ? ` over ${tree.depth} levels` : '');
  const what = tree.kind === 'partitions' ? `partitioned by ${tree.partitionKey ?? '(unknown key)'} into ${members}` : `parent of ${members}`;
  return `${what}: the target gets one plain table (then a hypertable) in place of the tree; size, rows and time span ` +
    'are the whole tree\'s, and the backfill and validate read every ' +
    `${tree.kind === 'partitions' ? 'partition' : 'child'} through the parent`;
}

/** Rows at ±infinity: the backfill refuses them until the operator decides (time-edge-rows.ts). */
function infiniteTimeWarnings(table: TableInfo, column: string, edges: EdgeRows): Blocker[] {
  const where = (v: string): string => `SELECT * FROM ${quoteQualified(table.name)} WHERE ${quoteIdent(column)} = '${v}';`;
  const warnings: Blocker[] = [];
  if (edges.plusInfinity > 0) {
    warnings.push({ kind: 'infinite-time', message: `${rowCount(edges.plusInfinity)} with ${column} = +infinity: they lie after every ` +
      'completion point, so neither the backfill nor dual-writes bring them.',
    fix: `Copy them with \`migrate backfill --include-infinity\`, or change them on the source (${where('infinity')})` });
  }
  if (edges.minusInfinity > 0) {
    warnings.push({ kind: 'infinite-time', message: `${rowCount(edges.minusInfinity)} with ${column} = -infinity, which a ` +
      'hypertable cannot store.', fix: `Change or delete them on the source (${where('-infinity')}), or backfill with --from after them.` });
  }
  return warnings;
}

/**
 * reltuples, or an exact count when a small table was never analyzed (or looks empty); -1 = unknown.
 * A hypertable is counted chunk by chunk with its compressed rows, which reltuples leaves out.
 */
async function rowEstimate(client: Client, table: TableInfo, notes: string[] = []): Promise<number> {
  const small = table.totalBytes <= SMALL_TABLE_BYTES;
  const chunks = table.hypertable ? await readHypertableRows(client, table) : undefined;
  if (chunks) {
    // A small hypertable that looks empty or has a chunk never analyzed is counted exactly below.
    if (!small || (chunks.total > 0 && !chunks.guessed)) {
      if (chunks.compressedTotal > 0) {
        notes.push(`~${Math.round(chunks.compressedTotal).toLocaleString('en-US')} of the rows are in compressed chunks ` +
          '(counted from TimescaleDB\'s compression statistics)');
      }
      if (chunks.unknownCompressed > 0) notes.push(`${chunks.unknownCompressed} compressed chunk(s) have no readable row count; their rows are not counted`);
      return Math.round(chunks.total);
    }
  } else if (table.estimatedRows > 0 || !small) {
    return table.estimatedRows;
  }
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(table.name)}`);
  return Number(rows[0]?.n ?? 0);
}

function intervalFromStats(stats: TimeColumnStats, type: TimeType, rows: number, bytes: number): SuggestedInterval | undefined {
  return suggestChunkInterval({ type, rows: Math.max(rows, 0), bytes,
    ...(stats.min !== undefined ? { min: stats.min } : {}), ...(stats.max !== undefined ? { max: stats.max } : {}) });
}

/**
 * A chunk interval for one table from its data (used by `hypertables` when the source is reachable,
 * or for rows already in the target). Undefined when the data says nothing (integer units unknown).
 */
export async function suggestIntervalFromData(client: Client, table: TableInfo, column: string, type: TimeType):
  Promise<SuggestedInterval | undefined> {
  const rows = await rowEstimate(client, table);
  if (rows <= 0) return undefined;
  return intervalFromStats(await timeColumnStats(client, table, column, type), type, rows, table.totalBytes);
}
