/**
 * Prints one line at the end of the run saying how many TimescaleDB tests were skipped and why,
 * so a green run on a machine without TimescaleDB never looks like full coverage.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { findBinDir, timescaleInstalled } from '../../src/core/local-cluster.js';

export default class TimescaleSkipReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.fullName.includes('[timescaledb]') && test.result().state === 'skipped') skipped += 1;
      }
    }
    // Tests skipped by a -t filter are 'skipped' too: only speak when TimescaleDB is really missing.
    if (skipped > 0 && !timescaleInstalled(findBinDir())) {
      console.log(`\n${skipped} TimescaleDB test(s) skipped: TimescaleDB is not installed for the local PostgreSQL ` +
        '(build and install it, then run the tests again to cover hypertables, compression and policies).');
    }
  }
}
