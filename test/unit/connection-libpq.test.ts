/**
 * Connection strings read as libpq reads them, merged with service files, PG* variables and the
 * password file as libpq merges them, and turned into node-postgres settings with libpq's sslmode
 * meanings (checked against real servers in test/integration/connection-tls.test.ts).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { clientConfig, resolveEndpoint, withPassword, type Endpoint } from '../../src/core/connection.js';
import { connectAttempts } from '../../src/core/conninfo/client-config.js';
import { resolveConninfo } from '../../src/core/conninfo/resolve.js';
import { UsageError } from '../../src/core/errors.js';
import { connectionArgs } from '../../src/core/pg-tools.js';

const home = mkdtempSync(path.join(os.tmpdir(), 'migrate-libpq-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
/** A clean environment: our own HOME, no PG* variables from the machine running the tests. */
const ENV = { HOME: home, PGSYSCONFDIR: home };

function write(name: string, text: string, mode = 0o600): string {
  const file = path.join(home, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
  return file;
}
const endpoint = (connectionString: string | undefined): Endpoint => ({ side: 'source', connectionString });
const config = (value: string | undefined, env: NodeJS.ProcessEnv = {}) => clientConfig(endpoint(value), { ...ENV, ...env });
const ssl = (value: string | undefined, env: NodeJS.ProcessEnv = {}) => config(value, env).ssl as ConnectionOptions | false;
const refusal = (run: () => unknown): UsageError => {
  try { run(); } catch (error) { if (error instanceof UsageError) return error; throw error; }
  throw new Error('expected a UsageError');
};

describe('libpq parsing', () => {
  it('reads key=value pairs: spaces around =, quotes with \\\' and \\\\, backslashes outside quotes', () => {
    expect(config(`host = 127.0.0.1 port= 5433 dbname='my \\'odd\\' db' user=u\\ x application_name=a\\\\b`)).toMatchObject({
      host: '127.0.0.1', port: 5433, database: "my 'odd' db", user: 'u x', application_name: 'a\\b',
    });
  });

  it('reads URIs: percent-decoding everywhere, IPv6, both prefixes, query parameters', () => {
    const ca = write('ca.crt', 'not really a certificate');
    expect(config(`postgresql://us%40er:p%2Fw@[::1]:5433/my%20db?sslmode=verify-ca&sslrootcert=${encodeURIComponent(ca)}`))
      .toMatchObject({ host: '::1', port: 5433, user: 'us@er', database: 'my db' });
    expect(config('postgres://u@h/d?application_name=x%26y')).toMatchObject({ host: 'h', port: 5432, application_name: 'x&y' });
    expect(config('postgresql://u@h/d?ssl=true').ssl).toMatchObject({ rejectUnauthorized: false });
  });

  it('takes Unix-socket hosts from host=/path and %2F-encoded URIs, and never uses TLS on them', () => {
    expect(config('postgresql://%2Ftmp%2Fsock/db?sslmode=require')).toMatchObject({ host: '/tmp/sock', ssl: false });
    expect(config('host=/tmp/sock dbname=db sslmode=verify-full')).toMatchObject({ host: '/tmp/sock', ssl: false });
    expect(config('postgresql:///db?host=/tmp/sock')).toMatchObject({ host: '/tmp/sock', database: 'db' });
  });

  it('refuses host lists, unknown keywords and bad values by name', () => {
    expect(refusal(() => config('postgresql://h1,h2/db')).message).toContain('host lists are not supported');
    expect(refusal(() => config('host=a,b dbname=d')).message).toContain('host lists are not supported');
    expect(refusal(() => resolveEndpoint('source', 'postgresql://h/db?sslmod=require', {})).message).toContain('invalid URI query parameter');
    expect(refusal(() => config('host=h sslmode=verify_full')).message).toContain('invalid sslmode value');
    expect(refusal(() => config('host=h port=54x')).message).toContain('port is not a number');
    expect(refusal(() => config('host=h require_auth=scram-sha-256')).message).toContain('require_auth');
    expect(refusal(() => config('host=h channel_binding=require')).message).toContain('channel_binding');
  });
});

describe('libpq defaults: service file, environment, password file', () => {
  it('takes the string first, then the service, then PG* variables, then libpq defaults', () => {
    const services = write('services.conf', '# comment\n[other]\nhost=wrong\n[app]\nhost=svc-host\nport=6000\ndbname=svcdb\n');
    const env = { PGSERVICEFILE: services, PGPORT: '7000', PGUSER: 'envuser', PGDATABASE: 'envdb', PGHOST: 'envhost' };
    expect(config('service=app dbname=mine', env)).toMatchObject({ host: 'svc-host', port: 6000, user: 'envuser', database: 'mine' });
    expect(config('service=app', { ...env, PGSERVICE: 'other' })).toMatchObject({ host: 'svc-host' });
    expect(config(undefined, { ...env, PGSERVICE: 'other' })).toMatchObject({ host: 'wrong', port: 7000 });
    expect(config('host=h', { PGAPPNAME: 'mine', PGOPTIONS: '-c work_mem=64MB' }))
      .toMatchObject({ application_name: 'mine', options: '-c work_mem=64MB', database: os.userInfo().username });
    expect(refusal(() => config('service=nope', { PGSERVICEFILE: services })).message).toContain('"nope" was not found');
    expect(refusal(() => config('service=app', { PGSERVICEFILE: path.join(home, 'missing.conf') })).message).toContain('not found');
  });

  it('reads the password file as libpq does (wildcards, \\: escapes), and ignores it when others can read it', async () => {
    const file = write('pgpass', '# comment\nother:*:*:*:nope\n127.0.0.1:5433:*:u:pa\\:ss\\\\w:ignored\n*:*:*:*:fallback\n');
    const password = async (value: string) => (config(value, { PGPASSFILE: file }).password as () => Promise<string>)();
    await expect(password('host=127.0.0.1 port=5433 user=u dbname=d')).resolves.toBe('pa:ss\\w');
    await expect(password('host=127.0.0.1 port=5434 user=u dbname=d')).resolves.toBe('fallback');
    await expect(password('host=127.0.0.1 port=5433 user=u dbname=d password=given')).resolves.toBe('given');
    const loose = write('pgpass-loose', '*:*:*:*:fallback\n', 0o644);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await expect(password(`host=h user=u passfile=${loose}`)).rejects.toThrow(/password required/);
      expect(stderr.mock.calls.join('')).toContain('has group or world access');
    } finally {
      stderr.mockRestore();
    }
  });

  it('hands child tools the string minus secrets, --no-password, and the password in PGPASSWORD only', () => {
    const file = write('pgpass2', 'db:5432:prod:app:from-file\n');
    const kv = connectionArgs(endpoint("host=db user=app password='s3 cr3t' dbname=prod sslmode=require"), ENV);
    expect(kv).toEqual({ args: ['--dbname', 'host=db user=app dbname=prod sslmode=require', '--no-password'], env: { PGPASSWORD: 's3 cr3t' } });
    expect(connectionArgs(endpoint('postgresql://app@db/prod'), { ...ENV, PGPASSFILE: file }).env).toEqual({ PGPASSWORD: 'from-file' });
    expect(refusal(() => connectionArgs(endpoint('host=db sslpassword=k sslkey=/k'), ENV)).message).toContain('sslpassword');
  });
});

describe('sslmode as libpq means it', () => {
  const ca = write('tls/ca.crt', 'CA');

  it('prefer: TLS first, then plain; allow: plain first, then TLS; disable: plain; require etc.: TLS only', () => {
    const modes = (value: string) => connectAttempts(resolveConninfo(value, ENV, 'source'), 'source').map((a) => a.tls);
    expect(modes('host=h')).toEqual([true, false]);
    expect(modes('host=h sslmode=allow')).toEqual([false, true]);
    expect(modes('host=h sslmode=disable')).toEqual([false]);
    expect(modes('host=h sslmode=require')).toEqual([true]);
    expect(modes('host=h sslmode=verify-full')).toEqual([true]);
    expect(modes('host=h')).toEqual(modes('host=h sslmode=prefer'));
    expect(connectAttempts(resolveConninfo('host=h', { ...ENV, PGSSLMODE: 'disable' }, 'source'), 'source')).toHaveLength(1);
  });

  it('require encrypts without verifying, unless a root certificate exists: then it checks the chain like verify-ca', () => {
    expect(ssl('host=h sslmode=require')).toMatchObject({ rejectUnauthorized: false });
    const withRoot = ssl(`host=h sslmode=require sslrootcert=${ca}`) as ConnectionOptions;
    expect(withRoot).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('CA') });
    expect(withRoot.checkServerIdentity?.('h', {} as never)).toBeUndefined();
    write('.postgresql/root.crt', 'HOME CA');
    try {
      expect(ssl('host=h sslmode=require')).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('HOME CA') });
    } finally {
      rmSync(path.join(home, '.postgresql'), { recursive: true });
    }
  });

  it('verify-ca checks the chain only; verify-full checks the host name too, with PGSSLROOTCERT or sslrootcert', () => {
    const verifyCa = ssl(`host=db.example sslmode=verify-ca sslrootcert=${ca}`) as ConnectionOptions;
    expect(verifyCa).toMatchObject({ rejectUnauthorized: true, servername: 'db.example' });
    expect(verifyCa.checkServerIdentity?.('db.example', { subject: { CN: 'other' } } as never)).toBeUndefined();
    const full = ssl('host=db.example hostaddr=127.0.0.1 sslmode=verify-full', { PGSSLROOTCERT: ca }) as ConnectionOptions;
    expect(config('host=db.example hostaddr=127.0.0.1', { PGSSLROOTCERT: ca }).host).toBe('127.0.0.1');
    expect(full.checkServerIdentity?.('127.0.0.1', { subject: { CN: 'other' }, subjectaltname: 'DNS:other' } as never))
      .toBeInstanceOf(Error);
    expect(ssl(`host=db.example sslmode=verify-full sslrootcert=${ca} sslsni=0`)).not.toHaveProperty('servername');
  });

  it('verify-* without a root certificate file is an error, never Node\'s own CA list', () => {
    const error = refusal(() => ssl('host=h sslmode=verify-full'));
    expect(error.message).toContain('root certificate file');
    expect(error.hint).toContain('sslrootcert');
    expect(refusal(() => ssl('host=h sslmode=require sslrootcert=system')).message).toContain('sslrootcert=system');
    expect(ssl('host=h sslrootcert=system')).toMatchObject({ rejectUnauthorized: true });
    expect(ssl('host=h sslrootcert=system')).not.toHaveProperty('ca');
  });

  it('loads a client certificate and key (refusing a key others can read) with sslpassword', () => {
    const cert = write('tls/client.crt', 'CERT');
    const key = write('tls/client.key', 'KEY');
    expect(ssl(`host=h sslmode=require sslcert=${cert} sslkey=${key} sslpassword=kp`))
      .toMatchObject({ cert: Buffer.from('CERT'), key: Buffer.from('KEY'), passphrase: 'kp' });
    chmodSync(key, 0o644);
    expect(refusal(() => ssl(`host=h sslmode=require sslcert=${cert} sslkey=${key}`)).message).toContain('group or world access');
    expect(ssl(`host=h sslmode=require sslcert=${cert} sslkey=${key} sslcertmode=disable`)).not.toHaveProperty('cert');
  });
});

describe('TCP keepalives and timeouts', () => {
  it('are on by default with a 30 s idle time, and follow keepalives, keepalives_idle and connect_timeout', () => {
    expect(config('host=h')).toMatchObject({ keepAlive: true, keepAliveInitialDelayMillis: 30_000 });
    expect(config('host=h keepalives_idle=5 connect_timeout=1')).toMatchObject({ keepAliveInitialDelayMillis: 5000, connectionTimeoutMillis: 2000 });
    expect(config('host=h keepalives=0')).toMatchObject({ keepAlive: false });
    expect(config('host=h', { PGCONNECT_TIMEOUT: '20' })).toMatchObject({ connectionTimeoutMillis: 20_000 });
  });
});

describe('a password typed at the wizard\'s prompt', () => {
  it('goes into the string the way libpq reads it back', () => {
    expect(withPassword('postgresql://app@db/prod', 'p@ss/w:rd')).toBe('postgresql://app:p%40ss%2Fw%3Ard@db/prod');
    expect(withPassword('postgresql://db/prod', 'x')).toBe('postgresql://:x@db/prod');
    // No host in the URI (a Unix socket from ?host=): WHATWG URL would drop the password silently.
    expect(withPassword('postgresql:///db?host=/var/run/postgresql', 'x')).toBe('postgresql://:x@/db?host=/var/run/postgresql');
    expect(clientConfig(endpoint(withPassword('postgresql:///db?host=/tmp', 'p w')), ENV)).toMatchObject({ host: '/tmp', database: 'db' });
    expect(withPassword('host=db user=app', "it's")).toBe("host=db user=app password='it\\'s'");
    expect(withPassword(undefined, 'x y')).toBe("password='x y'");
  });
});
