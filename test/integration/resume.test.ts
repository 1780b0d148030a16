/**
 * A journey: the unattended wizard is interrupted (SIGINT, as Ctrl-C sends) half-way through the
 * backfill; `migrate status` shows where it stands; `migrate resume` copies only the unfinished
 * slices and the two databases end up equal, row for row.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';
import { expectSameRows, fillSource, readStateFile, startApplication } from '../helpers/migration.js';

async function ledger(target: string): Promise<{ done: number; total: number }> {
  try {
    const rows = await sql<{ done: string; total: string }>(target,
      "SELECT count(*) FILTER (WHERE status = 'done') AS done, count(*) AS total FROM _migrate.backfill_slice");
    return { done: Number(rows[0]?.done), total: Number(rows[0]?.total) };
  } catch {
    return { done: 0, total: 0 }; // no ledger yet
  }
}

describe.skipIf(!hasTimescale)('[timescaledb] interrupted backfill, then migrate resume', () => {
  let dbs: TestDatabases;
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'migrate-resume-test-'));
    dbs = await createDatabases('resume');
    await fillSource(dbs.source, 0.1);
  });
  afterAll(async () => {
    await dbs.drop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('stops cleanly on Ctrl-C, reports where it stands, and resumes at the unfinished slices', async () => {
    const dir = path.join(tmp, 'migration');
    const plan = path.join(tmp, 'plan.json');
    await writeFile(plan, JSON.stringify({
      tables: [{ table: 'public.metrics', timeColumn: 'time' }],
      dualWrites: { confirmed: true, minRowsPerTable: 3, waitSeconds: 60 },
      completionPoint: { margin: '1 second', lateness: '1 second', waitSeconds: 60 },
      // Many small slices, one worker: the backfill takes long enough to be interrupted half-way.
      backfill: { workers: 1, slice: '5 minutes' },
    }));
    const connection = ['--source', dbs.source, '--target', dbs.target, '--dir', dir];
    const app = await startApplication(dbs.source, dbs.target, dir);
    try {
      let interruptedAt = { done: 0, total: 0 };
      const first = await runCli(['wizard', '--yes', '--plan', plan, ...connection], {
        onSpawn: (child) => {
          const timer = setInterval(() => {
            void ledger(dbs.target).then((l) => {
              if (l.done >= 20 && child.exitCode === null && interruptedAt.done === 0) {
                interruptedAt = l;
                clearInterval(timer);
                child.kill('SIGINT');
              }
            });
          }, 50);
          child.on('exit', () => clearInterval(timer));
        },
      });
      expect(first.code, first.stderr).toBe(130);
      expect(interruptedAt.done).toBeGreaterThanOrEqual(20);
      expect(first.stderr).toContain('Stopping at the next safe point');
      expect(first.stderr).toMatch(/Interrupted during "Backfill"; everything finished so far is kept/);
      expect(first.stderr).toContain('migrate resume --dir');
      const state = await readStateFile(dir);
      expect(state?.steps.backfill?.status).toBe('interrupted');
      expect(state?.steps['completion-point']?.status).toBe('done');
      const after = await ledger(dbs.target);
      expect(after.done).toBeLessThan(after.total);
      // The interrupted slices rolled back; no slice is left half-claimed.
      const claimed = await sql(dbs.target, "SELECT 1 FROM _migrate.backfill_slice WHERE status NOT IN ('done', 'pending')");
      expect(claimed).toEqual([]);

      const status = await runCli(['status', '--dir', dir, '--target', dbs.target]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/⏸ +8\. Backfill +interrupted/);
      expect(status.stdout).toContain(`public.metrics: ${after.done}/${after.total} slices done`);
      expect(status.stdout).toContain('next: migrate resume --dir');
      const json = JSON.parse((await runCli(['status', '--json', '--dir', dir, '--target', dbs.target])).stdout);
      expect(json.steps.find((s: { id: string }) => s.id === 'backfill').status).toBe('interrupted');
      expect(json.backfill).toEqual([{ table: 'public.metrics', done: after.done, total: after.total, rowsDone: expect.any(Number) }]);

      const resumed = await runCli(['resume', '--yes', ...connection]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/✔ +7\. Completion point +done/); // where it stands, first
      const finalState = await readStateFile(dir);
      expect(Object.values(finalState?.steps ?? {}).map((s) => s.status)).toEqual(Array(11).fill('done'));
      const steps = finalState?.steps as unknown as Record<string, { outcome: Record<string, { until?: string; rowsCopied?: number }[]> }>;
      const until = steps['completion-point']?.outcome.points?.[0]?.until;
      const outcome = steps.backfill?.outcome.tables?.[0];
      // Only the unfinished slices were copied this time.
      const below = await sql<{ n: string }>(dbs.source, 'SELECT count(*) AS n FROM metrics WHERE time < $1::timestamptz', [until]);
      expect(Number(below[0]?.n)).toBeGreaterThan(20_000);
      expect(outcome?.rowsCopied).toBeGreaterThan(0);
      expect(outcome?.rowsCopied).toBeLessThan(Number(below[0]?.n));
      expect(await ledger(dbs.target)).toEqual({ done: after.total, total: after.total });
    } finally {
      await app.stop();
    }
    expect(await expectSameRows(dbs.source, dbs.target, 'metrics', 'device_id, time')).toBeGreaterThan(20_000);
    await expectSameRows(dbs.source, dbs.target, 'devices', 'id');

    // Changing the recorded tables after the schema is loaded is explained and refused.
    const changed = await runCli(['resume', '--yes', '--table', 'public.events', ...connection]);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain('The tables to convert changed (add public.events; drop public.metrics)');
  });
});
