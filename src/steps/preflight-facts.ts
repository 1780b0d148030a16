/**
 * What preflight reads from each server. Read-only catalog queries; permission-restricted reads
 * (shared_preload_libraries) come back as `undefined` rather than failing the whole check.
 */
import type { Client } from '../core/db.js';
import { displayName, type QualifiedName } from '../core/identifiers.js';
import { listTargetUserTables } from './schema-catalog.js';

export interface ExtensionFact {
  name: string;
  version: string;
  schema: string;
}

export interface ServerFacts {
  /** server_version, e.g. `15.18 (Debian 15.18-0+deb12u1)`. */
  version: string;
  versionNum: number;
  major: number;
  database: string;
  user: string;
  isSuperuser: boolean;
  extensions: ExtensionFact[];
}

export interface SourceFacts extends ServerFacts {
  canReadAuthid: boolean;
  /** Tables and sequences pg_dump would fail on (no SELECT, or no USAGE on their schema); at most 11. */
  unreadable: string[];
  /** Tables whose rows row-level security would hide from this user (pg_dump then refuses); at most 11. */
  rowSecurity: string[];
}

export interface AvailableExtension {
  name: string;
  defaultVersion: string | null;
  installedVersion: string | null;
}

export interface TargetFacts extends ServerFacts {
  available: AvailableExtension[];
  /** Versions of TimescaleDB the target could create (pg_available_extension_versions). */
  timescaleInstallable: string[];
  /** undefined: not visible to this user (needs superuser or pg_read_all_settings). */
  timescalePreloaded: boolean | undefined;
  canCreateSchemas: boolean;
  userTables: QualifiedName[];
}

export async function readServerFacts(client: Client): Promise<ServerFacts> {
  const { rows } = await client.query<{ version: string; num: number; database: string; user: string; superuser: boolean }>(
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num,
            current_database() AS database, current_user AS user,
            coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS superuser`);
  const row = rows[0];
  const extensions = await client.query<ExtensionFact>(
    `SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
       FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1`);
  const num = Number(row?.num ?? 0);
  return {
    version: row?.version ?? 'unknown', versionNum: num, major: Math.floor(num / 10000),
    database: row?.database ?? '', user: row?.user ?? '', isSuperuser: Boolean(row?.superuser),
    extensions: extensions.rows,
  };
}

export async function readSourceFacts(client: Client): Promise<SourceFacts> {
  const server = await readServerFacts(client);
  const authid = await client.query<{ ok: boolean }>("SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS ok");
  // Extension members are skipped: pg_dump does not read their data (config tables aside, which
  // their extension makes readable).
  const relations = await client.query<QualifiedName & { readable: boolean; hidden: boolean }>(
    `SELECT n.nspname AS schema, c.relname AS table,
            has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') AS readable,
            c.relkind <> 'S' AND c.relrowsecurity AND NOT pg_has_role(c.relowner, 'USAGE')
              AND NOT coalesce((SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user), false) AS hidden
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'S') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                    AND d.deptype = 'e')
        AND (NOT (has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')) OR c.relrowsecurity)
      ORDER BY 1, 2`);
  const names = (pick: (r: { readable: boolean; hidden: boolean }) => boolean): string[] =>
    relations.rows.filter(pick).slice(0, 11).map((r) => displayName(r));
  return {
    ...server,
    canReadAuthid: Boolean(authid.rows[0]?.ok),
    unreadable: names((r) => !r.readable),
    rowSecurity: names((r) => r.readable && r.hidden),
  };
}

export async function readTargetFacts(client: Client): Promise<TargetFacts> {
  const server = await readServerFacts(client);
  const available = await client.query<AvailableExtension>(
    `SELECT name, default_version AS "defaultVersion", installed_version AS "installedVersion"
       FROM pg_available_extensions ORDER BY name`);
  const versions = await client.query<{ version: string }>(
    "SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb' ORDER BY version DESC");
  const create = await client.query<{ ok: boolean }>("SELECT has_database_privilege(current_database(), 'CREATE') AS ok");
  return {
    ...server,
    available: available.rows,
    timescaleInstallable: versions.rows.map((r) => r.version),
    timescalePreloaded: await readTimescalePreloaded(client),
    canCreateSchemas: Boolean(create.rows[0]?.ok),
    userTables: await listTargetUserTables(client),
  };
}

/**
 * TimescaleDB refuses CREATE EXTENSION unless it is in shared_preload_libraries. Only superusers
 * and pg_read_all_settings members may read that setting; for everyone else we cannot tell.
 */
export async function readTimescalePreloaded(client: Client): Promise<boolean | undefined> {
  try {
    const { rows } = await client.query<{ libs: string }>("SELECT current_setting('shared_preload_libraries') AS libs");
    return parsePreloadLibraries(rows[0]?.libs ?? '').some((lib) => /(^|\/)timescaledb(\.so)?$/.test(lib));
  } catch {
    return undefined;
  }
}

/** `'timescaledb', "$libdir/pg_stat_statements"` → ['timescaledb', '$libdir/pg_stat_statements']. */
export function parsePreloadLibraries(value: string): string[] {
  return value.split(',').map((part) => part.trim().replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1')).filter(Boolean);
}
