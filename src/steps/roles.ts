/**
 * Step `roles`: dump the source's roles with pg_dumpall, rewrite them for the target
 * (src/core/role-rewrite.ts), write <dir>/roles.sql (mode 0600: it holds password hashes) and load it
 * with psql in one transaction.
 *
 * The raw dump never touches the disk (it is read into memory and rewritten), and nothing we emit or
 * throw carries a password hash: psql's --echo-errors output is masked before it reaches a message.
 */
import path from 'node:path';
import type { StepContext } from '../core/context.js';
import { suggestCommand } from '../core/suggest.js';
import { withClient } from '../core/db.js';
import { InterruptedError, MigrateError } from '../core/errors.js';
import { writeFileAtomic } from '../core/files.js';
import { quoteIdent } from '../core/identifiers.js';
import { connectionArgs, formatCommand, requirePgTool, runPgTool } from '../core/pg-tools.js';
import { maskPasswords, rewriteRoles, type RoleChange, type TargetRole } from '../core/role-rewrite.js';

export type { RoleChange } from '../core/role-rewrite.js';

export interface RolesResult {
  /** Absolute path of roles.sql (not written under --dry-run). */
  file: string;
  /** Roles the file creates (the target's own roles, such as postgres, are left out). */
  roles: string[];
  /** False when the source user could not read pg_authid and the dump has no passwords. */
  passwordsIncluded: boolean;
  /** Every statement the rewrite removed or changed (passwords masked). */
  changes: RoleChange[];
  loaded: boolean;
  /** Roles of the file that existed on the target before the load (skipped, not fatal). */
  alreadyExisting: string[];
  /** Login roles that need a password set on the target (dump without passwords). */
  passwordsMissingFor: string[];
  dryRun: boolean;
}

interface SourceFacts { database: string; major: number; canReadAuthid: boolean }
export interface TargetFacts {
  user: string; superuser: boolean; createRole: boolean; createDb: boolean; major: number; roles: TargetRole[];
  /** Superuser-only parameters this user has no SET privilege on (empty for a superuser). */
  unsettableParameters: string[];
}

/** The dump rewritten for the target, in memory. `sql` holds password hashes: never print it. */
export interface RolesPlan {
  sql: string;
  roles: string[];
  loginRoles: string[];
  changes: RoleChange[];
  passwordsIncluded: boolean;
  alreadyExisting: string[];
  target: TargetFacts;
}

async function inspectSource(ctx: StepContext): Promise<SourceFacts> {
  return withClient(ctx.source, async (client) => {
    const { rows } = await client.query<{ database: string; version: number; authid: boolean }>(
      `SELECT current_database() AS database, current_setting('server_version_num')::int AS version,
              has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS authid`);
    const row = rows[0] as { database: string; version: number; authid: boolean };
    return { database: row.database, major: Math.floor(row.version / 10000), canReadAuthid: row.authid };
  });
}

async function inspectTarget(ctx: StepContext): Promise<TargetFacts> {
  return withClient(ctx.target, async (client) => {
    const { rows } = await client.query<{ user: string; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; version: number }>(
      `SELECT current_user AS user, r.rolsuper, r.rolcreaterole, r.rolcreatedb,
              current_setting('server_version_num')::int AS version
       FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`);
    const me = rows[0];
    if (!me) throw new MigrateError('Cannot read the target user\'s attributes from pg_roles.');
    const roles = await client.query<{ rolname: string; rolsuper: boolean; rolreplication: boolean }>(
      'SELECT rolname, rolsuper, rolreplication FROM pg_catalog.pg_roles');
    const major = Math.floor(me.version / 10000);
    // has_parameter_privilege (PostgreSQL 15+) covers GRANT SET ON PARAMETER given to this user.
    const unsettable = me.rolsuper ? [] : (await client.query<{ name: string }>(
      `SELECT name FROM pg_catalog.pg_settings WHERE context = 'superuser'${major >= 15 ? " AND NOT has_parameter_privilege(name, 'SET')" : ''}`)).rows;
    return {
      user: me.user, superuser: me.rolsuper, createRole: me.rolcreaterole, createDb: me.rolcreatedb, major,
      roles: roles.rows.map((r) => ({ name: r.rolname, superuser: r.rolsuper, replication: r.rolreplication })),
      unsettableParameters: unsettable.map((r) => r.name),
    };
  });
}

/** Never alter postgres or the role we are connected as; on a managed (non-superuser) target, not tsdbadmin either. */
export function targetAdminRoles(target: Pick<TargetFacts, 'user' | 'superuser'>): string[] {
  return [...new Set(['postgres', target.user, ...(target.superuser ? [] : ['tsdbadmin'])])];
}

function dumpArgs(source: SourceFacts, ctx: StepContext): string[] {
  return ['--roles-only', '--quote-all-identifiers', ...(source.canReadAuthid ? [] : ['--no-role-passwords']),
    '-l', source.database, ...connectionArgs(ctx.source).args];
}

function loadArgs(file: string, ctx: StepContext): string[] {
  // One transaction: a failing statement leaves the target's roles exactly as they were.
  return ['-X', '-v', 'ON_ERROR_STOP=1', '--echo-errors', '--single-transaction', '-f', file, ...connectionArgs(ctx.target).args];
}

/** A tool failure, with anything that looks like a password hash masked. */
function masked(error: unknown, hint: string): unknown {
  if (error instanceof InterruptedError || !(error instanceof Error)) return error;
  return new MigrateError(maskPasswords(error.message), { hint });
}

/** Dump and rewrite, without writing or loading anything: what the wizard shows before it asks to load. */
export async function planRoles(ctx: StepContext): Promise<RolesPlan> {
  const [source, target] = await Promise.all([inspectSource(ctx), inspectTarget(ctx)]);
  const tool = requirePgTool('pg_dumpall', source.major);
  ctx.emit({ type: 'phase', id: 'roles-dump', message: `Dumping roles from the source (${tool.name} ${tool.version})` });
  let dump: string;
  try {
    ({ stdout: dump } = await runPgTool(tool, dumpArgs(source, ctx), { env: connectionArgs(ctx.source).env, signal: ctx.signal }));
  } catch (error) {
    ctx.emit({ type: 'done', id: 'roles-dump', message: 'pg_dumpall failed', ok: false });
    throw masked(error, 'Check that the source user can connect and read pg_roles, then run `migrate roles` again.');
  }
  const rewritten = rewriteRoles(dump, {
    targetIsSuperuser: target.superuser,
    targetAdminRoles: targetAdminRoles(target),
    existingTargetRoles: target.roles,
    targetCanGrantCreateDb: target.superuser || target.createDb || target.major < 16,
    targetMajor: target.major,
    unsettableParameters: target.unsettableParameters,
  });
  const onTarget = new Set(target.roles.map((r) => r.name));
  ctx.emit({ type: 'done', id: 'roles-dump', message: `Dumped ${rewritten.roles.length} roles; ${rewritten.changes.length} statements rewritten for the target` });
  return {
    sql: rewritten.sql, roles: rewritten.roles, loginRoles: rewritten.loginRoles, changes: rewritten.changes,
    passwordsIncluded: source.canReadAuthid, alreadyExisting: rewritten.roles.filter((r) => onTarget.has(r)), target,
  };
}

function requireCanCreateRoles(target: TargetFacts, file: string, ctx: StepContext): void {
  if (target.superuser || target.createRole) return;
  throw new MigrateError(`The target user ${quoteIdent(target.user)} cannot create roles: it is neither a superuser nor has CREATEROLE.`, {
    hint: `Connect to the target as a role with CREATEROLE (on Timescale Cloud: tsdbadmin), or run ` +
      `\`${suggestCommand(ctx.repeat, 'roles', [], ['--no-load'])}\` ` +
      `and have an administrator load ${file}.`,
  });
}

async function dryRun(ctx: StepContext, file: string): Promise<RolesResult> {
  const [source, target] = await Promise.all([inspectSource(ctx), inspectTarget(ctx)]);
  const dumpTool = requirePgTool('pg_dumpall', source.major);
  const psql = requirePgTool('psql');
  // The path goes on the psql line, shell-quoted: in a trailing comment a newline in --dir would end the comment.
  ctx.emit({ type: 'command', command: `${formatCommand(dumpTool.path, dumpArgs(source, ctx))}  # rewritten by migrate into roles.sql (mode 0600)` });
  ctx.emit({ type: 'command', command: formatCommand(psql.path, loadArgs(file, ctx)) });
  ctx.emit({ type: 'info', message: target.superuser
    ? `The target user ${quoteIdent(target.user)} is a superuser: role attributes are kept; ${targetAdminRoles(target).map(quoteIdent).join(', ')} are left alone.`
    : `The target user ${quoteIdent(target.user)} is not a superuser: SUPERUSER, REPLICATION, BYPASSRLS and GRANTED BY would be removed; ` +
      `${targetAdminRoles(target).map(quoteIdent).join(', ')} are left alone.` });
  if (!source.canReadAuthid) warnNoPasswords(ctx, []);
  if (!target.superuser && !target.createRole) {
    ctx.emit({ type: 'warn', message: `The target user ${quoteIdent(target.user)} cannot create roles (no SUPERUSER or CREATEROLE): the load would fail.` });
  }
  return { file, roles: [], passwordsIncluded: source.canReadAuthid, changes: [], loaded: false, alreadyExisting: [],
    passwordsMissingFor: [], dryRun: true };
}

function warnNoPasswords(ctx: StepContext, loginRoles: string[]): void {
  ctx.emit({
    type: 'warn',
    message: 'The source user cannot read pg_authid, so the roles are dumped without passwords (pg_dumpall --no-role-passwords). ' +
      'Set the passwords again on the target, e.g. ALTER ROLE "app" PASSWORD \'…\';',
    detail: loginRoles.length ? [`login roles without a password: ${loginRoles.map(quoteIdent).join(', ')}`] : undefined,
  });
}

export async function runRoles(input: { load: boolean; plan?: RolesPlan }, ctx: StepContext): Promise<RolesResult> {
  const file = path.join(ctx.dir, 'roles.sql');
  if (ctx.dryRun) return dryRun(ctx, file);
  const plan = input.plan ?? await planRoles(ctx);
  if (input.load) requireCanCreateRoles(plan.target, file, ctx);
  await writeFileAtomic(file, plan.sql, { mode: 0o600 });
  ctx.emit({ type: 'info', message: `Wrote ${file} (mode 0600)` });
  const passwordsMissingFor = plan.passwordsIncluded ? [] : plan.loginRoles;
  if (!plan.passwordsIncluded) warnNoPasswords(ctx, passwordsMissingFor);
  if (plan.alreadyExisting.length) {
    ctx.emit({ type: 'info', message: `Already on the target (kept, not created again): ${plan.alreadyExisting.map(quoteIdent).join(', ')}` });
  }
  const result: RolesResult = { file, roles: plan.roles, passwordsIncluded: plan.passwordsIncluded, changes: plan.changes,
    loaded: false, alreadyExisting: plan.alreadyExisting, passwordsMissingFor, dryRun: false };
  if (!input.load) return result;

  const psql = requirePgTool('psql');
  ctx.emit({ type: 'phase', id: 'roles-load', message: `Loading ${plan.roles.length} roles into the target` });
  try {
    await runPgTool(psql, loadArgs(file, ctx), { env: connectionArgs(ctx.target).env, signal: ctx.signal });
  } catch (error) {
    ctx.emit({ type: 'done', id: 'roles-load', message: 'Loading roles failed; the target is unchanged (one transaction)', ok: false });
    throw masked(error, `Fix the cause on the target and run \`migrate roles\` again, or edit ${file} and load it with: ` +
      `${formatCommand('psql', loadArgs(file, ctx))}`);
  }
  ctx.emit({ type: 'done', id: 'roles-load', message: `Loaded ${plan.roles.length} roles into the target` });
  return { ...result, loaded: true };
}
