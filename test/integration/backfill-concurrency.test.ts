/**
 * Two `migrate backfill` processes on the same ledger (as on two machines) share the slices: both
 * finish cleanly, every slice is copied exactly once, and each process did some of the work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FROM, TABLE_ARG, UNTIL, createSource, expectExactBackfill, readSlices, resetTarget, snapshotOutsideRange,
} from '../helpers/backfill-fixture.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, hasTimescale, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
const dirs: string[] = [];

beforeAll(async () => {
  dbs = await createDatabases('bfconc');
  await createSource(dbs.source);
});

afterAll(async () => {
  await dbs?.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function backfill(): Promise<CliResult> {
  // Each process has its own migration directory, as it would on its own machine: only the ledger
  // in the target is shared.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-bfconc-'));
  dirs.push(dir);
  return runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', TABLE_ARG,
    '--from', FROM, '--until', UNTIL, '--slice', '1 hour', '--workers', '2']);
}

const output = (r: CliResult): string => `exit ${r.code} signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

describe.each([
  { kind: 'plain table', hypertable: false },
  ...(hasTimescale ? [{ kind: '[timescaledb] hypertable', hypertable: true }] : []),
])('two concurrent backfills into a $kind', ({ hypertable }) => {
  it('share the slices, both exit 0, and the range is copied exactly once', async () => {
    await resetTarget(dbs.target, { hypertable });
    const untouched = await snapshotOutsideRange(dbs.target);

    const [a, b] = await Promise.all([backfill(), backfill()]);
    expect(a.code, output(a)).toBe(0);
    expect(b.code, output(b)).toBe(0);
    await expectExactBackfill(dbs.source, dbs.target, untouched);

    const slices = await readSlices(dbs.target);
    expect(slices.length).toBeGreaterThanOrEqual(10);
    expect(slices.every((s) => s.status === 'done')).toBe(true);
    // claimed_by names the process (and worker) that finished the slice: both processes did some.
    const processes = new Set(slices.map((s) => processOf(s.claimed_by)));
    expect([...processes], JSON.stringify(slices.map((s) => s.claimed_by))).toHaveLength(2);
    // Nobody copied a slice that had already been copied: one attempt each.
    expect(slices.filter((s) => s.attempts !== 1)).toEqual([]);
  });
});

/** The process part of claimed_by; the format is decided by the engine (see the first run's ledger). */
function processOf(claimedBy: string | null): string {
  return (claimedBy ?? 'nobody').replace(/[/#:]w(orker)?\d+$/i, '');
}
