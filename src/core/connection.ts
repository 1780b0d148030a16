/**
 * Where the two databases are. A connection string comes from --source/--target, else the SOURCE /
 * TARGET environment variables (the names the reference procedure uses), else libpq's defaults
 * (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ~/.pgpass).
 *
 * Passwords may be in the connection string we are given, but they never leave this process in
 * anything we print or write: `redact` is used for every message and `splitPassword` hands the
 * password to child processes through PGPASSWORD, not through argv (which `ps` shows).
 */
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

function isUri(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

function validateConnectionString(side: Side, value: string): void {
  if (isUri(value)) {
    try {
      new URL(value);
      return;
    } catch {
      throw new UsageError(`The ${side} connection string is not a valid URI: ${redact(value)}`, {
        hint: `Use postgres://user@host:5432/dbname (percent-encode special characters in the password) for --${side}.`,
      });
    }
  }
  if (parseKeyValue(value) === undefined) {
    throw new UsageError(`The ${side} connection string cannot be read: ${redact(value)}`, {
      hint: `Use postgres://user@host:5432/dbname or "host=… port=… dbname=… user=…" for --${side}.`,
    });
  }
}

/** Parse libpq's `key=value key='quoted value'` form; undefined when it is not that form. */
export function parseKeyValue(value: string): Record<string, string> | undefined {
  const result: Record<string, string> = {};
  const pattern = /\s*([a-zA-Z_]+)\s*=\s*(?:'((?:\\.|[^'\\])*)'|([^\s']*))/y;
  let index = 0;
  while (index < value.trim().length) {
    pattern.lastIndex = index;
    const match = pattern.exec(value);
    if (!match) return undefined;
    const key = match[1] as string;
    result[key] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
    index = pattern.lastIndex;
  }
  return Object.keys(result).length > 0 ? result : undefined;
}

/** The connection string with any password replaced by `***`. Safe for messages and files. */
export function redact(value: string | undefined): string {
  if (value === undefined) return 'libpq defaults: PGHOST, PGPORT, PGUSER, PGDATABASE';
  return splitPassword(value).connectionString;
}

/**
 * Separate the password from a connection string: the rest is safe to show, store, or pass in argv;
 * the password goes to child processes as PGPASSWORD and to node-postgres as `password`.
 */
export function splitPassword(value: string): { connectionString: string; password: string | undefined } {
  if (isUri(value)) {
    try {
      const url = new URL(value);
      let password = url.password === '' ? undefined : decodeURIComponent(url.password);
      url.password = '';
      const queryPassword = url.searchParams.get('password');
      if (queryPassword !== null) {
        password = queryPassword;
        url.searchParams.delete('password');
      }
      return { connectionString: url.toString(), password };
    } catch {
      return { connectionString: value.replace(/:[^:@/]*@/, '@'), password: undefined };
    }
  }
  const pairs = parseKeyValue(value);
  if (!pairs) return { connectionString: value.replace(/password\s*=\s*('(?:\\.|[^'\\])*'|\S*)/gi, ''), password: undefined };
  const { password, ...rest } = pairs;
  const text = Object.entries(rest)
    .map(([k, v]) => `${k}=${/^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/(['\\])/g, '\\$1')}'`}`)
    .join(' ');
  return { connectionString: text, password };
}

/** node-postgres settings for an endpoint. libpq key=value strings are translated here. */
export function clientConfig(endpoint: Endpoint): { connectionString?: string; [key: string]: unknown } {
  const value = endpoint.connectionString;
  if (value === undefined) return {};
  if (isUri(value)) return { connectionString: value };
  const pairs = parseKeyValue(value) ?? {};
  const config: Record<string, unknown> = {};
  if (pairs.host !== undefined) config.host = pairs.host;
  if (pairs.hostaddr !== undefined && pairs.host === undefined) config.host = pairs.hostaddr;
  if (pairs.port !== undefined) config.port = Number(pairs.port);
  if (pairs.user !== undefined) config.user = pairs.user;
  if (pairs.password !== undefined) config.password = pairs.password;
  if (pairs.dbname !== undefined) config.database = pairs.dbname;
  if (pairs.sslmode !== undefined && pairs.sslmode !== 'disable') {
    config.ssl = pairs.sslmode === 'require' || pairs.sslmode === 'prefer' || pairs.sslmode === 'allow'
      ? { rejectUnauthorized: false } : true;
  }
  return config;
}

/** "source (postgres://app@db:5432/prod)" for messages. */
export function describeEndpoint(endpoint: Endpoint): string {
  return `${endpoint.side} (${redact(endpoint.connectionString)})`;
}

/** The flag and variable a user sets for this side, for hints. */
export function endpointFlag(side: Side): string {
  return side === 'source' ? '--source (or SOURCE)' : '--target (or TARGET)';
}
