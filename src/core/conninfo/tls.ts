/**
 * TLS the way libpq sets it up (initialize_SSL in fe-secure-openssl.c), as Node TLS options:
 *
 * - The root certificate is sslrootcert, else ~/.postgresql/root.crt. When that file exists the
 *   server's chain is verified in every sslmode that uses TLS, so `require` then behaves like
 *   `verify-ca` (libpq's rule, kept for compatibility). verify-ca/verify-full without the file is
 *   an error, never a silent fall back to Node's own CA list. `sslrootcert=system` means the
 *   trusted roots of the TLS library: Node's list here (plus NODE_EXTRA_CA_CERTS).
 * - verify-full also checks the host name (host=, even when hostaddr= is where we connect).
 * - The client certificate is sslcert, else ~/.postgresql/postgresql.crt when it exists, with
 *   sslkey (else ~/.postgresql/postgresql.key), which must not be readable by group or others,
 *   and sslpassword for an encrypted key. sslcrl (else ~/.postgresql/root.crl) when present.
 * - SNI is sent for host names unless sslsni=0.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { UsageError } from '../errors.js';
import type { Conninfo } from './resolve.js';

export type Verification = 'none' | 'chain' | 'full';

export interface TlsSettings {
  options: tls.ConnectionOptions;
  verification: Verification;
}

/**
 * Every connection of ours sets rejectUnauthorized from sslmode, so NODE_TLS_REJECT_UNAUTHORIZED
 * could change nothing but would make Node print its "insecure" warning on the first TLS connection.
 */
function silenceNodeTlsOverride(): void {
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED !== undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
}

function readPem(file: string, key: string, label: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`Cannot read the ${label} ${key} file "${file}" (${(error as NodeJS.ErrnoException).code ?? 'error'}).`, {
      hint: `Check the path and permissions of ${key}.`,
    });
  }
}

/** libpq refuses a key others could read: 0600 or less, or 0640 or less when root owns it. */
function checkKeyFile(file: string, label: string): void {
  const stat = statSync(file);
  if (!stat.isFile()) throw new UsageError(`The ${label} private key file "${file}" is not a regular file.`);
  const loose = stat.uid === 0 ? stat.mode & 0o037 : stat.mode & 0o077;
  if (process.platform !== 'win32' && loose !== 0) {
    throw new UsageError(`The ${label} private key file "${file}" has group or world access.`, {
      hint: `chmod 600 ${file} (or 640 when root owns it), as libpq requires.`,
    });
  }
}

const isIpAddress = (host: string): boolean => net.isIP(host) !== 0;

export function tlsSettings(info: Conninfo, label: string): TlsSettings {
  silenceNodeTlsOverride();
  const given = info.given;
  const inHome = (name: string): string | undefined => (info.home ? path.join(info.home, '.postgresql', name) : undefined);
  const options: tls.ConnectionOptions = {};
  const verifying = info.sslmode === 'verify-ca' || info.sslmode === 'verify-full';

  let verification: Verification = 'none';
  const rootcert = given.get('sslrootcert') || inHome('root.crt');
  if (rootcert === 'system') {
    verification = 'full'; // resolve.ts allows system only with verify-full, as libpq does
  } else if (rootcert && existsSync(rootcert)) {
    options.ca = readPem(rootcert, 'sslrootcert', label);
    verification = info.sslmode === 'verify-full' ? 'full' : 'chain';
    const crl = given.get('sslcrl') || inHome('root.crl');
    if (crl && existsSync(crl)) options.crl = readPem(crl, 'sslcrl', label);
  } else if (verifying) {
    throw new UsageError(`The ${label} connection uses sslmode=${info.sslmode}, but the root certificate file ` +
      `"${rootcert ?? '~/.postgresql/root.crt'}" does not exist.`, {
      hint: 'Give the CA certificate that signed the server\'s with sslrootcert=/path/to/ca.crt (or PGSSLROOTCERT), ' +
        'use the system\'s trusted roots with sslrootcert=system, or use sslmode=require to encrypt without verifying.',
    });
  }
  if (verification === 'full' && (!info.host || info.unixSocket)) {
    throw new UsageError(`The ${label} connection uses sslmode=verify-full but gives no host name to verify.`, {
      hint: 'Set host= to the name in the server\'s certificate (with hostaddr= for the address to connect to).',
    });
  }

  if ((given.get('sslcertmode') ?? 'allow') !== 'disable') {
    const cert = given.get('sslcert') || inHome('postgresql.crt');
    if (cert && existsSync(cert)) {
      const key = given.get('sslkey') || inHome('postgresql.key');
      if (!key || !existsSync(key)) {
        throw new UsageError(`The ${label} connection has a client certificate ("${cert}") but not its private key file ` +
          `("${key ?? '~/.postgresql/postgresql.key'}").`, { hint: 'Give the key with sslkey=/path/to/client.key (or PGSSLKEY).' });
      }
      checkKeyFile(key, label);
      options.cert = readPem(cert, 'sslcert', label);
      options.key = readPem(key, 'sslkey', label);
      const passphrase = given.get('sslpassword');
      if (passphrase) options.passphrase = passphrase;
    }
  }

  if (given.get('sslsni') !== '0' && info.host && !info.unixSocket && !isIpAddress(info.host)) options.servername = info.host;
  options.rejectUnauthorized = verification !== 'none';
  // verify-ca: the chain only. Node checks the host name unless told not to.
  options.checkServerIdentity = verification === 'full'
    ? (_name, cert) => tls.checkServerIdentity(info.host, cert)
    : () => undefined;
  options.minVersion = tlsVersion(given.get('ssl_min_protocol_version')) ?? 'TLSv1.2';
  const max = tlsVersion(given.get('ssl_max_protocol_version'));
  if (max) options.maxVersion = max;
  return { options, verification };
}

function tlsVersion(value: string | undefined): tls.SecureVersion | undefined {
  const versions: tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  return versions.find((v) => v.toLowerCase() === value?.toLowerCase());
}
