/**
 * What libpq would connect to for a connection string: the string's own settings, then the
 * service file's (service= or PGSERVICE), then the PG* environment variables, then libpq's
 * defaults (conninfo_add_defaults and pqConnectOptions2). The password comes from the string, the
 * service, PGPASSWORD, or the password file, in that order.
 *
 * Settings node-postgres cannot honour are refused here, by name, rather than silently ignored
 * when they matter for security (require_auth, channel_binding=require, …). Messages never quote a
 * secret.
 */
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { KEYWORDS } from './keywords.js';
import { ConninfoSyntaxError, parseConninfo, type ParsedConninfo } from './parse.js';
import { passwordFromFile } from './pgpass.js';
import { redactConninfo } from './redact.js';
import { readService } from './service-file.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export type PasswordSource = 'connection string' | 'service file' | 'PGPASSWORD' | 'password file';

export interface Conninfo {
  /** The string as given, parsed; undefined when there is none (libpq defaults only). */
  parsed: ParsedConninfo | undefined;
  /** Every setting from the string, the service file or the environment (not libpq's built-in defaults). */
  given: ReadonlyMap<string, string>;
  /** The host as libpq sees it: a name, an address, or a socket directory. */
  host: string;
  hostaddr: string | undefined;
  port: number;
  user: string;
  dbname: string;
  unixSocket: boolean;
  password: string | undefined;
  passwordFrom: PasswordSource | undefined;
  sslmode: SslMode;
  home: string | undefined;
}

type Env = NodeJS.ProcessEnv;
const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** Parse a string for the `label` side ("source", "target"): a UsageError that quotes no secret. */
export function parseForUse(value: string, label: string): ParsedConninfo {
  try {
    return parseConninfo(value);
  } catch (error) {
    if (!(error instanceof ConninfoSyntaxError)) throw error;
    throw new UsageError(`The ${label} connection string is not valid (${error.message}): ${redactConninfo(value)}`, {
      hint: error.hint ?? 'Use postgresql://user@host:5432/dbname or "host=… port=… dbname=… user=…".',
    });
  }
}

/** libpq's compiled-in socket directory: /var/run/postgresql on Debian builds, /tmp upstream. */
export function defaultSocketDir(): string {
  return existsSync('/var/run/postgresql') ? '/var/run/postgresql' : '/tmp';
}

function osUser(env: Env): string {
  try { return os.userInfo().username; } catch { return env.USER ?? env.LOGNAME ?? ''; }
}

export function resolveConninfo(value: string | undefined, env: Env, label: string): Conninfo {
  const parsed = value === undefined ? undefined : parseForUse(value, label);
  const given = new Map(parsed?.params ?? []);
  const from = new Map<string, PasswordSource>();
  if (given.has('password')) from.set('password', 'connection string');
  const home = env.HOME || (() => { try { return os.homedir(); } catch { return undefined; } })();

  const service = given.get('service') ?? (env.PGSERVICE || undefined);
  if (service) {
    for (const [key, v] of readService(service, env, home)) {
      if (given.has(key)) continue;
      given.set(key, v);
      if (key === 'password') from.set(key, 'service file');
    }
  }
  for (const [key, variable] of KEYWORDS) {
    const v = variable === undefined ? undefined : env[variable];
    if (given.has(key) || v === undefined || v === '') continue;
    given.set(key, v);
    if (key === 'password') from.set(key, 'PGPASSWORD');
  }
  if (!given.has('sslmode') && env.PGREQUIRESSL?.startsWith('1')) given.set('sslmode', 'require');
  refuseUnsupported(given, label);

  const hostaddr = single(given, 'hostaddr', label) || undefined;
  const givenHost = single(given, 'host', label);
  const host = givenHost || (hostaddr ? '' : defaultSocketDir());
  if (host.startsWith('@')) throw unsupported(label, 'host', 'abstract Unix sockets (host=@…) are not supported');
  const port = portNumber(single(given, 'port', label), label);
  const user = given.get('user') || osUser(env);
  const dbname = given.get('dbname') || user;

  let password = given.get('password') || undefined;
  let passwordFrom = password === undefined ? undefined : from.get('password');
  const passfile = given.get('passfile') || (home ? path.join(home, '.pgpass') : undefined);
  if (password === undefined && passfile) {
    password = passwordFromFile(passfile, { host: host || hostaddr || '', defaultSocketDir: defaultSocketDir(),
      port: String(port), dbname, user }) || undefined;
    if (password !== undefined) passwordFrom = 'password file';
  }

  const rootcert = given.get('sslrootcert');
  const sslmode = (given.get('sslmode') ?? (rootcert === 'system' ? 'verify-full' : 'prefer')) as SslMode;
  if (!SSL_MODES.includes(sslmode)) throw invalidValue(label, 'sslmode', SSL_MODES);
  if (rootcert === 'system' && sslmode !== 'verify-full') {
    throw new UsageError(`The ${label} connection uses sslrootcert=system with the weak sslmode "${sslmode}".`, {
      hint: 'The system CAs vouch for anyone\'s host name: use sslmode=verify-full with sslrootcert=system (as libpq requires).',
    });
  }
  if (given.get('sslnegotiation') === 'direct' && !['require', 'verify-ca', 'verify-full'].includes(sslmode)) {
    throw new UsageError(`The ${label} connection uses sslnegotiation=direct with the weak sslmode "${sslmode}".`, {
      hint: 'Direct TLS needs sslmode=require, verify-ca or verify-full (as in libpq).',
    });
  }
  return { parsed, given, host, hostaddr, port, user, dbname, unixSocket: host.startsWith('/') && !hostaddr,
    password, passwordFrom, sslmode, home };
}

/** One host (libpq takes comma-separated lists for failover; we connect to exactly one). */
function single(given: Map<string, string>, key: string, label: string): string {
  const v = given.get(key) ?? '';
  if (v.includes(',')) {
    throw new UsageError(`The ${label} connection names several ${key === 'port' ? 'ports' : 'hosts'} (${key}=a,b): ` +
      'host lists are not supported.', { hint: `Give the one server to migrate ${label === 'target' ? 'to' : 'from'}.` });
  }
  return v.trim();
}

function portNumber(text: string, label: string): number {
  if (text === '') return 5432;
  const port = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new UsageError(`The ${label} connection's port is not a number from 1 to 65535.`, {
      hint: 'Check port= (or PGPORT). In a URI, a password holding "/" must be percent-encoded (%2F), or libpq reads it as host:port.',
    });
  }
  return port;
}

function invalidValue(label: string, key: string, allowed: readonly string[]): UsageError {
  return new UsageError(`The ${label} connection has an invalid ${key} value.`, { hint: `Use one of: ${allowed.join(', ')}.` });
}

function unsupported(label: string, key: string, why: string): UsageError {
  return new UsageError(`The ${label} connection sets ${key}, which migrate cannot honour: ${why}.`, {
    hint: `Remove ${key} from the connection string, the service file and the environment (libpq variables PG*).`,
  });
}

const INTEGER_KEYS = ['connect_timeout', 'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout'];
const ENUMS: Record<string, readonly string[]> = {
  channel_binding: ['disable', 'prefer', 'require'], sslcertmode: ['disable', 'allow', 'require'],
  gssencmode: ['disable', 'prefer', 'require'], sslnegotiation: ['postgres', 'direct'], sslsni: ['0', '1'],
  target_session_attrs: ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'],
  load_balance_hosts: ['disable', 'random'],
  ssl_min_protocol_version: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'], ssl_max_protocol_version: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'],
};

/** Validate values, and refuse settings node-postgres cannot honour where honouring them matters. */
function refuseUnsupported(given: Map<string, string>, label: string): void {
  for (const key of INTEGER_KEYS) {
    const v = given.get(key);
    if (v !== undefined && v.trim() !== '' && !/^\s*-?\d+\s*$/.test(v)) throw invalidValue(label, key, ['an integer']);
  }
  for (const [key, allowed] of Object.entries(ENUMS)) {
    const v = given.get(key);
    if (v !== undefined && v !== '' && !allowed.some((a) => a === v || (key.startsWith('ssl_') && a.toLowerCase() === v.toLowerCase()))) {
      throw invalidValue(label, key, allowed);
    }
  }
  const why: Array<[string, (v: string) => boolean, string]> = [
    ['require_auth', (v) => v !== '', 'node-postgres cannot restrict the authentication methods'],
    ['requirepeer', (v) => v !== '', 'node-postgres cannot check the peer of a Unix socket'],
    ['replication', (v) => v !== '' && v !== '0' && v !== 'false' && v !== 'off' && v !== 'no', 'migrate needs normal sessions'],
    ['channel_binding', (v) => v === 'require', 'node-postgres uses channel binding when offered but cannot insist on it'],
    ['gssencmode', (v) => v === 'require', 'GSSAPI encryption is not available'],
    ['sslcertmode', (v) => v === 'require', 'node-postgres cannot tell whether the server asked for the certificate'],
    ['target_session_attrs', (v) => v !== '' && v !== 'any', 'it chooses among several hosts; give the one server instead'],
    ['min_protocol_version', (v) => v !== '' && v !== '3.0', 'node-postgres speaks protocol 3.0'],
    ['sslcrldir', (v) => v !== '', 'give the revocation list as one file with sslcrl'],
  ];
  for (const [key, applies, reason] of why) {
    const v = given.get(key);
    if (v !== undefined && applies(v)) throw unsupported(label, key, reason);
  }
  for (const key of ['oauth_issuer', 'oauth_client_id', 'oauth_client_secret', 'scram_client_key', 'scram_server_key']) {
    if (given.get(key)) throw unsupported(label, key, 'node-postgres has no OAuth or SCRAM-key authentication');
  }
  for (const key of ['sslcert', 'sslkey', 'sslrootcert', 'sslcrl']) {
    const file = given.get(key);
    if (file && file !== 'system' && existsSync(file) && statSync(file).isDirectory()) {
      throw new UsageError(`The ${label} connection's ${key} names a directory, not a file.`, { hint: `Point ${key} at the PEM file.` });
    }
  }
}
