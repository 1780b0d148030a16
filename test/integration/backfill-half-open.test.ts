/**
 * Issue #7.4: no silent, unbounded wait. A target connection that goes half-open mid-COPY (here a
 * TCP proxy that stops forwarding without closing anything) is noticed and its slice retried; a
 * peer process that is stopped while it holds slices is named by the process waiting for them.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FROM, TABLE_ARG, UNTIL, createSource, expectExactBackfill, resetTarget, snapshotOutsideRange, waitFor,
} from '../helpers/backfill-fixture.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let dbs: TestDatabases;
let proxy: TcpProxy | undefined;
const dirs: string[] = [];

const output = (r: CliResult): string => `exit ${r.code} ${r.signal ?? ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

function backfill(target: string, extra: string[], onSpawn?: (child: ChildProcess) => void): Promise<CliResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-halfopen-'));
  dirs.push(dir);
  return runCli(['backfill', '--source', dbs.source, '--target', target, '--dir', dir, '--table', TABLE_ARG,
    '--until', UNTIL, '--from', FROM, '--slice', '1 hour', ...extra], {
    env: { MIGRATE_STALL_SECONDS: '3' }, timeoutMs: 240_000, ...(onSpawn ? { onSpawn } : {}),
  });
}

/** A COPY of the backfill is streaming into the target right now. */
async function copyRunning(): Promise<true | undefined> {
  const rows = await sql(dbs.target, `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'migrate %#%'
    AND ltrim(query) ILIKE 'COPY%' AND state = 'active'`, [dbs.targetName]);
  return rows.length > 0 ? true : undefined;
}

beforeAll(async () => {
  dbs = await createDatabases('halfopen');
  await createSource(dbs.source);
});

afterAll(async () => {
  await proxy?.close();
  await dbs.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('bounded waits', () => {
  it('a target connection that goes half-open mid-COPY is dropped and its slice copied again', async () => {
    await resetTarget(dbs.target);
    const untouched = await snapshotOutsideRange(dbs.target);
    proxy = await startProxy(Number(new URL(dbs.target).port));
    const viaProxy = dbs.target.replace(/:(\d+)\//, `:${proxy.port}/`);
    const current = proxy;
    const result = await backfill(viaProxy, ['--workers', '2'], () => {
      void waitFor('a COPY into the target', copyRunning, 120_000, 20).then(() => current.freeze());
    });
    expect(result.code, output(result)).toBe(0);
    expect(result.stderr).toContain('its connection is dead (half-open)');
    await expectExactBackfill(dbs.source, dbs.target, untouched);
  }, 300_000);

  it('a peer process stopped while it holds slices is named by the one waiting for them', async () => {
    await resetTarget(dbs.target);
    const untouched = await snapshotOutsideRange(dbs.target);
    let stopped: ChildProcess | undefined;
    const first = backfill(dbs.target, ['--workers', '1'], (child) => {
      void waitFor('a COPY into the target', copyRunning, 120_000, 20).then(() => {
        child.kill('SIGSTOP');
        stopped = child;
      });
    });
    await waitFor('the first process to be stopped', async () => stopped, 120_000, 20);
    let reported = '';
    const second = await backfill(dbs.target, ['--workers', '2'], (child) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        reported += chunk.toString();
        if (/waiting for the last slices, which other sessions hold/.test(reported)) stopped?.kill('SIGCONT');
      });
    });
    expect(second.code, output(second)).toBe(0);
    expect(second.stderr).toMatch(/pid \d+ "migrate public\.readings#\d+ [^"]*", transaction open \d+ s/);
    const firstResult = await first;
    expect(firstResult.code, output(firstResult)).toBe(0);
    await expectExactBackfill(dbs.source, dbs.target, untouched);
  });
});
