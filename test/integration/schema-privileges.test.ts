/**
 * Issue #8.1: `migrate schema` carries owners and privileges for the roles on the target, one
 * statement at a time; a target user that may not apply some (a managed service's admin) gets them
 * reported and written to privileges-refused.sql while the load finishes. --no-owner/--no-privileges
 * keep the reference procedure's behaviour.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { clusterUrl, createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

const suffix = randomBytes(3).toString('hex');
const OWNER = `app_owner_${suffix}`;
const READER = `app_reader_${suffix}`;
const ADMIN = `tgt_admin_${suffix}`;
const ROLES = `CREATE ROLE ${OWNER} LOGIN; CREATE ROLE ${READER} LOGIN; GRANT CREATE ON SCHEMA public TO ${OWNER};`;
const dbs: TestDatabases[] = [];
const dirs: string[] = [];
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

async function source(): Promise<TestDatabases> {
  const d = await createDatabases('privs');
  dbs.push(d);
  await sql(d.source, `GRANT CREATE ON SCHEMA public TO ${OWNER};
    SET ROLE ${OWNER};
    CREATE TABLE public.accounts (id serial PRIMARY KEY, name text);
    CREATE TABLE public.metrics (time timestamptz NOT NULL, v int);
    GRANT SELECT ON public.accounts, public.metrics TO ${READER};
    GRANT USAGE ON SEQUENCE public.accounts_id_seq TO ${READER};
    ALTER DEFAULT PRIVILEGES FOR ROLE ${OWNER} IN SCHEMA public GRANT SELECT ON TABLES TO ${READER};
    RESET ROLE;`);
  await sql(d.target, 'CREATE EXTENSION IF NOT EXISTS timescaledb').catch(() => undefined);
  return d;
}

function schema(d: TestDatabases, extra: string[], target = d.target): Promise<CliResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-privs-'));
  dirs.push(dir);
  return runCli(['schema', '--source', d.source, '--target', target, '--dir', dir, '--table', 'metrics:time', ...extra]);
}

async function owner(url: string, table: string): Promise<string> {
  const [row] = await sql<{ o: string }>(url, 'SELECT tableowner AS o FROM pg_tables WHERE schemaname = $1 AND tablename = $2', ['public', table]);
  return row?.o ?? '';
}

async function canRead(url: string, table: string): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }>(url, `SELECT has_table_privilege('${READER}', 'public.${table}', 'SELECT') AS ok`);
  return Boolean(row?.ok);
}

beforeAll(async () => {
  await sql(clusterUrl('source'), ROLES);
  // What `migrate roles` brings; the target's admin is not a superuser and is a member of neither role.
  await sql(clusterUrl('target'), `${ROLES} CREATE ROLE ${ADMIN} LOGIN PASSWORD 'admin-pw' CREATEROLE;`);
});

afterAll(async () => {
  for (const d of dbs) await d.drop();
  for (const url of [clusterUrl('source'), clusterUrl('target')]) {
    await sql(url, `DROP ROLE IF EXISTS ${OWNER}; DROP ROLE IF EXISTS ${READER}; DROP ROLE IF EXISTS ${ADMIN}`).catch(() => undefined);
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('migrate schema: owners and privileges', () => {
  it('carries owners, grants and default privileges', async () => {
    const d = await source();
    const r = await schema(d, []);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toMatch(/Owners and privileges: \d+ statement\(s\) applied\./);
    expect(await owner(d.target, 'accounts')).toBe(OWNER);
    expect(await owner(d.target, 'metrics')).toBe(OWNER);
    expect(await canRead(d.target, 'accounts')).toBe(true);
    const [seq] = await sql<{ ok: boolean }>(d.target, `SELECT has_sequence_privilege('${READER}', 'public.accounts_id_seq', 'USAGE') AS ok`);
    expect(seq?.ok).toBe(true);
    // Default privileges: a table the owner creates later is readable by the reader, as on the source.
    await sql(d.target, `SET ROLE ${OWNER}; CREATE TABLE public.later (x int); RESET ROLE;`);
    expect(await canRead(d.target, 'later')).toBe(true);
  });

  it('--no-owner --no-privileges: everything owned by the target user, no grants', async () => {
    const d = await source();
    const r = await schema(d, ['--no-owner', '--no-privileges']);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).not.toContain('Owners and privileges');
    expect(await owner(d.target, 'accounts')).toBe('postgres');
    expect(await canRead(d.target, 'accounts')).toBe(false);
  });

  it('a target user that may not apply some: the load finishes, each refusal reported and kept in a file', async () => {
    const d = await source();
    await sql(clusterUrl('target'), `ALTER DATABASE "${d.targetName}" OWNER TO ${ADMIN}`);
    await sql(d.target, `ALTER SCHEMA public OWNER TO ${ADMIN}`);
    const asAdmin = d.target.replace(/\/\/[^@]*@/, `//${ADMIN}:admin-pw@`);
    const r = await schema(d, [], asAdmin);
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toContain('The target refused');
    expect(r.stderr).toMatch(/ALTER TABLE "public"\."accounts" OWNER TO "app_owner_\w+";\s+-- /);
    expect(await owner(d.target, 'accounts')).toBe(ADMIN);
    // Grants by the admin (the owner now) on its own tables went through.
    expect(await canRead(d.target, 'accounts')).toBe(true);
    const file = /they are in (\S+)\)/.exec(r.stdout)?.[1] as string;
    expect(readFileSync(file, 'utf8')).toContain(`OWNER TO "${OWNER}"`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('--dry-run forecasts what can and cannot come across, for a superuser and for a managed-service admin', async () => {
    const d = await source();
    const asSuperuser = await schema(d, ['--dry-run']);
    expect(asSuperuser.code, output(asSuperuser)).toBe(0);
    const said = asSuperuser.stdout + asSuperuser.stderr;
    expect(said).toMatch(new RegExp(`role\\(s\\) own the source's objects or hold grants on them: .*${OWNER}`));
    expect(said).toContain(READER);
    expect(said).toContain('is a superuser: every owner and grant of an existing role can be applied');
    await sql(clusterUrl('target'), `ALTER DATABASE "${d.targetName}" OWNER TO ${ADMIN}`);
    const asAdmin = await schema(d, ['--dry-run'], d.target.replace(/\/\/[^@]*@/, `//${ADMIN}:admin-pw@`));
    expect(asAdmin.code, output(asAdmin)).toBe(0);
    expect(asAdmin.stdout + asAdmin.stderr).toContain(`is not a superuser: it can give objects only to roles it is a member of (not to ${OWNER})`);
    expect(await owner(d.target, 'accounts')).toBe('');
  });
});
