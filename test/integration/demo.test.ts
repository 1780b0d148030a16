/**
 * `migrate demo --yes`, kept light (a small data scale): two throwaway clusters, the application
 * with its dual-writing writer, the whole wizard unattended, and nothing left behind.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { hasTimescale } from '../helpers/databases.js';
import { readStateFile } from '../helpers/migration.js';

async function demoClusterDirs(): Promise<string[]> {
  return (await readdir(os.tmpdir())).filter((name) => /^migrate-demo-(source|target)-/.test(name));
}

describe('migrate demo --yes', () => {
  it('runs the whole migration on throwaway clusters and removes them', async () => {
    const before = await demoClusterDirs();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'migrate-demo-test-'));
    try {
      const r = await runCli(['demo', '--yes', '--scale', '0.02', '--dir', dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('Filling the source with a small application');
      expect(r.stderr).toContain('(demo) The writer now dual-writes');
      expect(r.stderr).toMatch(/✔ Validation: source and target match/);
      expect(r.stderr).toContain('both demo clusters are stopped and removed');
      if (!hasTimescale) expect(r.stderr).toContain('the hypertable step will report itself skipped');
      const state = await readStateFile(dir);
      expect(state?.steps.hypertables?.status).toBe(hasTimescale ? 'done' : 'skipped');
      expect(Object.values(state?.steps ?? {}).every((s) => s.status === 'done' || s.status === 'skipped')).toBe(true);
      expect((await demoClusterDirs()).filter((d) => !before.includes(d))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
