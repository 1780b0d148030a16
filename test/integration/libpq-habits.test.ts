/**
 * libpq habits against the run's real (password-protected) clusters: `service=NAME`, PGSERVICE
 * and PGSERVICEFILE pick the database, PGPASSFILE supplies the password without Node's
 * DeprecationWarning, a missing password is "password required" (exit 2, never the driver's SASL
 * message), PGAPPNAME names our sessions, and pg_dump/psql get the same settings as our client.
 *
 * Every CLI run has a HOME and PGSYSCONFDIR of its own, so no ~/.pgpass, ~/.pg_service.conf or
 * system service file of the machine running the tests takes part.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_PASSWORD } from '../../src/core/local-cluster.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let tmp: string;
let sourcePort: string;
let targetPort: string;

/** No password, service or libpq setting inherited from the environment running the tests. */
const CLEAN_ENV: Record<string, string | undefined> = {
  PGPASSWORD: undefined, PGPASSFILE: undefined, PGSERVICE: undefined, PGSERVICEFILE: undefined, PGHOST: undefined,
  PGPORT: undefined, PGUSER: undefined, PGDATABASE: undefined, PGAPPNAME: undefined, PGSSLMODE: undefined,
};

function run(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(args, { env: { ...CLEAN_ENV, HOME: tmp, PGSYSCONFDIR: tmp, ...env }, timeoutMs: 120_000 });
}

const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

function expectClean(result: CliResult): void {
  for (const noise of ['DeprecationWarning', 'SASL', 'client password must be a string', 'Warning:']) {
    expect(result.stderr).not.toContain(noise);
  }
  expect(result.stdout + result.stderr).not.toContain(CLUSTER_PASSWORD);
}

function writeFile(name: string, text: string, mode = 0o600): string {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

/** A service file with [src] and [tgt] for this file's databases, and a decoy that must not be used. */
function serviceFile(withPassword: boolean): string {
  const password = withPassword ? `password=${CLUSTER_PASSWORD}\n` : '';
  return writeFile(withPassword ? 'services-pw.conf' : 'services.conf',
    '# services for the libpq-habits test\n[decoy]\nhost=192.0.2.1\nport=1\n\n' +
    `[src]\nhost=127.0.0.1\nport=${sourcePort}\ndbname=${dbs.sourceName}\nuser=postgres\n${password}\n` +
    `[tgt]\nhost=127.0.0.1\nport=${targetPort}\ndbname=${dbs.targetName}\nuser=postgres\n${password}`);
}

/** A password file with the clusters' password for both servers (0600, as libpq requires). */
function passFile(): string {
  return writeFile('pgpass', `# host:port:database:user:password\n127.0.0.1:${sourcePort}:*:postgres:${CLUSTER_PASSWORD}\n` +
    `127.0.0.1:${targetPort}:*:postgres:${CLUSTER_PASSWORD}\n`);
}

beforeAll(async () => {
  dbs = await createDatabases('libpq');
  sourcePort = new URL(dbs.source).port;
  targetPort = new URL(dbs.target).port;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'migrate-libpq-'));
  await sql(dbs.source, `CREATE TABLE service_marker (time timestamptz NOT NULL, v int);
    INSERT INTO service_marker SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute', g FROM generate_series(1, 500) g;`);
});

afterAll(async () => {
  await dbs?.drop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const candidates = (source: string, env: Record<string, string | undefined> = {}): Promise<CliResult> =>
  run(['candidates', '--min-size', '0', '--source', source], env);

describe('service files', () => {
  it('--source service=NAME connects to the database PGSERVICEFILE names (password from PGPASSFILE)', async () => {
    const result = await candidates('service=src', { PGSERVICEFILE: serviceFile(false), PGPASSFILE: passFile() });
    expect(result.code, output(result)).toBe(0);
    expect(result.stdout).toContain('service_marker');
    expectClean(result);
  });

  it('PGSERVICE alone picks the service, with the password in the service file', async () => {
    const result = await run(['candidates', '--min-size', '0'], { PGSERVICE: 'src', PGSERVICEFILE: serviceFile(true) });
    expect(result.code, output(result)).toBe(0);
    expect(result.stdout).toContain('service_marker');
    expectClean(result);
  });

  it('reads ~/.pg_service.conf when PGSERVICEFILE is unset, and the string\'s own settings win over the service\'s', async () => {
    writeFile('.pg_service.conf', `[src]\nhost=127.0.0.1\nport=${sourcePort}\ndbname=postgres\nuser=postgres\n`);
    const result = await candidates(`service=src dbname=${dbs.sourceName}`, { PGPASSFILE: passFile() });
    expect(result.code, output(result)).toBe(0);
    expect(result.stdout).toContain('service_marker');
    expectClean(result);
    rmSync(path.join(tmp, '.pg_service.conf'));
  });

  it('reads PGSYSCONFDIR/pg_service.conf', async () => {
    const sysconf = mkdtempSync(path.join(tmp, 'sysconf-'));
    writeFileSync(path.join(sysconf, 'pg_service.conf'),
      `[sys]\nhost=127.0.0.1\nport=${sourcePort}\ndbname=${dbs.sourceName}\nuser=postgres\n`);
    const result = await candidates('service=sys', { PGSYSCONFDIR: sysconf, PGPASSWORD: CLUSTER_PASSWORD });
    expect(result.code, output(result)).toBe(0);
    expect(result.stdout).toContain('service_marker');
    expectClean(result);
  });

  it('an unknown service is a usage error naming it, not a connection to 127.0.0.1:5432', async () => {
    const result = await candidates('service=nope', { PGSERVICEFILE: serviceFile(false) });
    expect(result.code, output(result)).toBe(2);
    expect(result.stderr).toContain('service "nope" was not found');
  });

  it('pg_dump and psql get the same settings: schema from service=src to service=tgt, passwords in the service file', async () => {
    const dir = mkdtempSync(path.join(tmp, 'schema-'));
    const result = await run(['schema', '--source', 'service=src', '--target', 'service=tgt', '--dir', dir,
      '--table', 'public.service_marker:time'], { PGSERVICEFILE: serviceFile(true) });
    expect(result.code, output(result)).toBe(0);
    expectClean(result);
    // Nothing we wrote (state, plan, dump, logs) holds the password.
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) => statSync(path.join(dir, file)).isFile());
    expect(files).toContain('state.json');
    for (const file of files) expect(readFileSync(path.join(dir, file), 'utf8'), file).not.toContain(CLUSTER_PASSWORD);
    const rows = await sql<{ n: string }>(dbs.target, "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'service_marker'");
    expect(rows[0]?.n).toBe('1');
  }, 180_000);
});

describe('passwords', () => {
  it('a .pgpass named by PGPASSFILE supplies the password, with no DeprecationWarning', async () => {
    const result = await candidates(`postgresql://postgres@127.0.0.1:${sourcePort}/${dbs.sourceName}`, { PGPASSFILE: passFile() });
    expect(result.code, output(result)).toBe(0);
    expect(result.stdout).toContain('service_marker');
    expectClean(result);
  });

  it('~/.pgpass is read when PGPASSFILE is unset, with no DeprecationWarning', async () => {
    writeFile('.pgpass', `*:${sourcePort}:*:postgres:${CLUSTER_PASSWORD}\n`);
    const result = await candidates(`host=127.0.0.1 port=${sourcePort} dbname=${dbs.sourceName} user=postgres`);
    rmSync(path.join(tmp, '.pgpass'));
    expect(result.code, output(result)).toBe(0);
    expect(result.stdout).toContain('service_marker');
    expectClean(result);
  });

  it('a missing password is "password required", exit 2, with the ways to give one and no SASL message', async () => {
    const result = await candidates(`postgresql://postgres@127.0.0.1:${sourcePort}/${dbs.sourceName}`);
    expect(result.code, output(result)).toBe(2);
    expect(result.stderr).toContain('password required');
    for (const way of ['connection string', 'PGPASSWORD', '.pgpass', 'PGPASSFILE', 'service file']) expect(result.stderr).toContain(way);
    expectClean(result);
  });

  it('a missing password through a service is "password required" too', async () => {
    const result = await candidates('service=src', { PGSERVICEFILE: serviceFile(false) });
    expect(result.code, output(result)).toBe(2);
    expect(result.stderr).toContain('password required');
    expectClean(result);
  });

  it('a wrong password is refused without showing it', async () => {
    const result = await candidates(`postgresql://postgres:not-the-${CLUSTER_PASSWORD}@127.0.0.1:${sourcePort}/${dbs.sourceName}`);
    expect(result.code, output(result)).toBe(2);
    expect(result.stderr).toContain('refused the login');
    expect(result.stderr).toContain('The password came from the connection string');
    expectClean(result);
  });

  it('a wrong password from the password file says which file it came from, as libpq does', async () => {
    const file = writeFile('pgpass-wrong', `*:*:*:postgres:not-the-${CLUSTER_PASSWORD}\n`);
    const result = await candidates(`host=127.0.0.1 port=${sourcePort} dbname=${dbs.sourceName} user=postgres`, { PGPASSFILE: file });
    expect(result.code, output(result)).toBe(2);
    expect(result.stderr).toContain(`The password was read from the password file "${file}"`);
    expectClean(result);
  });
});

describe('PGAPPNAME', () => {
  it('names our sessions in pg_stat_activity', async () => {
    // Hold a lock that candidates' size query waits for, and look at the waiting session meanwhile
    // (from another session: pg_stat_activity is a snapshot for the rest of a transaction).
    const locker = new pg.Client({ connectionString: dbs.source });
    const watcher = new pg.Client({ connectionString: dbs.source });
    await locker.connect();
    await watcher.connect();
    let seen: string | undefined;
    try {
      await locker.query('BEGIN; LOCK TABLE service_marker IN ACCESS EXCLUSIVE MODE');
      const pending = candidates(`postgresql://postgres@127.0.0.1:${sourcePort}/${dbs.sourceName}`,
        { PGPASSFILE: passFile(), PGAPPNAME: 'libpq-habits-app' });
      const deadline = Date.now() + 60_000;
      while (seen === undefined && Date.now() < deadline) {
        const { rows } = await watcher.query<{ application_name: string }>(
          "SELECT application_name FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [dbs.sourceName]);
        seen = rows[0]?.application_name;
        if (seen === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await locker.query('COMMIT');
      const result = await pending;
      expect(result.code, output(result)).toBe(0);
      expectClean(result);
    } finally {
      await locker.end();
      await watcher.end();
    }
    expect(seen).toBe('libpq-habits-app');
  }, 120_000);
});
