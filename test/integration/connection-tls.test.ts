/**
 * libpq's sslmode meanings against real servers with TLS (clusters of this file's own, on
 * 127.0.0.1), each checked twice: with our client, and with the real psql given the same string
 * through connectionArgs. The two must agree, as psql and pg_dump run against the same servers.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_PASSWORD, findBinDir } from '../../src/core/local-cluster.js';
import { clusterUrl } from '../helpers/databases.js';
import { CERT_USER, ours, postgresKv, startTlsCluster, theirs, type TlsWorld } from '../helpers/tls-cluster.js';

/** Both clients reach the server with TLS. */
async function bothTls(world: TlsWorld, value: string, env = world.env): Promise<void> {
  expect(await ours(value, env)).toBe('tls');
  expect(theirs(world, value, env)).toBe('tls');
}

/** Both clients are refused; ours says `why`. */
async function bothRefused(world: TlsWorld, value: string, why: RegExp, env = world.env): Promise<string> {
  const message = await ours(value, env);
  expect(message).toMatch(/^error: /);
  expect(message).toMatch(why);
  expect(message).not.toContain(CLUSTER_PASSWORD);
  expect(theirs(world, value, env)).toMatch(/^error: /);
  return message;
}

describe('a server whose certificate a private CA signed (127.0.0.1, localhost)', () => {
  let world: TlsWorld;
  beforeAll(async () => { world = await startTlsCluster('tls-ca', 'ca'); });
  afterAll(() => world?.stop());

  it('verify-full with sslrootcert connects, in a key=value string and in a URI', async () => {
    await bothTls(world, postgresKv(world.cluster, `sslmode=verify-full sslrootcert=${world.certs.caCert}`));
    await bothTls(world, `postgresql://postgres:${CLUSTER_PASSWORD}@127.0.0.1:${world.cluster.port}/postgres` +
      `?sslmode=verify-full&sslrootcert=${encodeURIComponent(world.certs.caCert)}`);
    await bothTls(world, postgresKv(world.cluster, 'sslmode=verify-full'), { ...world.env, PGSSLROOTCERT: world.certs.caCert });
  });

  it('verify-full without the CA, or with another CA, is refused with what to do', async () => {
    const missing = await bothRefused(world, postgresKv(world.cluster, 'sslmode=verify-full'), /root certificate file .* does not exist/);
    expect(missing).toContain('sslrootcert=');
    await bothRefused(world, postgresKv(world.cluster, `sslmode=verify-full sslrootcert=${world.certs.otherCaCert}`),
      /certificate cannot be verified/);
  });

  it('verify-ca accepts a host name the certificate does not name; verify-full refuses it', async () => {
    const mismatch = `host=wrong.example hostaddr=127.0.0.1 port=${world.cluster.port} user=postgres dbname=postgres ` +
      `password=${CLUSTER_PASSWORD} sslrootcert=${world.certs.caCert}`;
    await bothTls(world, `${mismatch} sslmode=verify-ca`);
    await bothRefused(world, `${mismatch} sslmode=verify-full`, /does not match the host name/);
  });

  it('require, prefer (the default) and allow all end up on TLS; disable is refused by pg_hba.conf, clearly', async () => {
    await bothTls(world, postgresKv(world.cluster, 'sslmode=require'));
    await bothTls(world, postgresKv(world.cluster, ''));
    // allow: plain first; the server refuses it (hostssl only), so TLS next, as libpq does.
    await bothTls(world, postgresKv(world.cluster, 'sslmode=allow'));
    const refused = await bothRefused(world, postgresKv(world.cluster, 'sslmode=disable'), /no encryption/);
    expect(refused).toContain('only over TLS');
    // prefer with a wrong password: TLS refused, then plain refused by pg_hba.conf; the password is what to fix.
    const wrong = `host=127.0.0.1 port=${world.cluster.port} user=postgres dbname=postgres password=Wrong-pw-7`;
    const message = await bothRefused(world, wrong, /password authentication failed/);
    expect(message).not.toContain('only over TLS');
  });

  it('a client certificate (sslcert, sslkey) passes clientcert=verify-full; without it the login is refused', async () => {
    const asCertUser = `host=127.0.0.1 port=${world.cluster.port} user=${CERT_USER} dbname=postgres ` +
      `sslmode=verify-full sslrootcert=${world.certs.caCert}`;
    await bothTls(world, `${asCertUser} sslcert=${world.certs.clientCert} sslkey=${world.certs.clientKey}`);
    await bothRefused(world, asCertUser, /certificate/);
    // libpq's defaults: ~/.postgresql/postgresql.crt and .key, root.crt.
    const dotPostgresql = path.join(world.home, '.postgresql');
    mkdirSync(dotPostgresql);
    copyFileSync(world.certs.clientCert, path.join(dotPostgresql, 'postgresql.crt'));
    copyFileSync(world.certs.clientKey, path.join(dotPostgresql, 'postgresql.key')); // keeps its 0600
    copyFileSync(world.certs.caCert, path.join(dotPostgresql, 'root.crt'));
    try {
      await bothTls(world, `host=127.0.0.1 port=${world.cluster.port} user=${CERT_USER} dbname=postgres sslmode=verify-full`);
    } finally {
      rmSync(dotPostgresql, { recursive: true });
    }
  });
});

describe('a server with a self-signed certificate', () => {
  let world: TlsWorld;
  beforeAll(async () => { world = await startTlsCluster('tls-self', 'self'); });
  afterAll(() => world?.stop());

  it('require connects without verifying, as psql does', async () => {
    await bothTls(world, postgresKv(world.cluster, 'sslmode=require'));
    await bothTls(world, `postgresql://postgres:${CLUSTER_PASSWORD}@127.0.0.1:${world.cluster.port}/postgres?sslmode=require`);
  });

  it('require with a root certificate present checks the chain (libpq\'s rule), so it is refused; so is verify-ca', async () => {
    await bothRefused(world, postgresKv(world.cluster, `sslmode=require sslrootcert=${world.certs.caCert}`), /cannot be verified/);
    await bothRefused(world, postgresKv(world.cluster, `sslmode=verify-ca sslrootcert=${world.certs.caCert}`), /cannot be verified/);
  });
});

describe('a server without TLS (this run\'s source cluster)', () => {
  const env = { PATH: process.env.PATH, HOME: '/nonexistent', PGSYSCONFDIR: '/nonexistent' };

  it('prefer falls back to plain; require is refused with the reason', async () => {
    const world = { cluster: { binDir: findBinDir() } } as TlsWorld;
    const url = clusterUrl('source');
    expect(await ours(`${url}?sslmode=prefer`, env)).toBe('plain');
    expect(theirs(world, `${url}?sslmode=prefer`, env)).toBe('plain');
    expect(await ours(`${url}?sslmode=require`, env)).toMatch(/does not accept TLS/);
    expect(theirs(world, `${url}?sslmode=require`, env)).toMatch(/^error: /);
  });
});
