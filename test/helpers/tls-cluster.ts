/**
 * A throwaway cluster of the test's own with TLS on (certificates from certs.ts), listening on
 * 127.0.0.1 only, and the same checks done two ways: by our client (connect()) and by the real psql
 * through connectionArgs, so a test can assert that both behave alike.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '../../src/core/db.js';
import { CLUSTER_PASSWORD, startCluster, type Cluster } from '../../src/core/local-cluster.js';
import { connectionArgs } from '../../src/core/pg-tools.js';
import { makeCerts, read, type TestCerts } from './certs.js';

export const CERT_USER = 'certuser';

export interface TlsWorld {
  cluster: Cluster;
  certs: TestCerts;
  tmp: string;
  /** An empty HOME: no ~/.pgpass, ~/.pg_service.conf or ~/.postgresql of the machine's. */
  home: string;
  /** The environment for our client and psql: PATH, that HOME, nothing else of libpq's. */
  env: NodeJS.ProcessEnv;
  stop(): void;
}

/** `signedBy: 'ca'` (the private CA signs the server's certificate) or 'self' (self-signed). */
export async function startTlsCluster(name: string, signedBy: 'ca' | 'self'): Promise<TlsWorld> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `migrate-${name}-`));
  const home = path.join(tmp, 'home');
  mkdirSync(home);
  const certs = makeCerts(path.join(tmp, 'certs'), CERT_USER);
  const [cert, key] = signedBy === 'ca' ? [certs.serverCert, certs.serverKey] : [certs.selfSignedCert, certs.selfSignedKey];
  const cluster = await startCluster({
    name,
    files: { 'server.crt': read(cert), 'server.key': read(key), 'ca.crt': read(certs.caCert) },
    conf: ['ssl = on', "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'", "ssl_ca_file = 'ca.crt'"],
    // TLS only: a plain connection over TCP has no pg_hba.conf entry.
    hba: ['local all all trust', `hostssl all ${CERT_USER} 127.0.0.1/32 trust clientcert=verify-full`,
      'hostssl all all 127.0.0.1/32 scram-sha-256'],
  });
  const env = { PATH: process.env.PATH, HOME: home, PGSYSCONFDIR: home };
  const admin = await connect({ side: 'target', connectionString: postgresKv(cluster, 'sslmode=require') }, { env });
  await admin.query(`CREATE ROLE ${CERT_USER} LOGIN`);
  await admin.end();
  return {
    cluster, certs, tmp, home, env,
    stop() {
      try { cluster.stop(); } finally { rmSync(tmp, { recursive: true, force: true }); }
    },
  };
}

/** host=127.0.0.1 port=… user=postgres dbname=postgres (password=… unless `withPassword` is false) plus `extra`. */
export function postgresKv(cluster: Cluster, extra: string, withPassword = true): string {
  const password = withPassword ? ` password=${CLUSTER_PASSWORD}` : '';
  return `host=127.0.0.1 port=${cluster.port} user=postgres dbname=postgres${password} ${extra}`.trim();
}

const SSL_IN_USE = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

/** Our client: 'tls' or 'plain' for a session that worked, else "error: message hint". */
export async function ours(value: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const client = await connect({ side: 'source', connectionString: value }, { env });
    const { rows } = await client.query<{ ssl: boolean }>(SSL_IN_USE);
    await client.end();
    return rows[0]?.ssl ? 'tls' : 'plain';
  } catch (error) {
    return `error: ${(error as Error).message} ${(error as { hint?: string }).hint ?? ''}`;
  }
}

/** The real psql, pointed at the endpoint by connectionArgs: 'tls', 'plain', or "error: stderr". */
export function theirs(world: Pick<TlsWorld, 'cluster'>, value: string | undefined, env: NodeJS.ProcessEnv): string {
  const { args, env: extra } = connectionArgs({ side: 'source', connectionString: value }, env);
  const result = spawnSync(path.join(world.cluster.binDir, 'psql'), ['-X', '-A', '-t', '-c', SSL_IN_USE, ...args],
    { env: { ...env, ...extra }, encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) return `error: ${result.stderr}`;
  return result.stdout.trim() === 't' ? 'tls' : 'plain';
}
