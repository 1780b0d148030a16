/**
 * Plain tables in `migrate validate`: the tables `migrate schema` copied with their data, i.e. every
 * user table but the time tables (and everything TimescaleDB, extensions or `_migrate` own). Each is
 * compared whole: row count and content checksum over the shared columns, computed inside each
 * database in one pass with the time tables' row hashing and casts (validate-checksums.ts); the
 * caller holds each side in one snapshot. Tables on one side only are counted and reported too.
 *
 * The results never make validate exit 3: while the application dual-writes, a plain table it writes
 * may differ. They must match once writes to the source have stopped, right before the switch-over.
 */
import { readColumns, readDescendants } from '../core/catalog.js';
import { readCompletionPoints } from '../core/completion-points.js';
import type { StepContext } from '../core/context.js';
import type { Client } from '../core/db.js';
import { InterruptedError, describeError, isPgError } from '../core/errors.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { LEDGER_SCHEMA } from './backfill/ledger.js';
import { USER_RELATION, readTimescale } from './schema-catalog.js';
import { partmanConfigTables, partmanKey } from './schema-trees.js';
import { castTowardsTarget, columnWarnings, hashColumns, sameFigures, tableChecksum } from './validate-checksums.js';

export interface PlainTableValidation {
  table: string;
  /** null: the table is not on that side (or could not be read: see error). */
  rows: { source: number | null; target: number | null };
  status: 'match' | 'differ' | 'source-only' | 'target-only' | 'error';
  /** For 'differ', as for slices: missing-rows (target has fewer), extra-rows (more), changed-rows (same count). */
  kind?: 'missing-rows' | 'extra-rows' | 'changed-rows';
  /** Columns left out (on one side only) or cast to compare them. */
  warnings: string[];
  /** For 'error': what the database said; the other tables were still compared. */
  error?: string;
}

export interface PlainTablesSummary {
  tables: number;
  match: number;
  differ: number;
  sourceOnly: number;
  targetOnly: number;
  errors: number;
}

interface Listed extends QualifiedName {
  oid: number;
  /** Declaratively partitioned: its rows are its partitions'. Otherwise only its own rows (ONLY). */
  partitioned: boolean;
  bytes: number;
}

/** Compare every plain table; `source` and `target` are each inside one read-only snapshot. */
export async function comparePlainTables(source: Client, target: Client, validated: QualifiedName[], ctx: StepContext):
  Promise<PlainTableValidation[]> {
  const timeTables = await timeTablesOf(source, target, validated, ctx.dir);
  const onSource = await listPlainTables(source, timeTables);
  const sourceSchemas = new Set((await source.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace')).rows.map((r) => r.name));
  // A target table in a schema the source does not have was not migrated (not ours to report).
  const onTarget = (await listPlainTables(target, timeTables)).filter((t) => sourceSchemas.has(t.schema));
  const pairs = new Map<string, { source?: Listed; target?: Listed }>();
  for (const t of onSource) pairs.set(displayName(t), { source: t });
  for (const t of onTarget) pairs.set(displayName(t), { ...pairs.get(displayName(t)), target: t });
  const keys = [...pairs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const leftOut = await partmanRowsLeftOut(source, timeTables);
  ctx.emit({ type: 'phase', id: 'validate-plain', message: `Comparing ${keys.length} plain table(s) on both sides…` });
  const results: PlainTableValidation[] = [];
  const done = { rows: 0, bytes: 0 };
  for (const [i, key] of keys.entries()) {
    if (ctx.signal.aborted) {
      throw new InterruptedError(`Stopped while comparing plain tables (${i} of ${keys.length} done); nothing was changed.`, {
        hint: 'Run `migrate validate` again; --no-plain-tables compares the time tables only.',
      });
    }
    ctx.emit({ type: 'progress', id: 'validate-plain', table: key, rowsDone: done.rows, bytesDone: done.bytes,
      message: `table ${i + 1}/${keys.length}` });
    const pair = pairs.get(key) ?? {};
    const result = await compareTable(source, target, key, pair, leftOut.get(key));
    results.push(result);
    done.rows += result.rows.source ?? result.rows.target ?? 0;
    done.bytes += pair.source?.bytes ?? pair.target?.bytes ?? 0;
  }
  ctx.emit({ type: 'done', id: 'validate-plain', message: `Plain tables: ${describePlainTables(summarizePlainTables(results))}.` });
  return results;
}

export function summarizePlainTables(tables: PlainTableValidation[]): PlainTablesSummary {
  const count = (status: PlainTableValidation['status']): number => tables.filter((t) => t.status === status).length;
  return { tables: tables.length, match: count('match'), differ: count('differ'), sourceOnly: count('source-only'),
    targetOnly: count('target-only'), errors: count('error') };
}

/** "12 match, 2 differ, 1 only on the source" */
export function describePlainTables(s: PlainTablesSummary): string {
  if (s.tables === 0) return 'none';
  const parts = [`${s.match} match`, s.differ > 0 ? `${s.differ} differ` : '', s.sourceOnly > 0 ? `${s.sourceOnly} only on the source` : '',
    s.targetOnly > 0 ? `${s.targetOnly} only on the target` : '', s.errors > 0 ? `${s.errors} could not be read` : ''];
  return parts.filter(Boolean).join(', ');
}

/**
 * pg_partman's configuration rows for the time tables' trees (and their partitions): `migrate schema`
 * leaves them out of the target on purpose (schema-trees.ts), so the source's are not compared.
 * By config table (displayName): the key column and the keys.
 */
async function partmanRowsLeftOut(source: Client, timeTables: QualifiedName[]): Promise<Map<string, LeftOut>> {
  const leftOut = new Map<string, LeftOut>();
  const configs = await partmanConfigTables(source);
  if (configs.length === 0) return leftOut;
  const keys: string[] = [];
  for (const table of timeTables) {
    const { rows } = await source.query<{ oid: number | null }>('SELECT to_regclass($1)::oid::int8 AS oid', [quoteQualified(table)]);
    const oid = rows[0]?.oid;
    const members = oid == null ? [] : await readDescendants(source, Number(oid));
    // Only trees: the schema step leaves out the rows of the trees it turns into one table.
    if (members.length > 0) keys.push(partmanKey(table), ...members.map(partmanKey));
  }
  for (const config of configs) leftOut.set(displayName(config.table), { column: config.column, keys });
  return leftOut;
}

interface LeftOut { column: string; keys: string[] }

async function compareTable(source: Client, target: Client, table: string, pair: { source?: Listed; target?: Listed },
  leftOut?: LeftOut): Promise<PlainTableValidation> {
  const s = pair.source;
  const t = pair.target;
  if (!s || !t) {
    const present = (s ?? t) as Listed;
    const counted = await attempt(s ? source : target, () => countRows(s ? source : target, present));
    const rows = 'value' in counted ? counted.value : null;
    return { table, rows: { source: s ? rows : null, target: t ? rows : null }, warnings: [],
      ...('error' in counted ? { status: 'error', error: counted.error } : { status: s ? 'source-only' : 'target-only' }) };
  }
  const targetColumns = await readColumns(target, t.oid);
  const columns = hashColumns(await readColumns(source, s.oid), targetColumns);
  await castTowardsTarget(source, columns, targetColumns);
  const [a, b] = await Promise.all([
    attempt(source, () => tableChecksum(source, { table: s, columns, side: 'source' }, !s.partitioned, leftOut
      ? { where: `${quoteIdent(leftOut.column)}::text <> ALL($1::text[])`, params: [leftOut.keys] } : undefined)),
    attempt(target, () => tableChecksum(target, { table: t, columns, side: 'target' }, !t.partitioned))]);
  const warnings = columnWarnings(columns);
  if (leftOut) warnings.push('the source\'s pg_partman rows for the migrated tables are not compared (migrate schema leaves them out)');
  const rows = { source: 'value' in a ? a.value.rows : null, target: 'value' in b ? b.value.rows : null };
  if (!('value' in a) || !('value' in b)) {
    const error = ['error' in a ? `on the source: ${a.error}` : '', 'error' in b ? `on the target: ${b.error}` : ''].filter(Boolean).join('; ');
    return { table, rows, status: 'error', warnings, error };
  }
  if (sameFigures(a.value, b.value)) return { table, rows, status: 'match', warnings };
  const kind = b.value.rows < a.value.rows ? 'missing-rows' : b.value.rows > a.value.rows ? 'extra-rows' : 'changed-rows';
  return { table, rows, status: 'differ', kind, warnings };
}

async function countRows(client: Client, table: Listed): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*)::int8 AS n FROM ${table.partitioned ? '' : 'ONLY '}${quoteQualified(table)}`);
  return Number(rows[0]?.n ?? 0);
}

/**
 * One table's query in a savepoint: a table this user may not read (or a cast its data refuses) is
 * reported for that table, and the snapshot carries on for the others. Lost connections still end the run.
 */
async function attempt<T>(client: Client, work: () => Promise<T>): Promise<{ value: T } | { error: string }> {
  await client.query('SAVEPOINT migrate_plain_table');
  try {
    const value = await work();
    await client.query('RELEASE SAVEPOINT migrate_plain_table');
    return { value };
  } catch (error) {
    if (!isPgError(error)) throw error;
    await client.query('ROLLBACK TO SAVEPOINT migrate_plain_table');
    return { error: describeError(error).split('\n')[0] as string };
  }
}

/**
 * The time tables, whose data the backfill brings rather than the schema step: the ones validated
 * now, every recorded completion point's, every table in the backfill ledger, and every hypertable on
 * either side (a TimescaleDB source's hypertables all stay out of the schema dump). listPlainTables
 * leaves out their partitions and inheritance children too, as `migrate schema` does.
 */
async function timeTablesOf(source: Client, target: Client, validated: QualifiedName[], dir: string): Promise<QualifiedName[]> {
  const recorded = Object.values((await readCompletionPoints(dir)).tables);
  const hypertables = [...((await readTimescale(source))?.hypertables ?? []), ...((await readTimescale(target))?.hypertables ?? [])];
  return [...validated, ...recorded, ...await ledgerTables(target), ...hypertables].map((t) => ({ schema: t.schema, table: t.table }));
}

async function ledgerTables(target: Client): Promise<QualifiedName[]> {
  const plan = `${quoteIdent(LEDGER_SCHEMA)}.${quoteIdent('backfill_plan')}`;
  const { rows: present } = await target.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [plan]);
  if (!present[0]?.ok) return [];
  const { rows } = await target.query<QualifiedName>(`SELECT schema_name AS schema, table_name AS table FROM ${plan}`);
  return rows;
}

/** The user's tables and partitioned tables that are neither time tables nor below one (foreign tables hold no copied data). */
async function listPlainTables(client: Client, timeTables: QualifiedName[]): Promise<Listed[]> {
  const { rows } = await client.query<{ schema: string; table: string; oid: string; partitioned: boolean; bytes: string }>(
    `WITH RECURSIVE tables AS (
       SELECT c.oid, n.nspname AS schema, c.relname AS table, c.relkind
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND ${USER_RELATION}
     ), lineage(relid, ancestor) AS (
       SELECT oid, oid FROM tables
       UNION SELECT l.relid, i.inhparent FROM lineage l JOIN pg_inherits i ON i.inhrelid = l.ancestor
     )
     SELECT t.schema, t.table, t.oid::int8 AS oid, t.relkind = 'p' AS partitioned,
            (CASE WHEN t.relkind = 'p' THEN (SELECT coalesce(sum(pg_total_relation_size(p.relid)), 0) FROM pg_partition_tree(t.oid) p)
                  ELSE pg_total_relation_size(t.oid) END)::int8 AS bytes
       FROM tables t
      WHERE NOT EXISTS (
        SELECT 1 FROM lineage l JOIN pg_class a ON a.oid = l.ancestor JOIN pg_namespace an ON an.oid = a.relnamespace
          JOIN unnest($1::text[], $2::text[]) AS x(schema, name) ON x.schema = an.nspname AND x.name = a.relname
         WHERE l.relid = t.oid)`,
    [timeTables.map((t) => t.schema), timeTables.map((t) => t.table)]);
  return rows.map((r) => ({ schema: r.schema, table: r.table, oid: Number(r.oid), partitioned: r.partitioned, bytes: Number(r.bytes) }));
}
