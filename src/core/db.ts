/**
 * Database access: connect with errors a person can act on, run work in a transaction, and read
 * time values as text so no microsecond is lost to JavaScript's Date.
 */
import pg from 'pg';
import { clientConfig, describeEndpoint, endpointFlag, redact, type Endpoint } from './connection.js';
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
  /** Shown in pg_stat_activity, so a DBA can see what a session belongs to. */
  applicationName?: string;
}

/** Open a client. Failures become MigrateErrors that say which side, why, and what to fix. */
export async function connect(endpoint: Endpoint, options: ConnectOptions = {}): Promise<Client> {
  const client = new pg.Client({
    ...clientConfig(endpoint),
    application_name: options.applicationName ?? 'migrate',
    types,
    connectionTimeoutMillis: 15_000,
  });
  try {
    await client.connect();
    // Every session of ours works in UTC so nothing depends on the server's or the OS's zone.
    // DateStyle too: a database set to 'SQL, DMY' would otherwise print 10/08/2023 for the values we
    // read as text, store (completion points, ledger edges) and hand to the other side.
    await client.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'");
  } catch (error) {
    await client.end().catch(() => undefined);
    throw explainConnectError(endpoint, error);
  }
  // An idle client whose server goes away emits 'error'; without a listener that would crash the
  // process. The next query on it fails and the caller handles that.
  client.on('error', () => undefined);
  return client;
}

export function explainConnectError(endpoint: Endpoint, error: unknown): MigrateError {
  const where = describeEndpoint(endpoint);
  const fix = endpointFlag(endpoint.side);
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' ||
      code === 'EAI_AGAIN' || /timeout expired|Connection terminated due to connection timeout/i.test(message)) {
    return new MigrateError(`Cannot reach the ${where}: ${message}.`, {
      hint: `Check that the server is running and accepts connections, and that ${fix} names the right host and port.`,
      cause: error,
    });
  }
  if (code === '28P01' || code === '28000') {
    return new UsageError(`The ${endpoint.side} server refused the login: ${scrub(message, endpoint)}.`, {
      hint: `Check the user and password in ${fix}, PGPASSWORD or ~/.pgpass, and the server's pg_hba.conf.`,
      cause: error,
    });
  }
  if (code === '3D000') {
    return new UsageError(`The ${endpoint.side} database does not exist: ${scrub(message, endpoint)}.`, {
      hint: `Create it first (createdb), or fix the database name in ${fix}.`,
      cause: error,
    });
  }
  if (isPgError(error)) {
    return new MigrateError(`Cannot connect to the ${where}: ${scrub(describeError(error), endpoint)}`, {
      hint: `Check ${fix}.`,
      cause: error,
    });
  }
  return new MigrateError(`Cannot connect to the ${where}: ${scrub(message, endpoint)}`, {
    hint: `Check ${fix}.`,
    cause: error,
  });
}

/** Belt and braces: never let a password that is in the connection string reach a message. */
function scrub(text: string, endpoint: Endpoint): string {
  const config = clientConfig(endpoint);
  let password = typeof config.password === 'string' ? config.password : undefined;
  if (password === undefined && endpoint.connectionString && /^postgres/i.test(endpoint.connectionString)) {
    try { password = decodeURIComponent(new URL(endpoint.connectionString).password) || undefined; } catch { /* ignore */ }
  }
  let result = text;
  if (endpoint.connectionString) result = result.split(endpoint.connectionString).join(redact(endpoint.connectionString));
  if (password) result = result.split(password).join('***');
  return result;
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
