/**
 * What of the source's owners and privileges can come across (issue #8.1), told before the schema
 * load so the operator is not surprised afterwards: the roles that own the user's objects or hold
 * grants on them, which of them exist on the target, and whether the target user may give objects
 * to them. Exactly what the target refuses is only known by trying (schema-privileges.ts reports
 * each refused statement); this is the forecast.
 */
import type { Client } from '../core/db.js';
import { NOT_USER_SCHEMAS } from './schema-catalog.js';

export interface RoleForecast {
  role: string;
  /** Owns user objects on the source. */
  owns: boolean;
  /** Holds privileges on user objects (or default privileges) on the source. */
  granted: boolean;
  onTarget: boolean;
  /** The target user is a member of it (or a superuser): ownership can be given to it. */
  targetUserMayAct: boolean;
}

export interface PrivilegesForecast {
  targetUser: string;
  targetSuperuser: boolean;
  roles: RoleForecast[];
}

// Owners and grantees of the user's schemas, relations, functions, types and default privileges.
// PUBLIC (grantee 0) is not a role and always exists.
const SOURCE_ROLES = `
  WITH objects AS (
    SELECT n.nspowner AS owner, n.nspacl AS acl FROM pg_namespace n WHERE ${NOT_USER_SCHEMAS} AND n.nspname <> 'public'
    UNION ALL SELECT c.relowner, c.relacl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${NOT_USER_SCHEMAS}
    UNION ALL SELECT p.proowner, p.proacl FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${NOT_USER_SCHEMAS}
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    UNION ALL SELECT t.typowner, t.typacl FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE t.typtype IN ('e', 'd', 'c', 'r') AND ${NOT_USER_SCHEMAS}
        AND NOT (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c'))
  ), roles AS (
    SELECT owner AS oid, true AS owns, false AS granted FROM objects
    UNION ALL SELECT (aclexplode(acl)).grantee, false, true FROM objects WHERE acl IS NOT NULL
    UNION ALL SELECT d.defaclrole, false, true FROM pg_default_acl d
    UNION ALL SELECT (aclexplode(d.defaclacl)).grantee, false, true FROM pg_default_acl d
  )
  SELECT a.rolname AS role, bool_or(owns) AS owns, bool_or(granted) AS granted
    FROM roles r JOIN pg_roles a ON a.oid = r.oid
   WHERE a.rolname NOT LIKE 'pg\\_%'
   GROUP BY a.rolname ORDER BY a.rolname`;

export async function forecastPrivileges(source: Client, target: Client): Promise<PrivilegesForecast> {
  const { rows } = await source.query<{ role: string; owns: boolean; granted: boolean }>(SOURCE_ROLES);
  const { rows: [me] } = await target.query<{ user: string; superuser: boolean }>(
    'SELECT current_user AS user, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user');
  const { rows: present } = await target.query<{ role: string; member: boolean }>(
    `SELECT r.rolname AS role, pg_has_role(current_user, r.oid, 'MEMBER') AS member
       FROM pg_roles r WHERE r.rolname = ANY($1::text[])`, [rows.map((r) => r.role)]);
  const onTarget = new Map(present.map((p) => [p.role, p.member]));
  const superuser = Boolean(me?.superuser);
  return {
    targetUser: me?.user ?? '',
    targetSuperuser: superuser,
    roles: rows.map((r) => ({ role: r.role, owns: r.owns, granted: r.granted, onTarget: onTarget.has(r.role),
      targetUserMayAct: superuser || onTarget.get(r.role) === true })),
  };
}

/** The forecast in a few lines for the operator. */
export function describeForecast(forecast: PrivilegesForecast): string[] {
  if (forecast.roles.length === 0) return ['The source\'s user objects have no owners or grants beyond the built-in roles.'];
  const lines = [`Owners and privileges: ${forecast.roles.length} role(s) own the source's objects or hold grants on them: ` +
    `${forecast.roles.map((r) => r.role).join(', ')}.`];
  const missing = forecast.roles.filter((r) => !r.onTarget);
  if (missing.length > 0) {
    lines.push(`  Not on the target: ${missing.map((r) => r.role).join(', ')}: their ownership and grants cannot come across ` +
      '(the Roles step creates them; or create them by hand before the schema load).');
  }
  if (forecast.targetSuperuser) {
    lines.push(`  The target user ${forecast.targetUser} is a superuser: every owner and grant of an existing role can be applied.`);
  } else {
    const barred = forecast.roles.filter((r) => r.onTarget && r.owns && !r.targetUserMayAct);
    lines.push(`  The target user ${forecast.targetUser} is not a superuser: it can give objects only to roles it is a member of` +
      `${barred.length > 0 ? ` (not to ${barred.map((r) => r.role).join(', ')})` : ''}, and grant only on objects it owns or holds ` +
      'with GRANT OPTION. Each statement the target refuses is listed after the load and written to privileges-refused.sql ' +
      'to run as a role that may.');
  }
  return lines;
}
