/**
 * Catalog reads for `migrate schema` (and preflight): which user tables a database holds, a given
 * table's partitions and inheritance children, and a TimescaleDB source's hypertables.
 */
import { readDescendants } from '../core/catalog.js';
import type { Client } from '../core/db.js';
import { byName, type QualifiedName } from '../core/identifiers.js';

/**
 * Schemas that are never the user's: the system's, TimescaleDB's internals and information views,
 * and `_migrate` (our backfill ledger). pg_temp_* / pg_toast* are covered by `pg\_%`.
 */
const NOT_USER_SCHEMAS = `n.nspname NOT IN ('information_schema', '_migrate', 'timescaledb_information',
    'timescaledb_experimental') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT LIKE '\\_timescaledb%'`;

/**
 * SQL condition on `pg_class c` joined to `pg_namespace n`: a top-level relation (partitions are not
 * listed one by one) outside the system, TimescaleDB internal and `_migrate` schemas that does not
 * belong to an extension (PostGIS' spatial_ref_sys is not the user's table).
 */
export const USER_RELATION = `NOT c.relispartition AND ${NOT_USER_SCHEMAS}
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                    AND d.deptype = 'e')`;

/** The user's tables (plain, partitioned and foreign; see USER_RELATION). */
export async function listUserTables(client: Client): Promise<QualifiedName[]> {
  const { rows } = await client.query<QualifiedName>(
    `SELECT n.nspname AS schema, c.relname AS table
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'f') AND ${USER_RELATION}
      ORDER BY 1, 2`);
  return rows;
}

/** Tables already in the target, so the wizard can warn and `migrate schema` can refuse. */
export function listTargetUserTables(client: Client): Promise<QualifiedName[]> {
  return listUserTables(client);
}

/**
 * Every partition and inheritance child below a table, at any depth, outside TimescaleDB's
 * internal schemas. pg_dump's --exclude-table-data on a parent does not cover its children
 * (PostgreSQL 16 added --exclude-table-data-and-children; we support older pg_dump), so each child
 * gets its own pattern: a partitioned candidate must arrive empty as a whole.
 */
export async function listDescendants(client: Client, oid: number): Promise<QualifiedName[]> {
  return (await readDescendants(client, oid)).map(({ schema, table }) => ({ schema, table }))
    .sort(byName);
}

export interface SourceTimescale {
  version: string;
  /** Schema the extension lives in (its functions are qualified with it after the dump's search_path=''). */
  schema: string;
  /** User hypertables (not continuous aggregates' internal ones): their chunks' data is left out. */
  hypertables: QualifiedName[];
  /** Schemas holding chunks (normally just _timescaledb_internal); their tables' data is left out. */
  chunkSchemas: string[];
}

/** TimescaleDB as installed in the connected database, or undefined. */
export async function readTimescale(client: Client): Promise<SourceTimescale | undefined> {
  const ext = await client.query<{ version: string; schema: string }>(
    `SELECT e.extversion AS version, n.nspname AS schema FROM pg_extension e
       JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'`);
  const row = ext.rows[0];
  if (!row) return undefined;
  const { rows } = await client.query<QualifiedName>(
    `SELECT schema_name AS schema, table_name AS table FROM _timescaledb_catalog.hypertable
      WHERE schema_name NOT LIKE '\\_timescaledb%' ORDER BY 1, 2`);
  const chunkSchemas = await client.query<{ schema: string }>(
    `SELECT DISTINCT associated_schema_name AS schema FROM _timescaledb_catalog.hypertable
     UNION SELECT '_timescaledb_internal' ORDER BY 1`);
  return { version: row.version, schema: row.schema, hypertables: rows, chunkSchemas: chunkSchemas.rows.map((r) => r.schema) };
}
