/**
 * node-postgres settings for a resolved connection, one per attempt libpq would make:
 * `prefer` tries TLS and then, if the server has no TLS, the handshake fails or the server refuses
 * the session, plain; `allow` tries plain and then TLS; `require` and the `verify-*` modes only
 * TLS; `disable` and Unix sockets only plain (libpq never uses TLS on a socket).
 *
 * We never hand node-postgres a connection string (pg-connection-string has its own sslmode
 * meanings and prints a SECURITY WARNING about them), and the password is a function, so that
 * node-postgres' own ~/.pgpass lookup (and its DeprecationWarning) never runs and a server asking
 * for a password we do not have gives PasswordRequiredError instead of a SASL TypeError.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import type pg from 'pg';
import { isPgError } from '../errors.js';
import type { Conninfo } from './resolve.js';
import { tlsSettings } from './tls.js';

/** A half-open TCP connection must be noticed well under a minute (Node probes every 1 s, 10 times). */
const DEFAULT_KEEPALIVE_IDLE_SECONDS = 30;
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

export class PasswordRequiredError extends Error {
  constructor() {
    super('password required: the server asked for a password and none was given');
    this.name = 'PasswordRequiredError';
  }
}

export interface ConnectAttempt {
  tls: boolean;
  /** Built when tried: an `allow` connection needs no readable certificates until it tries TLS. */
  config(): pg.ClientConfig;
}

function integer(value: string | undefined): number | undefined {
  return value === undefined || value.trim() === '' ? undefined : Number(value);
}

function baseConfig(info: Conninfo, fallbackApplicationName: string | undefined): pg.ClientConfig {
  const given = info.given;
  const keepalives = integer(given.get('keepalives'));
  const idle = integer(given.get('keepalives_idle'));
  const timeout = integer(given.get('connect_timeout'));
  const password = info.password;
  return {
    // hostaddr is where to connect; host stays the name TLS verifies.
    host: info.hostaddr ?? info.host,
    port: info.port,
    user: info.user,
    database: info.dbname,
    password: async () => {
      if (!password) throw new PasswordRequiredError();
      return password;
    },
    keepAlive: keepalives === undefined || keepalives !== 0,
    keepAliveInitialDelayMillis: (idle !== undefined && idle > 0 ? idle : DEFAULT_KEEPALIVE_IDLE_SECONDS) * 1000,
    // libpq: 0 or less waits for ever, and less than 2 s means 2 s.
    connectionTimeoutMillis: timeout === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : timeout <= 0 ? 0 : Math.max(timeout, 2) * 1000,
    // The user's application_name (string, service, PGAPPNAME) wins over ours, as over psql's.
    application_name: given.get('application_name') || undefined,
    fallback_application_name: fallbackApplicationName ?? given.get('fallback_application_name'),
    options: given.get('options') || undefined,
    // node-postgres decodes UTF-8 only; keep PGCLIENTENCODING from changing that under it.
    client_encoding: 'UTF8',
    // libpq's default channel_binding=prefer: SCRAM-SHA-256-PLUS whenever the server offers it.
    enableChannelBinding: given.get('channel_binding') !== 'disable',
  };
}

export function connectAttempts(info: Conninfo, label: string, fallbackApplicationName?: string): ConnectAttempt[] {
  const plain: ConnectAttempt = { tls: false, config: () => ({ ...baseConfig(info, fallbackApplicationName), ssl: false }) };
  if (info.unixSocket || info.sslmode === 'disable') return [plain];
  const secure: ConnectAttempt = {
    tls: true,
    config: () => ({
      ...baseConfig(info, fallbackApplicationName),
      ssl: tlsSettings(info, label).options,
      sslnegotiation: info.given.get('sslnegotiation') === 'direct' ? 'direct' : 'postgres',
    }),
  };
  if (info.sslmode === 'allow') return [plain, secure];
  if (info.sslmode === 'prefer') return [secure, plain];
  return [secure];
}

const TLS_ERROR = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|INVALID_CA|PATH_LENGTH|HOSTNAME_MISMATCH)/;

/** A failed TLS handshake or certificate check (Node's codes for OpenSSL's X509 errors). */
export function isTlsError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && TLS_ERROR.test(code);
}

/** Would libpq try the next attempt (other TLS mode) after this failure? */
export function shouldTryNext(attempt: ConnectAttempt, info: Conninfo, error: unknown): boolean {
  if (error instanceof PasswordRequiredError) return false;
  // 57P03 "cannot connect now" is about the server, not the TLS mode.
  const serverRefused = isPgError(error) && (error as { code?: string }).code !== '57P03';
  if (info.sslmode === 'allow') return !attempt.tls && serverRefused;
  if (info.sslmode !== 'prefer' || !attempt.tls) return false;
  const noTls = error instanceof Error && /server does not support SSL/i.test(error.message);
  return noTls || isTlsError(error) || serverRefused;
}

/**
 * sslsni=0 with a host name: node-postgres sends SNI for every name it connects to, so connect to
 * the looked-up address instead; the name is still what verify-full checks (tls.ts).
 */
export async function withoutSni(config: pg.ClientConfig, info: Conninfo): Promise<pg.ClientConfig> {
  if (!config.ssl || info.given.get('sslsni') !== '0' || info.hostaddr || !info.host || net.isIP(info.host) !== 0) return config;
  const { address } = await dns.lookup(info.host);
  return { ...config, host: address };
}
