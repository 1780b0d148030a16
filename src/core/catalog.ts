/**
 * Table introspection shared by the steps: find the table a user named (with a helpful error when
 * it is not there), and read what decides whether it can become a hypertable: columns, unique
 * indexes, foreign keys that point at it, partitioning and inheritance, size and row estimates.
 *
 * Everything is looked up by the table's oid after one name lookup, so odd names ("Sales Data")
 * never travel through SQL text; names we read back are returned as plain strings.
 */
import type { Client } from './db.js';
import { UsageError } from './errors.js';
import { displayName, type QualifiedName, type TableSpec } from './identifiers.js';
import { shellQuote } from './shell.js';

export interface ColumnInfo {
  name: string;
  /** format_type() text: `timestamp with time zone`, `bigint`, `character varying(20)`. */
  type: string;
  notNull: boolean;
  generated: boolean;
  identity: boolean;
  ordinal: number;
  /** Set when the column's type is a domain: format_type() of the type under all its domains (`timestamp with time zone`). */
  baseType?: string;
}

export interface IndexInfo {
  name: string;
  primary: boolean;
  unique: boolean;
  /** The constraint behind the index (PRIMARY KEY / UNIQUE), when there is one. */
  constraint?: string;
  /** The EXCLUDE constraint behind the index, when it is one (TimescaleDB treats it as a unique index). */
  exclusion?: string;
  /** Key columns in order; `null` for an expression. */
  columns: (string | null)[];
  partial: boolean;
  /** Access method: btree, brin, hash, … (only btree gives cheap min/max). */
  method: string;
  /** pg_get_indexdef(): the CREATE INDEX statement. */
  definition: string;
}

export interface ForeignKeyRef {
  name: string;
  /** The referencing table. */
  from: QualifiedName;
  columns: string[];
  referencedColumns: string[];
}

export interface HypertableDimension {
  column: string;
  /** `7 days` for time columns, integer text for integer columns. */
  interval?: string;
}

/**
 * The tables below a partitioned table or an inheritance parent, at every level. On the target the
 * whole tree becomes one plain table (then a hypertable); reading the parent without ONLY reads all of it.
 */
export interface TableTree {
  kind: 'partitions' | 'inheritance';
  /** Every table below the root (sub-partitioned levels and their partitions included), by level. */
  members: QualifiedName[];
  /** Members that hold rows themselves (leaf partitions; every child of an inheritance tree). */
  leaves: number;
  /** Levels below the root: 1 = plain partitions or children, 2 = sub-partitioned, … */
  depth: number;
  /** DEFAULT partitions, at any level. */
  defaultPartitions: number;
  /** The root's partition key, pg_get_partkeydef(): `RANGE (created_at)`. */
  partitionKey?: string;
  /** The root's partition key columns (`null` for an expression). */
  partitionColumns?: (string | null)[];
  /**
   * Inheritance trees: columns that lead a plain btree index on the parent and on every child.
   * Children do not inherit the parent's indexes, so the parent's alone say nothing about reading
   * the tree's min/max cheaply. (A partitioned table's indexes are on every partition.)
   */
  indexedOnEveryMember?: string[];
}

export interface TableInfo {
  name: QualifiedName;
  oid: number;
  columns: ColumnInfo[];
  indexes: IndexInfo[];
  /** Foreign keys in other tables (or this one) that reference this table. */
  referencedBy: ForeignKeyRef[];
  /** Declaratively partitioned (PARTITION BY). */
  partitioned: boolean;
  /** This table is a partition of that one. */
  partitionOf?: QualifiedName;
  /** Inheritance parents (not partitioning). */
  inheritsFrom: QualifiedName[];
  /** Inheritance children (not partitions, not TimescaleDB chunks). */
  inheritedBy: QualifiedName[];
  /** Set for a partitioned table or an inheritance parent (not a hypertable): everything below it. */
  tree?: TableTree;
  /** Set when the table is already a TimescaleDB hypertable: its first (time) dimension. */
  hypertable?: HypertableDimension;
  /** Table + indexes + TOAST, summed over the tree (partitions, inheritance children) or chunks. */
  totalBytes: number;
  /** pg_class.reltuples (summed over the tree or chunks); -1 when never analyzed. */
  estimatedRows: number;
}

const RELKIND_NAMES: Record<string, string> = {
  v: 'a view', m: 'a materialized view', f: 'a foreign table', S: 'a sequence', i: 'an index', c: 'a composite type',
};

const sideHint = (side: 'source' | 'target'): string => side === 'source'
  ? 'Run `migrate candidates` to list the tables on the source, and check --source.'
  : 'Check --target, and run `migrate schema` first so the table exists on the target.';

/** Find the table a spec names, or throw a UsageError (exit 2) that says what is there instead. */
export async function resolveTable(client: Client, spec: TableSpec, side: 'source' | 'target'): Promise<TableInfo> {
  const { rows } = await client.query<{ oid: string; relkind: string }>(
    `SELECT c.oid::int8 AS oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`, [spec.schema, spec.table]);
  const found = rows[0];
  const name = displayName(spec);
  if (!found) {
    const similar = await similarTables(client, spec);
    const didYouMean = similar.length > 0 ? ` Did you mean ${similar.map((s) => quoteForShell(s)).join(' or ')}?` : '';
    throw new UsageError(`The table ${name} does not exist on the ${side}.${didYouMean}`, {
      hint: similar.length > 0
        ? 'Unquoted names fold to lower case; put names with capitals or spaces in double quotes inside single quotes, ' +
          `e.g. --table ${quoteForShell(similar[0] as QualifiedName)}.`
        : sideHint(side),
    });
  }
  if (found.relkind !== 'r' && found.relkind !== 'p') {
    throw new UsageError(`${name} on the ${side} is ${RELKIND_NAMES[found.relkind] ?? 'not a table'}, not a table.`, {
      hint: 'Only tables can become hypertables or be backfilled; name a table.',
    });
  }
  return describeTable(client, Number(found.oid));
}

/** A table name as a shell word for `--table` (canonical spelling, shell-quoted when needed). */
function quoteForShell(name: QualifiedName): string {
  return shellQuote(displayName(name));
}

/** Tables whose name differs only in case (the folding mistake), or that live in another schema. */
async function similarTables(client: Client, spec: TableSpec): Promise<QualifiedName[]> {
  const { rows } = await client.query<QualifiedName>(
    `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND lower(c.relname) = lower($2)
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE '\\_timescaledb%'
      ORDER BY (lower(n.nspname) = lower($1)) DESC, n.nspname, c.relname LIMIT 3`, [spec.schema, spec.table]);
  return rows;
}

/** Everything we need to know about one table, by oid. */
export async function describeTable(client: Client, oid: number): Promise<TableInfo> {
  const head = await client.query<{ schema: string; table: string; relkind: string; reltuples: number;
    parent: QualifiedName | null }>(
    `SELECT n.nspname AS schema, c.relname AS table, c.relkind, c.reltuples::float8 AS reltuples,
            (SELECT json_build_object('schema', pn.nspname, 'table', pc.relname) FROM pg_inherits i
               JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
              WHERE i.inhrelid = c.oid AND c.relispartition) AS parent
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`, [oid]);
  const row = head.rows[0];
  if (!row) throw new UsageError(`The table with oid ${oid} disappeared while we were reading it.`);
  const name: QualifiedName = { schema: row.schema, table: row.table };
  // One client runs one query at a time, so these are sequential on purpose.
  const columns = await readColumns(client, oid);
  const indexes = await readIndexes(client, oid);
  const referencedBy = await readReferencingKeys(client, oid);
  const inheritance = await readInheritance(client, oid);
  const hypertable = await readHypertable(client, name);
  const partitioned = row.relkind === 'p';
  // A hypertable's chunks are its inheritance children; they are TimescaleDB's business, not a tree.
  const tree = hypertable ? undefined : await readTree(client, oid, partitioned);
  const size = await readSize(client, oid, tree ? 'tree' : hypertable ? 'hypertable' : 'plain', row.reltuples);
  const info: TableInfo = {
    name, oid, columns, indexes, referencedBy, partitioned,
    inheritsFrom: row.parent ? [] : inheritance.parents,
    // A hypertable's chunks are inheritance children; they are not the user's inheritance.
    inheritedBy: hypertable ? [] : inheritance.children,
    totalBytes: size.bytes, estimatedRows: size.rows,
  };
  if (row.parent) info.partitionOf = row.parent;
  if (hypertable) info.hypertable = hypertable;
  if (tree) info.tree = tree;
  return info;
}

/**
 * SQL for something about the type under a domain, followed through domains over domains (a domain's
 * typmod lives in its own pg_type row): `expr` reads `base.typid` and `base.typmod`. NULL when the
 * type (the pg_type row aliased `t`) is not a domain.
 */
export function domainBaseSql(t: string, expr: string): string {
  return `CASE WHEN ${t}.typtype = 'd' THEN (
      WITH RECURSIVE chain(typid, typmod) AS (
        SELECT ${t}.typbasetype, ${t}.typtypmod
        UNION ALL
        SELECT d.typbasetype, d.typtypmod FROM chain JOIN pg_type d ON d.oid = chain.typid WHERE d.typtype = 'd')
      SELECT ${expr} FROM chain base JOIN pg_type b ON b.oid = base.typid WHERE b.typtype <> 'd') END`;
}

/**
 * A table's columns in attnum order (no dropped or system columns). A domain column also gets its
 * base type, followed through domains over domains (a domain's typmod lives in its pg_type row).
 */
export async function readColumns(client: Client, oid: number): Promise<ColumnInfo[]> {
  const { rows } = await client.query<ColumnInfo & { baseType: string | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
            a.attgenerated <> '' AS generated, a.attidentity <> '' AS identity, a.attnum::int AS ordinal,
            ${domainBaseSql('t', 'format_type(base.typid, base.typmod)')} AS "baseType"
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, [oid]);
  return rows.map(({ baseType, ...rest }) => (baseType === null ? rest : { ...rest, baseType }));
}

async function readIndexes(client: Client, oid: number): Promise<IndexInfo[]> {
  const { rows } = await client.query<IndexInfo & { constraint: string | null; exclusion: string | null }>(
    `SELECT i.relname AS name, x.indisprimary AS primary, x.indisunique AS unique, con.conname AS constraint, exc.conname AS exclusion,
            x.indpred IS NOT NULL AS partial, pg_get_indexdef(x.indexrelid) AS definition, am.amname AS method,
            ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                    LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum AND k.attnum > 0
                   WHERE k.ord <= x.indnkeyatts ORDER BY k.ord) AS columns
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
       LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u')
       LEFT JOIN pg_constraint exc ON exc.conindid = x.indexrelid AND exc.conrelid = x.indrelid AND exc.contype = 'x'
      WHERE x.indrelid = $1 ORDER BY x.indisprimary DESC, x.indisunique DESC, i.relname`, [oid]);
  return rows.map(({ constraint, exclusion, ...rest }) => ({ ...rest, ...(constraint === null ? {} : { constraint }),
    ...(exclusion === null ? {} : { exclusion }) }));
}

async function readReferencingKeys(client: Client, oid: number): Promise<ForeignKeyRef[]> {
  const { rows } = await client.query<{ name: string; schema: string; table: string; columns: string[];
    referencedColumns: string[] }>(
    `SELECT con.conname AS name, n.nspname AS schema, c.relname AS table,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
            ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)
              AS "referencedColumns"
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE con.contype = 'f' AND con.confrelid = $1 AND con.conparentid = 0
        AND n.nspname NOT LIKE '\\_timescaledb%' ORDER BY n.nspname, c.relname, con.conname`, [oid]);
  return rows.map((r) => ({ name: r.name, from: { schema: r.schema, table: r.table }, columns: r.columns,
    referencedColumns: r.referencedColumns }));
}

async function readInheritance(client: Client, oid: number): Promise<{ parents: QualifiedName[]; children: QualifiedName[] }> {
  const { rows } = await client.query<QualifiedName & { direction: 'parent' | 'child' }>(
    `SELECT 'parent' AS direction, n.nspname AS schema, c.relname AS table FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhparent JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhrelid = $1
     UNION ALL
     SELECT 'child', n.nspname, c.relname FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.inhparent = $1 AND NOT c.relispartition AND n.nspname NOT LIKE '\\_timescaledb%'
     ORDER BY 1, 2, 3`, [oid]);
  const pick = (d: string): QualifiedName[] => rows.filter((r) => r.direction === d)
    .map((r) => ({ schema: r.schema, table: r.table }));
  return { parents: pick('parent'), children: pick('child') };
}

/** The hypertable's first dimension, when TimescaleDB is installed and the table is one. */
async function readHypertable(client: Client, name: QualifiedName): Promise<HypertableDimension | undefined> {
  const ext = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'");
  if (ext.rowCount === 0) return undefined;
  const { rows } = await client.query<{ column: string; time_interval: string | null; integer_interval: string | null }>(
    `SELECT column_name AS column, time_interval, integer_interval::text AS integer_interval
       FROM timescaledb_information.dimensions
      WHERE hypertable_schema = $1 AND hypertable_name = $2 ORDER BY dimension_number LIMIT 1`, [name.schema, name.table]);
  const row = rows[0];
  if (!row) return undefined;
  const interval = row.time_interval ?? row.integer_interval ?? undefined;
  return interval === undefined ? { column: row.column } : { column: row.column, interval };
}

/** One table below another in an inheritance or partition tree (see readDescendants). */
export interface Descendant extends QualifiedName {
  oid: string;
  /** 1 for a direct partition or child. */
  level: number;
  relkind: string;
  /** A DEFAULT partition. */
  isDefault: boolean;
}

/**
 * Every table below `oid` (partitions at every level, or inheritance children and theirs), outside
 * TimescaleDB's internal schemas (a hypertable's chunks are its children too). The one tree walk
 * that candidates, the schema dump's exclusions and its rewrite share.
 */
export async function readDescendants(client: Client, oid: number): Promise<Descendant[]> {
  const { rows } = await client.query<Descendant>(
    `WITH RECURSIVE tree(relid, level) AS (
       SELECT i.inhrelid, 1 FROM pg_inherits i WHERE i.inhparent = $1
       UNION SELECT i.inhrelid, t.level + 1 FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid)
     SELECT n.nspname AS schema, c.relname AS table, c.oid::text AS oid, min(t.level)::int AS level, c.relkind::text AS relkind,
            coalesce(c.relispartition AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', false) AS "isDefault"
       FROM tree t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT LIKE '\\_timescaledb%'
      GROUP BY n.nspname, c.relname, c.relkind, c.relispartition, c.relpartbound, c.oid
      ORDER BY 4, 1, 2`, [oid]);
  return rows;
}

/** Tables below `oid` (partitions at every level, or inheritance children and theirs); undefined when none. */
async function readTree(client: Client, oid: number, partitioned: boolean): Promise<TableTree | undefined> {
  const rows = (await readDescendants(client, oid)).map((r) => ({ ...r, leaf: r.relkind !== 'p' }));
  if (rows.length === 0 && !partitioned) return undefined;
  const tree: TableTree = {
    kind: partitioned ? 'partitions' : 'inheritance',
    members: rows.map((r) => ({ schema: r.schema, table: r.table })),
    leaves: rows.filter((r) => r.leaf).length,
    depth: Math.max(0, ...rows.map((r) => r.level)),
    defaultPartitions: rows.filter((r) => r.isDefault).length,
  };
  if (partitioned) {
    const { rows: key } = await client.query<{ definition: string; columns: (string | null)[] }>(
      `SELECT pg_get_partkeydef(p.partrelid) AS definition,
              ARRAY(SELECT a.attname::text FROM unnest(p.partattrs::int2[]) WITH ORDINALITY k(attnum, ord)
                      LEFT JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum AND k.attnum > 0
                     ORDER BY k.ord) AS columns
         FROM pg_partitioned_table p WHERE p.partrelid = $1`, [oid]);
    if (key[0]) { tree.partitionKey = key[0].definition; tree.partitionColumns = key[0].columns; }
  } else {
    const oids = [oid, ...rows.map((r) => Number(r.oid))];
    const { rows: indexed } = await client.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
         JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
        WHERE x.indrelid = ANY($1::oid[]) AND am.amname = 'btree' AND x.indpred IS NULL
        GROUP BY a.attname HAVING count(DISTINCT x.indrelid) = cardinality($1::oid[]) ORDER BY 1`, [oids]);
    tree.indexedOnEveryMember = indexed.map((r) => r.name);
  }
  return tree;
}

async function readSize(client: Client, oid: number, kind: 'plain' | 'tree' | 'hypertable',
  reltuples: number): Promise<{ bytes: number; rows: number }> {
  // A tree's rows are in its tables of kind 'r' (an inheritance parent holds rows too; a partitioned table never does).
  const sql = kind === 'tree'
    ? `WITH RECURSIVE tree(relid) AS (SELECT $1::oid UNION SELECT i.inhrelid FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid)
       SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)::int8 AS bytes,
              coalesce(sum(greatest(c.reltuples, 0)) FILTER (WHERE c.relkind = 'r'), 0)::float8 AS rows,
              bool_and(c.reltuples < 0) FILTER (WHERE c.relkind = 'r') AS never
         FROM tree t JOIN pg_class c ON c.oid = t.relid`
    : kind === 'hypertable'
      ? `SELECT coalesce(hypertable_size($1::regclass), 0)::int8 AS bytes,
                (SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = $1)::float8 + greatest((SELECT reltuples FROM pg_class WHERE oid = $1), 0) AS rows,
                false AS never`
      : 'SELECT pg_total_relation_size($1::regclass)::int8 AS bytes, $2::float8 AS rows, $2::float8 < 0 AS never';
  const { rows } = await client.query<{ bytes: string; rows: number; never: boolean | null }>(sql,
    kind === 'plain' ? [oid, reltuples] : [oid]);
  const row = rows[0];
  return { bytes: Number(row?.bytes ?? 0), rows: row?.never ? -1 : Number(row?.rows ?? 0) };
}

// Defined next to the ranking it uses; exported here because it is part of the catalog's contract.
export { resolveTimeColumn } from './time-column.js';
