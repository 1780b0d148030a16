/**
 * libpq's connection keywords (PostgreSQL 18's list) and the environment variable each one falls
 * back to, as in PQconninfoOptions in libpq's fe-connect.c. Keywords are case-sensitive there, and
 * so they are here: `PASSWORD=x` is an invalid option for psql, and for us.
 *
 * A Map, not an object: a hostile `constructor=x` must not find Object.prototype.
 */
export const KEYWORDS: ReadonlyMap<string, string | undefined> = new Map([
  ['service', 'PGSERVICE'], ['user', 'PGUSER'], ['password', 'PGPASSWORD'], ['passfile', 'PGPASSFILE'],
  ['channel_binding', 'PGCHANNELBINDING'], ['connect_timeout', 'PGCONNECT_TIMEOUT'], ['dbname', 'PGDATABASE'],
  ['host', 'PGHOST'], ['hostaddr', 'PGHOSTADDR'], ['port', 'PGPORT'], ['client_encoding', 'PGCLIENTENCODING'],
  ['options', 'PGOPTIONS'], ['application_name', 'PGAPPNAME'], ['fallback_application_name', undefined],
  ['keepalives', undefined], ['keepalives_idle', undefined], ['keepalives_interval', undefined],
  ['keepalives_count', undefined], ['tcp_user_timeout', undefined],
  ['sslmode', 'PGSSLMODE'], ['sslnegotiation', 'PGSSLNEGOTIATION'], ['sslcompression', 'PGSSLCOMPRESSION'],
  ['sslcert', 'PGSSLCERT'], ['sslkey', 'PGSSLKEY'], ['sslcertmode', 'PGSSLCERTMODE'], ['sslpassword', undefined],
  ['sslrootcert', 'PGSSLROOTCERT'], ['sslcrl', 'PGSSLCRL'], ['sslcrldir', 'PGSSLCRLDIR'], ['sslsni', 'PGSSLSNI'],
  ['requirepeer', 'PGREQUIREPEER'], ['require_auth', 'PGREQUIREAUTH'],
  ['ssl_min_protocol_version', 'PGSSLMINPROTOCOLVERSION'], ['ssl_max_protocol_version', 'PGSSLMAXPROTOCOLVERSION'],
  ['min_protocol_version', 'PGMINPROTOCOLVERSION'], ['max_protocol_version', 'PGMAXPROTOCOLVERSION'],
  ['gssencmode', 'PGGSSENCMODE'], ['krbsrvname', 'PGKRBSRVNAME'], ['gsslib', 'PGGSSLIB'],
  ['gssdelegation', 'PGGSSDELEGATION'], ['replication', undefined],
  ['target_session_attrs', 'PGTARGETSESSIONATTRS'], ['load_balance_hosts', 'PGLOADBALANCEHOSTS'],
  ['scram_client_key', undefined], ['scram_server_key', undefined],
  ['oauth_issuer', undefined], ['oauth_client_id', undefined], ['oauth_client_secret', undefined],
  ['oauth_scope', undefined],
]);

/** Keywords whose values are secrets: never printed, stored, or put in a child's argv. */
export const SECRET_KEYWORDS: ReadonlySet<string> = new Set([
  'password', 'sslpassword', 'oauth_client_secret', 'scram_client_key', 'scram_server_key',
]);

/**
 * Does a key name (any case, as a hostile string may spell it) look like a secret's? Used by the
 * conservative redaction of strings that do not parse.
 */
export function looksSecret(key: string): boolean {
  return /password|secret|scram_(client|server)_key/i.test(key);
}

/** The libpq keyword this name is, ignoring case (for "write `password`, not `PASSWORD`"). */
export function keywordIgnoringCase(name: string): string | undefined {
  const lower = name.toLowerCase();
  return KEYWORDS.has(lower) ? lower : undefined;
}
