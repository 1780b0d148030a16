/**
 * Where the two databases are. A connection string comes from --source/--target, else the SOURCE /
 * TARGET environment variables (the names the reference procedure uses), else libpq's defaults.
 * Strings are read by libpq's rules and merged with service files, the PG* variables and the
 * password file as libpq does (src/core/conninfo/), so our own connections and psql/pg_dump
 * reach the same server with the same TLS checks.
 *
 * Passwords may be in the connection string we are given, but they never leave this process in
 * anything we print or write: `redact` is used for every message and file, and child processes get
 * the password through PGPASSWORD, not through argv (which `ps` shows).
 */
import type pg from 'pg';
import { connectAttempts } from './conninfo/client-config.js';
import { SECRET_KEYWORDS } from './conninfo/keywords.js';
import { ConninfoSyntaxError, parseConninfo, quoteKeywordValue, uriPrefixLength } from './conninfo/parse.js';
import { hasSecret, maskSecrets, redactConninfo, secretValues } from './conninfo/redact.js';
import { resolveConninfo, type Conninfo } from './conninfo/resolve.js';
import { UsageError } from './errors.js';

export type Side = 'source' | 'target';

export interface Endpoint {
  side: Side;
  /** URI (`postgres://…`) or libpq key=value string; undefined means "libpq defaults". */
  connectionString: string | undefined;
}

export function resolveEndpoint(side: Side, flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const fromEnv = env[side === 'source' ? 'SOURCE' : 'TARGET'];
  const value = flag ?? (fromEnv === '' ? undefined : fromEnv);
  if (value !== undefined) validateConnectionString(side, value);
  return { side, connectionString: value };
}

const FORMS = 'Use postgresql://user@host:5432/dbname or "host=… port=… dbname=… user=…"';

/** Why a connection string cannot be used (never quoting a secret), or undefined when it can. */
export function connectionStringProblem(value: string): { problem: string; hint: string } | undefined {
  if (/^postgres(ql)?:\/\//i.test(value) && uriPrefixLength(value) === 0) {
    return { problem: 'the URI scheme must be written in lower case, as libpq reads it', hint: `${FORMS}.` };
  }
  if (uriPrefixLength(value) === 0 && !value.includes('=')) {
    return { problem: 'it is neither a postgresql:// URI nor key=value pairs', hint: `${FORMS} (a database name alone is dbname=NAME).` };
  }
  try {
    parseConninfo(value);
    return undefined;
  } catch (error) {
    if (!(error instanceof ConninfoSyntaxError)) throw error;
    return { problem: error.message, hint: error.hint ?? `${FORMS}.` };
  }
}

function validateConnectionString(side: Side, value: string): void {
  const found = connectionStringProblem(value);
  if (found) {
    throw new UsageError(`The ${side} connection string is not valid (${found.problem}): ${redact(value)}`, {
      hint: `${found.hint} Give it with --${side} or ${side.toUpperCase()}.`,
    });
  }
}

/** The connection string with every secret removed (or, if it does not parse, masked). Safe for messages and files. */
export function redact(value: string | undefined): string {
  if (value === undefined) return 'libpq defaults: PGHOST, PGPORT, PGUSER, PGDATABASE';
  return redactConninfo(value);
}

/** Whether a connection string holds a password (or another secret) in any form. */
export { hasSecret };

/**
 * Separate the password from a connection string: the rest is safe to show, store, or pass in argv;
 * the password goes to child processes as PGPASSWORD and to node-postgres as `password`.
 */
export function splitPassword(value: string): { connectionString: string; password: string | undefined } {
  try {
    const parsed = parseConninfo(value);
    return { connectionString: parsed.withoutSecrets, password: parsed.params.get('password') || undefined };
  } catch {
    return { connectionString: redactConninfo(value), password: undefined };
  }
}

/** Put a password (typed at a prompt) into a connection string, in memory only. */
export function withPassword(connectionString: string | undefined, password: string): string {
  const value = connectionString ?? '';
  if (uriPrefixLength(value) === 0) return `${value} password=${quoteKeywordValue(password)}`.trim();
  const userinfo = parseConninfo(value).userinfo;
  const encoded = encodeURIComponent(password);
  if (userinfo) return `${value.slice(0, userinfo.userEnd)}:${encoded}${value.slice(userinfo.end)}`;
  const start = uriPrefixLength(value);
  return `${value.slice(0, start)}:${encoded}@${value.slice(start)}`;
}

/** The endpoint merged with service file, PG* variables and password file, as libpq would. */
export function resolveEndpointConninfo(endpoint: Endpoint, env: NodeJS.ProcessEnv = process.env): Conninfo {
  return resolveConninfo(endpoint.connectionString, env, endpoint.side);
}

/**
 * node-postgres settings for an endpoint (the first attempt libpq would make: TLS first for
 * `prefer`). `connect()` in db.ts makes the others too.
 */
export function clientConfig(endpoint: Endpoint, env: NodeJS.ProcessEnv = process.env): pg.ClientConfig {
  const [first] = connectAttempts(resolveEndpointConninfo(endpoint, env), endpoint.side);
  return (first as NonNullable<typeof first>).config();
}

/** Every secret this endpoint could bring into a message: from the string, the service file, PGPASSWORD or .pgpass. */
export function endpointSecrets(endpoint: Endpoint, env: NodeJS.ProcessEnv = process.env): string[] {
  const secrets = endpoint.connectionString === undefined ? [] : secretValues(endpoint.connectionString);
  try {
    const info = resolveEndpointConninfo(endpoint, env);
    for (const [key, value] of info.given) if (SECRET_KEYWORDS.has(key) && value) secrets.push(value);
    if (info.password) secrets.push(info.password);
  } catch { /* an unusable string brings no more secrets than those it holds */ }
  return secrets;
}

/** Belt and braces for text we pass on (driver and tool messages): no password, no raw connection string. */
export function scrubSecrets(text: string, endpoint: Endpoint): string {
  let result = text;
  const value = endpoint.connectionString;
  if (value) result = result.split(value).join(redact(value));
  return maskSecrets(result, endpointSecrets(endpoint));
}

/** "source (postgres://app@db:5432/prod)" for messages. */
export function describeEndpoint(endpoint: Endpoint): string {
  return `${endpoint.side} (${redact(endpoint.connectionString)})`;
}

/** The flag and variable a user sets for this side, for hints. */
export function endpointFlag(side: Side): string {
  return side === 'source' ? '--source (or SOURCE)' : '--target (or TARGET)';
}
