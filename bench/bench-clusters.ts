/**
 * The benchmark's own source and target clusters, kept under one directory (default
 * /tmp/migrate-bench, or MIGRATE_BENCH_DIR) so a second run reuses the generated data instead of
 * spending a minute re-creating it. A marker file says the directory is ours: we never delete or
 * stop anything we did not create, and the servers listen on 127.0.0.1 only.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startCluster, type Cluster } from '../src/core/local-cluster.js';

export const BENCH_ROOT = process.env.MIGRATE_BENCH_DIR ?? '/tmp/migrate-bench';
const MARKER = 'MIGRATE-BENCH-CLUSTERS';

export interface BenchClusters {
  source: Cluster;
  target: Cluster;
  reused: boolean;
  stop(): void;
}

function claimRoot(fresh: boolean): boolean {
  const marker = path.join(BENCH_ROOT, MARKER);
  if (existsSync(BENCH_ROOT) && readdirSync(BENCH_ROOT).length > 0 && !existsSync(marker)) {
    throw new Error(`${BENCH_ROOT} exists but was not created by the benchmark (no ${MARKER} file); ` +
      'remove it or set MIGRATE_BENCH_DIR to another directory.');
  }
  const reused = existsSync(path.join(BENCH_ROOT, 'source', 'data', 'PG_VERSION'));
  if (fresh && existsSync(marker)) rmSync(BENCH_ROOT, { recursive: true, force: true });
  mkdirSync(BENCH_ROOT, { recursive: true });
  writeFileSync(marker, 'Clusters of `npm run bench` (migrate). Safe to delete; `npm run bench -- --fresh` recreates them.\n');
  return reused && !fresh;
}

export async function startBenchClusters(fresh: boolean): Promise<BenchClusters> {
  const reused = claimRoot(fresh);
  const source = await startCluster({ name: 'bench-source', baseDir: path.join(BENCH_ROOT, 'source'), keep: true });
  let target: Cluster;
  try {
    target = await startCluster({ name: 'bench-target', timescale: true, baseDir: path.join(BENCH_ROOT, 'target'), keep: true });
  } catch (error) {
    source.stop();
    throw error;
  }
  return {
    source,
    target,
    reused,
    stop() {
      for (const cluster of [target, source]) {
        try { cluster.stop(); } catch (error) { console.error(String(error)); }
      }
    },
  };
}
