/**
 * What of the source's owners and privileges can come across (issue #8.1), told before the schema
 * load so the operator is not surprised afterwards: the roles that own the user's objects or hold
 * grants on them, which of them exist on the target, and whether the target user may give objects
 * to them. Exactly what the target refuses is only known by trying (schema-privileges.ts reports
 * each refused statement); this is the forecast.
 */
import type { Client } from '../core/db.js';
import { readOwnership } from './ownership.js';

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

// Default privileges name roles too (ALTER DEFAULT PRIVILEGES FOR ROLE … GRANT … TO …).
const DEFAULT_ACL_ROLES = `SELECT DISTINCT a.rolname AS role FROM pg_default_acl d,
    LATERAL (SELECT d.defaclrole AS oid UNION ALL SELECT (aclexplode(d.defaclacl)).grantee) r JOIN pg_roles a ON a.oid = r.oid`;

/** Roles that own the source's user objects or hold grants on them (built-in pg_* roles and PUBLIC left out). */
async function sourceRoles(source: Client): Promise<{ role: string; owns: boolean; granted: boolean }[]> {
  const { objects } = await readOwnership(source);
  const roles = new Map<string, { role: string; owns: boolean; granted: boolean }>();
  const mark = (role: string, what: 'owns' | 'granted'): void => {
    if (role === 'PUBLIC' || role.startsWith('pg_')) return;
    const entry = roles.get(role) ?? { role, owns: false, granted: false };
    entry[what] = true;
    roles.set(role, entry);
  };
  for (const o of objects) {
    mark(o.owner, 'owns');
    for (const g of o.grants) mark(g.grantee, 'granted');
  }
  for (const { role } of (await source.query<{ role: string }>(DEFAULT_ACL_ROLES)).rows) mark(role, 'granted');
  return [...roles.values()].sort((a, b) => a.role.localeCompare(b.role));
}

export async function forecastPrivileges(source: Client, target: Client): Promise<PrivilegesForecast> {
  const rows = await sourceRoles(source);
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
