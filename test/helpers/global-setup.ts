/**
 * One source and one target cluster per test run. Test files create their own databases in them
 * (see databases.ts) so they never see each other's tables.
 */
import type { TestProject } from 'vitest/node';
import { startCluster, type Cluster } from '../../src/core/local-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    sourcePort: number;
    targetPort: number;
    hasTimescale: boolean;
    pgBinDir: string;
  }
}

let clusters: Cluster[] = [];

export default async function setup(project: TestProject): Promise<() => void> {
  const stopAll = (): void => {
    for (const cluster of clusters) {
      try { cluster.stop(); } catch (error) { console.error(String(error)); }
    }
    clusters = [];
  };
  process.once('exit', stopAll);
  // TimescaleDB preloaded on both sides where it is installed: a TimescaleDB source (issue #9) needs it,
  // and a database that never runs CREATE EXTENSION is plain PostgreSQL all the same.
  const source = await startCluster({ name: 'source', timescale: true });
  clusters.push(source);
  const target = await startCluster({ name: 'target', timescale: true });
  clusters.push(target);
  project.provide('sourcePort', source.port);
  project.provide('targetPort', target.port);
  project.provide('hasTimescale', target.hasTimescale);
  project.provide('pgBinDir', target.binDir);
  return stopAll;
}
