/**
 * A run killed mid-dump (kill -9) leaves `<dir>/.dump.sql.<…>.tmp` behind; the next run of the
 * step clears it — only temp files of its own file, in the migration directory, whose writer is
 * gone — and leaves everything else, including a live run's temp file (issue #7 item 13a).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempPathFor } from '../../src/core/files.js';
import { runCli } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let dir: string;

beforeAll(async () => {
  dbs = await createDatabases('staletemp');
  await sql(dbs.source, `CREATE TABLE public.metrics (time timestamptz NOT NULL, v int);
    INSERT INTO public.metrics SELECT now() - g * interval '1 minute', g FROM generate_series(1, 100) g;
    CREATE TABLE public.devices (id int PRIMARY KEY);
    INSERT INTO public.devices SELECT generate_series(1, 5);`);
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-stale-'));
});
afterAll(async () => {
  await dbs?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** A temp name of `file` as the process `pid` on this host would have made it. */
function tempNameOf(file: string, pid: number): string {
  return path.basename(tempPathFor(file)).replace(`.${process.pid}-`, `.${pid}-`);
}

describe('stale temp files', () => {
  it('the schema step removes its own dead temp files and nothing else', async () => {
    const dump = path.join(dir, 'dump.sql');
    const deadPid = spawnSync('true').pid as number; // exited: a killed run's pid
    const live = spawn('sleep', ['60']);
    try {
      const stale = [tempNameOf(dump, deadPid), '.dump.sql.0123456789ab.tmp']; // …and the format before pids
      const kept = [
        tempNameOf(dump, live.pid as number), // a run still writing
        tempNameOf(path.join(dir, 'roles.sql'), deadPid), // another file's: its own step clears it
        `.dump.sql.${deadPid}-zzzzzzzz-00000000.tmp`, // not our pattern
        'dump.sql.bak', 'notes.tmp',
      ];
      for (const name of [...stale, ...kept]) writeFileSync(path.join(dir, name), 'partial dump');
      // Another host's temp file, if this host's tag happens not to be ffffffff.
      const otherHost = tempNameOf(dump, deadPid).replace(/-[0-9a-f]{8}-/, '-ffffffff-');
      if (otherHost !== tempNameOf(dump, deadPid)) { writeFileSync(path.join(dir, otherHost), 'x'); kept.push(otherHost); }

      const r = await runCli(['schema', '--source', dbs.source, '--target', dbs.target, '--dir', dir,
        '--table', 'public.metrics:time']);
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(dump)).toBe(true);
      const left = readdirSync(dir);
      for (const name of stale) expect(left).not.toContain(name);
      for (const name of kept) expect(left).toContain(name);
      // The run's own temp file is gone too (renamed into dump.sql).
      expect(left.filter((n) => n.startsWith('.dump.sql.')).sort()).toEqual(kept.filter((n) => n.startsWith('.dump.sql.')).sort());
    } finally {
      live.kill();
    }
  });
});
