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
  // The source cluster has TimescaleDB's files but does not preload them (tests of "installed but not
  // preloaded" use it); a TimescaleDB source lives on the target cluster, in a database of its own.
  const source = await startCluster({ name: 'source' });
  clusters.push(source);
  const target = await startCluster({ name: 'target', timescale: true });
  clusters.push(target);
  project.provide('sourcePort', source.port);
  project.provide('targetPort', target.port);
  project.provide('hasTimescale', target.hasTimescale);
  project.provide('pgBinDir', target.binDir);
  return stopAll;
}
