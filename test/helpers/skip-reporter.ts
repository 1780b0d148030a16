/**
 * Prints one line at the end of the run saying how many TimescaleDB (and pg_partman) tests were
 * skipped and why, so a green run on a machine without them never looks like full coverage.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { findBinDir, timescaleInstalled } from '../../src/core/local-cluster.js';

/** pg_partman's control file in the local PostgreSQL's extension directory. */
function partmanInstalled(): boolean {
  const pgConfig = path.join(findBinDir(), 'pg_config');
  const result = spawnSync(existsSync(pgConfig) ? pgConfig : 'pg_config', ['--sharedir'], { encoding: 'utf8' });
  return result.status === 0 && existsSync(path.join(result.stdout.trim(), 'extension', 'pg_partman.control'));
}

export default class TimescaleSkipReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let skipped = 0;
    let partman = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.result().state !== 'skipped') continue;
        if (test.fullName.includes('[pg_partman]') && !partmanInstalled()) partman += 1;
        else if (test.fullName.includes('[timescaledb]')) skipped += 1;
      }
    }
    if (partman > 0) {
      console.log(`\n${partman} pg_partman test(s) skipped: pg_partman is not installed for the local PostgreSQL ` +
        '(Debian: apt-get install postgresql-15-partman, for the server\'s major version; .ci/run tries it).');
    }
    // Tests skipped by a -t filter are 'skipped' too: only speak when TimescaleDB is really missing.
    if (skipped > 0 && !timescaleInstalled(findBinDir())) {
      console.log(`\n${skipped} TimescaleDB test(s) skipped: TimescaleDB is not installed for the local PostgreSQL ` +
        '(build and install it, then run the tests again to cover hypertables, compression and policies).');
    }
  }
}
