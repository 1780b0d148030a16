/**
 * The real CLI against a TLS server of this file's own: passwords from the password file and
 * service files (ours read them; psql gets the same settings), a missing password (exit 2,
 * "password required"), and stderr free of the driver's and Node's warnings: pg's pgpass
 * DeprecationWarning, pg-connection-string's SECURITY WARNING, Node's NODE_TLS_REJECT_UNAUTHORIZED.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_PASSWORD } from '../../src/core/local-cluster.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { postgresKv, startTlsCluster, theirs, type TlsWorld } from '../helpers/tls-cluster.js';

let world: TlsWorld;
beforeAll(async () => { world = await startTlsCluster('tls-cli', 'ca'); });
afterAll(() => world?.stop());

/** `migrate candidates` reads the source only: a cheap way to make the CLI connect. */
function candidates(source: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(['candidates', '--min-size', '0', '--source', source],
    { env: { HOME: world.home, PGSYSCONFDIR: world.home, ...env }, timeoutMs: 60_000 });
}

function expectNoWarnings(result: CliResult): void {
  for (const noise of ['DeprecationWarning', 'SECURITY WARNING', 'NODE_TLS_REJECT_UNAUTHORIZED', 'Warning:', 'SASL']) {
    expect(result.stderr).not.toContain(noise);
  }
  expect(result.stdout + result.stderr).not.toContain(CLUSTER_PASSWORD);
}

function writePassfile(name: string, mode: number): string {
  const file = path.join(world.tmp, name);
  writeFileSync(file, `# host:port:db:user:password\n127.0.0.1:${world.cluster.port}:*:postgres:${CLUSTER_PASSWORD}\n`);
  chmodSync(file, mode);
  return file;
}

describe('passwords from the password file, service files, or nowhere', () => {
  it('reads PGPASSFILE itself: connects with no DeprecationWarning, and psql gets the same password', async () => {
    const passfile = writePassfile('pgpass', 0o600);
    const keywords = postgresKv(world.cluster, 'sslmode=require', false);
    const result = await candidates(keywords, { PGPASSFILE: passfile });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('No hypertable candidates');
    expectNoWarnings(result);
    expect(theirs(world, keywords, { ...world.env, PGPASSFILE: passfile })).toBe('tls');
  });

  it('takes sslmode=require in a URI as libpq does: encrypted, not verified, no SECURITY WARNING', async () => {
    const passfile = writePassfile('pgpass-uri', 0o600);
    const result = await candidates(`postgresql://postgres@127.0.0.1:${world.cluster.port}/postgres?sslmode=require`,
      { PGPASSFILE: passfile });
    expect(result.code, result.stderr).toBe(0);
    expectNoWarnings(result);
  });

  it('resolves service=NAME from PGSERVICEFILE, for our client and for psql', async () => {
    const services = path.join(world.tmp, 'pg_service.conf');
    writeFileSync(services, `[other]\nhost=192.0.2.1\n\n[tlsdb]\nhost=127.0.0.1\nport=${world.cluster.port}\nuser=postgres\n` +
      `dbname=postgres\nsslmode=verify-full\nsslrootcert=${world.certs.caCert}\n`);
    const env = { PGSERVICEFILE: services, PGPASSWORD: CLUSTER_PASSWORD };
    const result = await candidates('service=tlsdb', env);
    expect(result.code, result.stderr).toBe(0);
    expectNoWarnings(result);
    expect(theirs(world, 'service=tlsdb', { ...world.env, ...env })).toBe('tls');
  });

  it('exits 2 with "password required" and the ways to give one when the server asks and we have none', async () => {
    const result = await candidates(postgresKv(world.cluster, 'sslmode=require', false));
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('password required');
    for (const way of ['connection string', 'PGPASSWORD', '~/.pgpass', 'migrate wizard']) expect(result.stderr).toContain(way);
    expectNoWarnings(result);
  });

  it('ignores a password file others can read, with libpq\'s warning, and then needs a password', async () => {
    const passfile = writePassfile('pgpass-loose', 0o644);
    const result = await candidates(postgresKv(world.cluster, 'sslmode=require', false), { PGPASSFILE: passfile });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`password file "${passfile}" has group or world access`);
    expect(result.stderr).toContain('password required');
  });
});

describe('TLS verification cannot be switched off behind our back', () => {
  it('NODE_TLS_REJECT_UNAUTHORIZED=0 neither weakens verify-full nor prints Node\'s warning', async () => {
    const result = await candidates(postgresKv(world.cluster, `sslmode=verify-full sslrootcert=${world.certs.otherCaCert}`),
      { NODE_TLS_REJECT_UNAUTHORIZED: '0' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('certificate cannot be verified');
    expectNoWarnings(result);
  });
});
