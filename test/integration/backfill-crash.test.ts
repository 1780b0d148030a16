/**
 * `migrate backfill` survives what production throws at it: the process SIGKILLed mid-copy, the
 * target's or the source's COPY backend terminated by a DBA, and a --redo over finished work. After
 * each, [FROM, UNTIL) on the target equals the source row for row, no key is there twice, and the
 * dual-written rows at or after UNTIL (and the target-only rows before FROM) are the very tuples
 * that were there before. See ../helpers/backfill-fixture.ts for the data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FROM, QUALIFIED, TABLE_ARG, UNTIL, between, createSource, expectExactBackfill, fingerprint, readSlices, resetTarget,
  snapshotOutsideRange, waitFor, type Untouched,
} from '../helpers/backfill-fixture.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
const dirs: string[] = [];

beforeAll(async () => {
  dbs = await createDatabases('bfcrash');
  await createSource(dbs.source);
});

afterAll(async () => {
  await dbs?.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-bfcrash-'));
  dirs.push(dir);
  return dir;
}

function backfill(dir: string, extra: string[] = [], onSpawn?: (child: ChildProcess) => void): Promise<CliResult> {
  return runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', TABLE_ARG,
    '--from', FROM, '--until', UNTIL, '--slice', '1 hour', '--workers', '2', ...extra], { onSpawn });
}

const output = (r: CliResult): string => `exit ${r.code} signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/**
 * After a crash: every done slice equals the source over its range, and every pending slice holds
 * exactly what dual-writes had put there (nothing half-copied, nothing deleted).
 */
async function expectSliceWiseConsistent(): Promise<{ done: number; pending: number }> {
  const slices = await readSlices(dbs.target);
  let done = 0;
  for (const slice of slices) {
    const where = between(slice.range_start, slice.range_end);
    const actual = await fingerprint(dbs.target, QUALIFIED, where);
    if (slice.status === 'done') {
      done += 1;
      expect(actual, `done slice [${slice.range_start}, ${slice.range_end})`).toEqual(await fingerprint(dbs.source, QUALIFIED, where));
    } else {
      expect(actual, `pending slice [${slice.range_start}, ${slice.range_end})`)
        .toEqual(await fingerprint(dbs.target, 'public.pre_existing', where));
    }
  }
  return { done, pending: slices.length - done };
}

/** Run a backfill and SIGKILL it once some but not all slices are done. */
async function killMidCopy(dir: string): Promise<void> {
  let child: ChildProcess | undefined;
  const run = backfill(dir, [], (c) => { child = c; });
  await waitFor('some but not all slices done', async () => {
    const [row] = await sql<{ done: string; total: string }>(dbs.target,
      "SELECT count(*) FILTER (WHERE status = 'done') AS done, count(*) AS total FROM _migrate.backfill_slice");
    return row && Number(row.done) >= 1 && Number(row.done) < Number(row.total) ? true : undefined;
  });
  child?.kill('SIGKILL');
  const killed = await run;
  expect(killed.signal, output(killed)).toBe('SIGKILL');
}

describe.each([
  { kind: 'plain table', hypertable: false },
  ...(hasTimescale ? [{ kind: '[timescaledb] hypertable', hypertable: true }] : []),
])('backfill into a $kind', ({ hypertable }) => {
  it('SIGKILL mid-copy leaves every slice all-or-nothing, and running again finishes exactly', async () => {
    await resetTarget(dbs.target, { hypertable });
    const untouched = await snapshotOutsideRange(dbs.target);
    const dir = freshDir();
    await killMidCopy(dir);

    const { done, pending } = await expectSliceWiseConsistent();
    expect(done).toBeGreaterThan(0);
    expect(pending).toBeGreaterThan(0);
    expect(await snapshotOutsideRange(dbs.target)).toEqual(untouched);

    const again = await backfill(dir);
    expect(again.code, output(again)).toBe(0);
    await expectExactBackfill(dbs.source, dbs.target, untouched);
    expect((await readSlices(dbs.target)).every((s) => s.status === 'done')).toBe(true);
  });
});

describe('backfill with a terminated COPY backend', () => {
  for (const side of ['target', 'source'] as const) {
    it(`retries the slice when the ${side}'s COPY is terminated and still copies exactly`, async () => {
      const url = side === 'target' ? dbs.target : dbs.source;
      const database = side === 'target' ? dbs.targetName : dbs.sourceName;
      let untouched: Untouched | undefined;
      let terminated = 0;
      let run: Promise<CliResult> | undefined;
      // A run can finish between two polls before any COPY was seen (the source side streams each
      // slice fast): nothing was proven then, so it starts over, up to three times.
      for (let attempt = 0; attempt < 3 && terminated === 0; attempt += 1) {
        await resetTarget(dbs.target);
        untouched = await snapshotOutsideRange(dbs.target);
        let finished = false;
        run = backfill(freshDir()).finally(() => { finished = true; });
        // Terminate COPYs while the run lasts, up to twice (two slices, or one slice twice). A fast
        // run may end before the second lands; one termination already proves the retry.
        await waitFor(`a migrate COPY on the ${side}`, async () => {
          const rows = await sql<{ ok: boolean }>(url,
            `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
              WHERE datname = $1 AND application_name LIKE 'migrate%' AND ltrim(query) ILIKE 'COPY%' AND state = 'active'
                AND pid <> pg_backend_pid()`, [database]);
          terminated += rows.filter((r) => r.ok).length;
          if (terminated > 0) await new Promise((resolve) => setTimeout(resolve, 300));
          return terminated >= 2 || finished ? terminated : undefined;
        });
        if (terminated === 0) await run;
      }
      const result = await (run as Promise<CliResult>);
      expect(terminated).toBeGreaterThanOrEqual(1);
      expect(result.code, output(result)).toBe(0);
      await expectExactBackfill(dbs.source, dbs.target, untouched as Untouched);
      const slices = await readSlices(dbs.target);
      expect(slices.some((s) => s.attempts > 1), 'some slice needed a second attempt').toBe(true);
    });
  }
});

describe('backfill --redo', () => {
  it('redoes [FROM, UNTIL) exactly and never touches the rows at or after UNTIL', async () => {
    await resetTarget(dbs.target);
    const untouched = await snapshotOutsideRange(dbs.target);
    const dir = freshDir();
    const first = await backfill(dir);
    expect(first.code, output(first)).toBe(0);

    // Damage the backfilled range: a lost row, a changed row, an extra row. Only a real redo repairs it.
    const damaged = `SELECT (SELECT count(*) FROM ${QUALIFIED} WHERE time = '2024-01-01T05:00:00Z' AND device_id = 3)::int AS lost,
      (SELECT value FROM ${QUALIFIED} WHERE time = '2024-01-01T20:00:00Z' AND device_id = 4) AS changed,
      (SELECT count(*) FROM ${QUALIFIED} WHERE device_id = 77)::int AS extra`;
    await sql(dbs.target, `
      DELETE FROM ${QUALIFIED} WHERE time = '2024-01-01T05:00:00Z' AND device_id = 3;
      UPDATE ${QUALIFIED} SET value = -7 WHERE time = '2024-01-01T20:00:00Z' AND device_id = 4;
      INSERT INTO ${QUALIFIED} VALUES ('2024-01-01T12:00:00.5Z', 77, 1);`);
    // Without --redo, done slices are skipped: the damage stays.
    const again = await backfill(dir);
    expect(again.code, output(again)).toBe(0);
    expect(await sql(dbs.target, damaged)).toEqual([{ lost: 0, changed: -7, extra: 1 }]);

    const redo = await backfill(dir, ['--redo']);
    expect(redo.code, output(redo)).toBe(0);
    expect(await sql(dbs.target, damaged)).toEqual([{ lost: 1, changed: 720004 * 0.5, extra: 0 }]);
    await expectExactBackfill(dbs.source, dbs.target, untouched);
  });
});

describe('backfill when the server closes idle sessions', () => {
  // idle_session_timeout (PostgreSQL 14+) is a common server setting; the backfill's own control
  // session sits idle while the workers copy. A complete backfill must still exit 0.
  it('finishes with exit 0 and an exact copy under idle_session_timeout = 1s on the target', async () => {
    await resetTarget(dbs.target);
    const untouched = await snapshotOutsideRange(dbs.target);
    await sql(dbs.target, `ALTER DATABASE "${dbs.targetName}" SET idle_session_timeout = '1s'`);
    try {
      const result = await backfill(freshDir());
      expect((await readSlices(dbs.target)).every((s) => s.status === 'done')).toBe(true);
      expect(result.code, output(result)).toBe(0);
      await expectExactBackfill(dbs.source, dbs.target, untouched);
    } finally {
      await sql(dbs.target, `ALTER DATABASE "${dbs.targetName}" RESET idle_session_timeout`);
    }
  });
});
