/**
 * `migrate roles` against the real source and target clusters. Roles are cluster-global: every role
 * here has a random suffix, and afterAll drops them on the source and drops every role the runs
 * added to the target.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../../src/core/identifiers.js';
import { CLUSTER_PASSWORD } from '../../src/core/local-cluster.js';
import { collectingContext } from '../../src/core/context.js';
import { runRoles } from '../../src/steps/roles.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { clusterUrl, createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

const suffix = randomBytes(3).toString('hex');
const role = {
  app: `mig_app_${suffix}`,
  group: `mig_grp_${suffix}`,
  // Mixed case, quotes, spaces, and the dollar tag the rewrite would pick first.
  odd: `Odd "Role" $migrate$ ${suffix}`,
  superuser: `mig_su_${suffix}`,
  replication: `mig_rep_${suffix}`,
  later: `mig_later_${suffix}`,
  reader: `mig_reader_${suffix}`,
  nopw: `mig_nopw_${suffix}`,
  targetAdmin: `mig_tadmin_${suffix}`,
  targetReplication: `mig_trep_${suffix}`,
  targetPlain: `mig_tplain_${suffix}`,
};
const APP_PASSWORD = `app-secret-${suffix}`;

let dbs: TestDatabases;
let dir: string;
let targetRolesBefore: string[];

async function roleNames(side: 'source' | 'target'): Promise<string[]> {
  const rows = await sql<{ rolname: string }>(clusterUrl(side), 'SELECT rolname FROM pg_roles ORDER BY rolname');
  return rows.map((r) => r.rolname);
}

async function targetRole(name: string): Promise<Record<string, unknown> | undefined> {
  const [row] = await sql(clusterUrl('target'),
    `SELECT r.rolsuper, r.rolcanlogin, r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolconnlimit, a.rolpassword,
            r.rolconfig, shobj_description(r.oid, 'pg_authid') AS comment
     FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = $1`, [name]);
  return row;
}

async function memberships(side: 'source' | 'target', group: string): Promise<Array<{ member: string; admin_option: boolean }>> {
  return sql(clusterUrl(side),
    `SELECT m.rolname AS member, am.admin_option FROM pg_auth_members am
     JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
     WHERE g.rolname = $1 ORDER BY 1`, [group]);
}

async function sourceHash(name: string): Promise<string> {
  const [row] = await sql<{ rolpassword: string }>(clusterUrl('source'), 'SELECT rolpassword FROM pg_authid WHERE rolname = $1', [name]);
  return row?.rolpassword as string;
}

/** No password and no hash of the source ever reaches the terminal. */
async function expectNoSecrets(result: CliResult): Promise<void> {
  const output = result.stdout + result.stderr;
  expect(output).not.toContain(CLUSTER_PASSWORD);
  expect(output).not.toContain(APP_PASSWORD);
  expect(output).not.toContain(await sourceHash(role.app));
  expect(output).not.toMatch(/SCRAM-SHA-256\$/);
}

function roles(args: string[]): Promise<CliResult> {
  return runCli(['roles', ...args]);
}

/** The JSON result: with --json, stdout holds only it (NDJSON events go to stderr). */
function jsonResult(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.slice(stdout.indexOf('{\n'))) as Record<string, unknown>;
}

beforeAll(async () => {
  dbs = await createDatabases('roles');
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-roles-'));
  targetRolesBefore = await roleNames('target');
  await sql(clusterUrl('source'), `
    CREATE ROLE ${quoteIdent(role.group)} NOLOGIN;
    CREATE ROLE ${quoteIdent(role.app)} LOGIN PASSWORD '${APP_PASSWORD}' CONNECTION LIMIT 7;
    CREATE ROLE ${quoteIdent(role.odd)} LOGIN CREATEDB;
    GRANT ${quoteIdent(role.group)} TO ${quoteIdent(role.app)};
    GRANT ${quoteIdent(role.group)} TO ${quoteIdent(role.odd)} WITH ADMIN OPTION;
    ALTER ROLE ${quoteIdent(role.app)} SET search_path TO 'app_schema';
    ALTER ROLE ${quoteIdent(role.app)} SET log_statement TO 'ddl';
    COMMENT ON ROLE ${quoteIdent(role.app)} IS 'the application';`);
});

afterAll(async () => {
  await dbs?.drop();
  rmSync(dir, { recursive: true, force: true });
  const ours = Object.values(role);
  for (const name of (await roleNames('source')).filter((r) => ours.includes(r))) {
    await sql(clusterUrl('source'), `DROP ROLE ${quoteIdent(name)}`);
  }
  // Everything the loads added to the target, including roles other test files left on the source.
  const added = (await roleNames('target')).filter((r) => !targetRolesBefore.includes(r));
  for (const name of added) await sql(clusterUrl('target'), `DROP ROLE IF EXISTS ${quoteIdent(name)}`);
});

describe('migrate roles', () => {
  it('copies roles, attributes, passwords, settings and memberships to a superuser target', async () => {
    const out = path.join(dir, 'first');
    const result = await roles(['--source', dbs.source, '--target', dbs.target, '--dir', out]);
    expect(result.code, result.stderr).toBe(0);
    await expectNoSecrets(result);

    const app = await targetRole(role.app);
    expect(app).toMatchObject({ rolsuper: false, rolcanlogin: true, rolconnlimit: 7, rolconfig: ['search_path=app_schema', 'log_statement=ddl'],
      comment: 'the application' });
    expect(app?.rolpassword).toBe(await sourceHash(role.app));
    expect(await targetRole(role.odd)).toMatchObject({ rolcanlogin: true, rolcreatedb: true });
    expect(await targetRole(role.group)).toMatchObject({ rolcanlogin: false });
    expect(await memberships('target', role.group)).toEqual([
      { member: role.app, admin_option: false },
      { member: role.odd, admin_option: true },
    ].sort((a, b) => (a.member < b.member ? -1 : 1)));

    const file = path.join(out, 'roles.sql');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain(await sourceHash(role.app));
    expect(result.stdout).toContain('Loaded into the target.');
  });

  it('runs again without failing and reports the roles that exist already', async () => {
    const result = await roles(['--source', dbs.source, '--target', dbs.target, '--dir', path.join(dir, 'second'), '--json']);
    expect(result.code, result.stderr).toBe(0);
    await expectNoSecrets(result);
    const json = jsonResult(result.stdout);
    expect(json.loaded).toBe(true);
    expect(json.alreadyExisting).toEqual(expect.arrayContaining([role.app, role.group, role.odd]));
    expect(json.roles).toEqual(expect.arrayContaining([role.app, role.group, role.odd]));
    expect(JSON.stringify(json.changes)).toContain("PASSWORD '***'");
  });

  it('strips superuser-only attributes for a target user without SUPERUSER, and the load works', async () => {
    await sql(clusterUrl('target'), `
      CREATE ROLE ${quoteIdent(role.targetAdmin)} LOGIN CREATEROLE PASSWORD 'tadmin-pw';
      CREATE ROLE ${quoteIdent(role.targetReplication)} LOGIN REPLICATION;`);
    await sql(clusterUrl('source'), `
      CREATE ROLE ${quoteIdent(role.targetReplication)} LOGIN PASSWORD 'trep-pw';
      CREATE ROLE ${quoteIdent(role.superuser)} SUPERUSER NOLOGIN;
      CREATE ROLE ${quoteIdent(role.replication)} LOGIN REPLICATION BYPASSRLS;
      GRANT ${quoteIdent(role.group)} TO ${quoteIdent(role.replication)};`);
    const target = clusterUrl('target', dbs.targetName, role.targetAdmin, 'tadmin-pw');
    const result = await roles(['--source', dbs.source, '--target', target, '--dir', path.join(dir, 'managed')]);
    expect(result.code, result.stderr).toBe(0);
    await expectNoSecrets(result);
    expect(result.stdout).toContain(`had SUPERUSER on the source`);
    expect(result.stdout).toContain('GRANTED BY');
    // log_statement is superuser-only: that role setting is left out rather than failing the load.
    expect(result.stdout).toContain('only a superuser can set log_statement for a role on the target');

    expect(await targetRole(role.superuser)).toMatchObject({ rolsuper: false, rolcanlogin: false });
    expect(await targetRole(role.replication)).toMatchObject({ rolsuper: false, rolreplication: false, rolbypassrls: false, rolcanlogin: true });
    expect((await memberships('target', role.group)).map((m) => m.member)).toContain(role.replication);
    // A non-superuser cannot alter a replication role that exists on the target: left alone, reported.
    expect(result.stdout).toContain(`${quoteIdent(role.targetReplication)} is a superuser or replication role on the target`);
    expect(await targetRole(role.targetReplication)).toMatchObject({ rolreplication: true, rolpassword: null });
    // postgres and the role we connect as are left exactly as they were.
    expect(await targetRole(role.targetAdmin)).toMatchObject({ rolsuper: false, rolcanlogin: true });
    expect(await targetRole('postgres')).toMatchObject({ rolsuper: true });
  });

  it('--no-load writes roles.sql and leaves the target unchanged', async () => {
    await sql(clusterUrl('source'), `CREATE ROLE ${quoteIdent(role.later)} LOGIN`);
    const before = await roleNames('target');
    const out = path.join(dir, 'noload');
    const result = await roles(['--source', dbs.source, '--target', dbs.target, '--dir', out, '--no-load']);
    expect(result.code, result.stderr).toBe(0);
    expect(await roleNames('target')).toEqual(before);
    const file = path.join(out, 'roles.sql');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain(`CREATE ROLE ${quoteIdent(role.later)}`);
    expect(result.stdout).toContain('Not loaded (--no-load)');
  });

  it('--dry-run prints the commands and writes and loads nothing', async () => {
    const out = path.join(dir, 'dry');
    const before = await roleNames('target');
    const result = await roles(['--source', dbs.source, '--target', dbs.target, '--dir', out, '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/pg_dumpall --roles-only --quote-all-identifiers -l \S+ --dbname/);
    expect(result.stdout).toMatch(/psql -X -v ON_ERROR_STOP=1 --echo-errors --single-transaction -f \S+roles\.sql --dbname/);
    expect(result.stdout).not.toContain(CLUSTER_PASSWORD);
    expect(existsSync(out)).toBe(false);
    expect(await roleNames('target')).toEqual(before);
  });

  it('warns and loads roles without passwords when the source user cannot read pg_authid', async () => {
    await sql(clusterUrl('source'), `
      CREATE ROLE ${quoteIdent(role.reader)} LOGIN PASSWORD 'reader-pw';
      CREATE ROLE ${quoteIdent(role.nopw)} LOGIN PASSWORD 'nopw-secret-pw';`);
    const source = clusterUrl('source', dbs.sourceName, role.reader, 'reader-pw');
    const result = await roles(['--source', source, '--target', dbs.target, '--dir', path.join(dir, 'nopw')]);
    expect(result.code, result.stderr).toBe(0);
    await expectNoSecrets(result);
    expect(result.stderr).toContain('warning: The source user cannot read pg_authid');
    expect(result.stderr).toContain(role.nopw);
    expect(result.stdout).toContain('passwords NOT included');
    expect(await targetRole(role.nopw)).toMatchObject({ rolcanlogin: true, rolpassword: null });
  });

  it('fails with a clear error when the target user cannot create roles', async () => {
    await sql(clusterUrl('target'), `CREATE ROLE ${quoteIdent(role.targetPlain)} LOGIN PASSWORD 'plain-pw'`);
    const target = clusterUrl('target', dbs.targetName, role.targetPlain, 'plain-pw');
    const result = await roles(['--source', dbs.source, '--target', target, '--dir', path.join(dir, 'plain')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot create roles');
    expect(result.stderr).toContain('next:');
  });

  it('exits 2 when --dir cannot be written', async () => {
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const result = await roles(['--source', dbs.source, '--target', dbs.target, '--dir', path.join(blocker, 'sub')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--dir ${path.join(blocker, 'sub')} cannot be a directory: ${blocker} is a file.`);
  });

  it('masks password hashes in psql errors when a load fails, and the target is unchanged', async () => {
    const hash = await sourceHash(role.app);
    const missing = `mig_missing_${suffix}`;
    const before = await roleNames('target');
    const ctx = collectingContext({ source: { side: 'source', connectionString: dbs.source },
      target: { side: 'target', connectionString: dbs.target }, dir: path.join(dir), dryRun: false });
    const plan = {
      // The first statement works, the second fails: --single-transaction rolls the first back too.
      sql: `CREATE ROLE ${quoteIdent(`${role.later}_x`)};\nALTER ROLE ${quoteIdent(missing)} WITH LOGIN PASSWORD '${hash}';\n`,
      roles: [missing], loginRoles: [missing], changes: [], passwordsIncluded: true, alreadyExisting: [],
      target: { user: 'postgres', superuser: true, createRole: true, createDb: true, major: 15, roles: [], unsettableParameters: [] },
    };
    const error = await runRoles({ load: true, plan }, ctx).then(() => undefined, (e: unknown) => e as Error & { hint?: string });
    expect(error?.message).toContain(`role "${missing}" does not exist`);
    expect(error?.message).toContain("PASSWORD '***'");
    expect(error?.message).not.toContain(hash);
    expect(error?.hint).toContain('migrate roles');
    expect(JSON.stringify(ctx.events)).not.toContain(hash);
    expect(await roleNames('target')).toEqual(before);
  });
});
