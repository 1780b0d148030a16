/**
 * Per-test-file databases in the run's shared clusters. Every call gets fresh, uniquely named
 * source and target databases; `drop()` removes them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { CLUSTER_PASSWORD } from '../../src/core/local-cluster.js';

export const hasTimescale: boolean = inject('hasTimescale');
export const pgBinDir: string = inject('pgBinDir');

export function clusterUrl(side: 'source' | 'target', database = 'postgres', user = 'postgres',
  password = CLUSTER_PASSWORD): string {
  const port = inject(side === 'source' ? 'sourcePort' : 'targetPort');
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/** Run SQL (simple protocol, several statements allowed) and return the last result's rows. */
export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string,
  params?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET TimeZone = 'UTC'");
    const result = await client.query<T>(text, params);
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return (last as pg.QueryResult<T>).rows;
  } finally {
    await client.end();
  }
}

export interface TestDatabases {
  source: string;
  target: string;
  sourceName: string;
  targetName: string;
  drop(): Promise<void>;
}

export async function createDatabases(label: string): Promise<TestDatabases> {
  const suffix = randomBytes(4).toString('hex');
  const sourceName = `src_${label}_${suffix}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const targetName = `tgt_${label}_${suffix}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await sql(clusterUrl('source'), `CREATE DATABASE "${sourceName}"`);
  await sql(clusterUrl('target'), `CREATE DATABASE "${targetName}"`);
  return {
    source: clusterUrl('source', sourceName),
    target: clusterUrl('target', targetName),
    sourceName,
    targetName,
    async drop() {
      await sql(clusterUrl('source'), `DROP DATABASE IF EXISTS "${sourceName}" WITH (FORCE)`);
      await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${targetName}" WITH (FORCE)`);
    },
  };
}

/**
 * A source and a target database for a TimescaleDB source, both on the target cluster: the source
 * cluster does not preload TimescaleDB (tests of "installed but not preloaded" need one that does not).
 */
export async function createTimescaleDatabases(label: string): Promise<TestDatabases> {
  const dbs = await createDatabases(label);
  const name = `${dbs.sourceName}_ts`;
  await sql(clusterUrl('source'), `DROP DATABASE IF EXISTS "${dbs.sourceName}"`);
  await sql(clusterUrl('target'), `CREATE DATABASE "${name}"`);
  return {
    ...dbs, source: clusterUrl('target', name), sourceName: name,
    async drop() {
      await dbs.drop();
      await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
