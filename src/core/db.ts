/**
 * Database access: connect with errors a person can act on, run work in a transaction, and read
 * time values as text so no microsecond is lost to JavaScript's Date.
 */
import path from 'node:path';
import pg from 'pg';
import { connectAttempts, isTlsError, PasswordRequiredError, shouldTryNext, withoutSni } from './conninfo/client-config.js';
import { describeEndpoint, endpointFlag, resolveEndpointConninfo, scrubSecrets, type Endpoint } from './connection.js';
import type { Conninfo } from './conninfo/resolve.js';
import { MigrateError, UsageError, describeError, isPgError } from './errors.js';

export type Client = pg.Client;

// date, time, timestamp, timestamptz, timetz, interval: keep PostgreSQL's text. JavaScript's Date
// drops microseconds and applies the local time zone; both would corrupt completion points.
const TEXT_TYPES = new Set([1082, 1083, 1114, 1184, 1266, 1186]);
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    TEXT_TYPES.has(oid) ? (value: string) => value : pg.types.getTypeParser(oid, format as 'text')) as
    typeof pg.types.getTypeParser,
};

export interface ConnectOptions {
  /** Shown in pg_stat_activity, so a DBA can see what a session belongs to (an application_name the user gives wins). */
  applicationName?: string;
  /** Where PG* variables, HOME (service file, .pgpass, ~/.postgresql) come from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /**
   * Give up: the socket of the attempt under way is destroyed, so a connection that hangs (half-open
   * while it was being set up) neither stays pending nor keeps the process from exiting.
   */
  signal?: AbortSignal;
}

/**
 * Open a client, trying TLS and plain in the order libpq's sslmode gives. Failures become
 * MigrateErrors that say which side, why, and what to fix.
 */
export async function connect(endpoint: Endpoint, options: ConnectOptions = {}): Promise<Client> {
  const info = resolveEndpointConninfo(endpoint, options.env);
  const attempts = connectAttempts(info, endpoint.side, options.applicationName ?? 'migrate');
  let earlier: unknown;
  for (const [index, attempt] of attempts.entries()) {
    let client: pg.Client | undefined;
    options.signal?.throwIfAborted();
    const abort = (): void => { (client as unknown as { connection?: { stream?: { destroy(): void } } } | undefined)?.connection?.stream?.destroy(); };
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      client = new pg.Client({ ...(await withoutSni(attempt.config(), info)), types });
      await client.connect();
    } catch (error) {
      options.signal?.removeEventListener('abort', abort);
      await client?.end().catch(() => undefined);
      options.signal?.throwIfAborted();
      if (index + 1 < attempts.length && shouldTryNext(attempt, info, error)) {
        earlier = error;
        continue;
      }
      // prefer: a TLS session refused (say, a wrong password), then plain refused by a hostssl-only
      // pg_hba.conf. The first refusal is the one that says what to fix.
      const plainRefused = isPgError(error) && /no encryption/i.test(error.message);
      throw explainConnectError(endpoint, earlier !== undefined && isPgError(earlier) && plainRefused ? earlier : error, info);
    }
    try {
      // Every session of ours works in UTC so nothing depends on the server's or the OS's zone.
      // DateStyle too: a database set to 'SQL, DMY' would otherwise print 10/08/2023 for the values we
      // read as text, store (completion points, ledger edges) and hand to the other side.
      await client.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'");
    } catch (error) {
      await client.end().catch(() => undefined);
      options.signal?.throwIfAborted();
      throw explainConnectError(endpoint, error, info);
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
    // An idle client whose server goes away emits 'error'; without a listener that would crash the
    // process. The next query on it fails and the caller handles that.
    client.on('error', () => undefined);
    return client;
  }
  throw new MigrateError(`Cannot connect to the ${describeEndpoint(endpoint)}.`); // unreachable: there is always an attempt
}

const PASSWORD_WAYS = 'in the connection string (postgresql://user:PASSWORD@host/db or password=…), in PGPASSWORD, ' +
  'in ~/.pgpass (or the file PGPASSFILE names; mode 0600), as password=… in the service file (service=NAME or PGSERVICE), ' +
  'or run `migrate wizard` in a terminal to be asked for it';

/** Where the password we sent came from, as libpq says it ("password retrieved from file …"); never the password. */
function passwordOrigin(info: Conninfo | undefined): string {
  if (!info?.passwordFrom) return '';
  if (info.passwordFrom === 'password file') {
    const file = info.given.get('passfile') || (info.home ? path.join(info.home, '.pgpass') : 'the password file');
    return ` The password was read from the password file "${file}".`;
  }
  return ` The password came from ${info.passwordFrom === 'PGPASSWORD' ? 'PGPASSWORD' : `the ${info.passwordFrom}`}.`;
}

export function explainConnectError(endpoint: Endpoint, error: unknown, info?: Conninfo): MigrateError {
  if (error instanceof MigrateError) return error;
  const where = describeEndpoint(endpoint);
  const fix = endpointFlag(endpoint.side);
  const code = (error as { code?: string }).code;
  const message = scrubSecrets(error instanceof Error ? error.message : String(error), endpoint);
  // The error boundary prints a cause's own message too: it must be as clean as ours.
  const cause = scrubbedCause(error, endpoint);
  if (error instanceof PasswordRequiredError) {
    return new UsageError(`The ${endpoint.side} server asks for a password, but none was given (password required): ${where}.`, {
      hint: `Give the password ${PASSWORD_WAYS}. Passwords are never stored.`,
      cause,
    });
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' ||
      code === 'EAI_AGAIN' || code === 'ENOENT' || /timeout expired|Connection terminated due to connection timeout/i.test(message)) {
    return new MigrateError(`Cannot reach the ${where}: ${message}.`, {
      hint: `Check that the server is running and accepts connections, and that ${fix} names the right host and port.`,
      cause,
    });
  }
  const tls = explainTlsError(endpoint, error, message, cause);
  if (tls) return tls;
  if (code === '28P01' || code === '28000') {
    const onlyTls = /no encryption/i.test(message);
    return new UsageError(`The ${endpoint.side} server refused the login: ${message}.`, {
      hint: onlyTls
        ? `The server's pg_hba.conf accepts this connection only over TLS (hostssl): use sslmode=require or stronger in ${fix}, not disable.`
        : `Check the user and password in ${fix}, PGPASSWORD, ~/.pgpass (or PGPASSFILE) or the service file, ` +
          "the client certificate (sslcert, sslkey) if the server wants one, and the server's pg_hba.conf." +
          (code === '28P01' ? passwordOrigin(info) : ''),
      cause,
    });
  }
  if (code === '3D000') {
    return new UsageError(`The ${endpoint.side} database does not exist: ${message}.`, {
      hint: `Create it first (createdb), or fix the database name in ${fix}.`,
      cause,
    });
  }
  return new MigrateError(`Cannot connect to the ${where}: ${isPgError(error) ? scrubSecrets(describeError(error), endpoint) : message}`, {
    hint: `Check ${fix}.`,
    cause,
  });
}

/** Certificates and handshakes: say which check failed and which setting decides it. */
function explainTlsError(endpoint: Endpoint, error: unknown, message: string, cause: unknown): MigrateError | undefined {
  const code = (error as { code?: string }).code ?? '';
  const where = describeEndpoint(endpoint);
  if (/server does not support SSL/i.test(message)) {
    return new MigrateError(`The ${where} server does not accept TLS, but its sslmode requires it.`, {
      hint: 'Enable ssl on the server, or use sslmode=prefer (TLS when the server has it) in the connection string.',
      cause,
    });
  }
  if (!isTlsError(error)) return undefined;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new UsageError(`The ${where} server's certificate does not match the host name (sslmode=verify-full): ${message}.`, {
      hint: 'Connect with a host name the certificate was issued for (host=…, with hostaddr=… for the address), ' +
        'or use sslmode=verify-ca to check the CA only.',
      cause,
    });
  }
  if (/^(ERR_SSL_|ERR_TLS_)/.test(code)) {
    return new MigrateError(`The TLS handshake with the ${where} failed: ${message}.`, {
      hint: 'Check sslcert/sslkey (a server that wants a client certificate rejects a missing or unknown one), ' +
        'ssl_min_protocol_version and the server\'s ssl settings.',
      cause,
    });
  }
  return new UsageError(`The ${where} server's certificate cannot be verified (${code}): ${message}.`, {
    hint: 'Give the CA that signed it with sslrootcert=/path/to/ca.crt (or PGSSLROOTCERT), ' +
      'or use sslmode=require to encrypt without verifying the server (as libpq does).',
    cause,
  });
}

/** The error itself, or a copy without the secrets its message, detail or hint quoted. */
function scrubbedCause(error: unknown, endpoint: Endpoint): unknown {
  if (!(error instanceof Error)) return error;
  const fields = error as Error & { detail?: string; hint?: string };
  const clean = (text: string | undefined): string | undefined => (text === undefined ? undefined : scrubSecrets(text, endpoint));
  if (clean(fields.message) === fields.message && clean(fields.detail) === fields.detail && clean(fields.hint) === fields.hint) return error;
  return Object.assign(new Error(clean(fields.message)), {
    code: (error as { code?: string }).code, detail: clean(fields.detail), hint: clean(fields.hint),
  });
}

export async function withClient<T>(endpoint: Endpoint, work: (client: Client) => Promise<T>,
  options: ConnectOptions = {}): Promise<T> {
  const client = await connect(endpoint, options);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TransactionOptions {
  isolation?: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
  readOnly?: boolean;
}

/** Run `work` in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
export async function withTransaction<T>(client: Client, work: () => Promise<T>,
  options: TransactionOptions = {}): Promise<T> {
  const mode = [options.isolation ? `ISOLATION LEVEL ${options.isolation}` : '', options.readOnly ? 'READ ONLY' : '']
    .filter(Boolean).join(' ');
  await client.query(`BEGIN${mode ? ` ${mode}` : ''}`);
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The server's major version (15, 16, …) from server_version_num. */
export async function serverMajorVersion(client: Client): Promise<number> {
  // SHOW names its column after the setting, so alias an explicit current_setting() instead.
  const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  return Math.floor(Number(rows[0]?.v) / 10000);
}

/** Installed TimescaleDB version in the connected database, or undefined. */
export async function timescaleVersion(client: Client): Promise<string | undefined> {
  const { rows } = await client.query<{ extversion: string }>(
    "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
  return rows[0]?.extversion;
}
