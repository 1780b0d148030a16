/**
 * Owners and grants of the user's objects, as the catalog says: schemas, tables, views, materialized
 * views, foreign tables, sequences, functions, procedures, aggregates, types and domains, outside the
 * system's, TimescaleDB's and the ledger's schemas and not members of an extension. Read by
 * `migrate readiness` (compared between the sides) and by the schema step's forecast (which roles
 * own or are granted something on the source).
 */
import type { Client } from '../core/db.js';

export interface Grant { grantee: string; privilege: string; grantable: boolean }
export interface Owned { kind: string; schema: string; name: string | null; args: string | null; owner: string; grants: Grant[] }

const OBJECTS_SQL = `
WITH objects AS (
  SELECT 'schema' AS kind, n.nspname AS schema, NULL::name AS name, NULL::text AS args, n.nspowner AS owner,
         coalesce(n.nspacl, acldefault('n'::"char", n.nspowner)) AS acl, 'pg_namespace'::regclass AS class, n.oid
    FROM pg_namespace n
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table'
         ELSE 'table' END, n.nspname, c.relname, NULL, c.relowner,
         coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner)), 'pg_class'::regclass, c.oid
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND NOT c.relispartition
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, n.nspname, p.proname,
         pg_get_function_identity_arguments(p.oid), p.proowner, coalesce(p.proacl, acldefault('f'::"char", p.proowner)), 'pg_proc'::regclass, p.oid
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname, t.typname, NULL, t.typowner,
         coalesce(t.typacl, acldefault('T'::"char", t.typowner)), 'pg_type'::regclass, t.oid
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE t.typtype IN ('d', 'e', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
)
SELECT o.kind, o.schema, o.name, o.args, pg_get_userbyid(o.owner) AS owner,
       coalesce((SELECT json_agg(json_build_object('grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                                                   'privilege', a.privilege_type, 'grantable', a.is_grantable))
                   FROM aclexplode(o.acl) a WHERE a.grantee <> o.owner), '[]') AS grants
  FROM objects o
 WHERE o.schema NOT IN ('information_schema', '_migrate') AND o.schema NOT LIKE 'pg\\_%'
   AND o.schema NOT LIKE '\\_timescaledb%' AND o.schema NOT LIKE 'timescaledb\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.class AND d.objid = o.oid AND d.deptype = 'e')`;

/** Every user object with its owner and grants (a missing ACL read as the default one), and the roles that exist. */
export async function readOwnership(client: Client): Promise<{ objects: Owned[]; roles: Set<string> }> {
  const { rows } = await client.query<Owned>(OBJECTS_SQL);
  const { rows: roles } = await client.query<{ name: string }>('SELECT rolname AS name FROM pg_roles');
  return { objects: rows, roles: new Set(roles.map((r) => r.name)) };
}
