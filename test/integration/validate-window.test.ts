/**
 * Issue #8.5: rows at or after T reach the target only by dual-writes. One the application failed
 * to send, or a future-dated row written before dual-writes began, makes validate exit 3 naming it
 * (time and key), not "match". Rows too recent to have settled (within --lateness of now) are left out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let dir: string;
let T: string;
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const DDL = 'CREATE TABLE public.events (id int PRIMARY KEY, time timestamptz NOT NULL, v text); CREATE INDEX ON public.events (time)';

const cli = (args: string[]): Promise<CliResult> =>
  runCli([...args, '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'events:time', '--until', T]);

beforeAll(async () => {
  dbs = await createDatabases('vwindow');
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-vwindow-'));
  const [row] = await sql<{ t: string; base: string }>(dbs.target,
    "SELECT date_trunc('hour', now() - interval '1 day')::text AS t, date_trunc('minute', now())::text AS base");
  T = row?.t as string;
  const at = `timestamptz '${row?.base}' - (4320 - i) * interval '1 minute'`;
  // Three days of history, one row a minute up to two minutes ago (inside the default lateness, so
  // in flight), and one row dated two days ahead.
  await sql(dbs.source, `${DDL};
    INSERT INTO public.events SELECT i, ${at}, 'e' || i FROM generate_series(0, 4318) i;
    INSERT INTO public.events VALUES (100000, now() + interval '2 days', 'future-dated');`);
  // Dual-writes from six hours before T on, as the application sent them: the future-dated row and
  // row 4000 never reached the target, and the last two minutes have not arrived yet.
  await sql(dbs.target, `${DDL};
    INSERT INTO public.events SELECT i, ${at}, 'e' || i FROM generate_series(0, 4318) i
     WHERE ${at} >= timestamptz '${T}' - interval '6 hours' AND i <> 4000 AND i < 4317;`);
});

afterAll(async () => {
  await dbs.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('validate compares the dual-write window', () => {
  it('a row at or after T only on the source is a difference, named by time and key (exit 3)', async () => {
    const backfill = await cli(['backfill']);
    expect(backfill.code, output(backfill)).toBe(0);
    const r = await cli(['validate']);
    expect(r.code, output(r)).toBe(3);
    expect(r.stdout).toMatch(/only on the source: time=\S+ \S+ id=4000\b/);
    expect(r.stdout).toMatch(/only on the source: time=\S+ \S+ id=100000\b/);
    expect(r.stdout).not.toMatch(/id=431[78]\b/); // in flight: within the lateness of now
    expect(r.stderr).toContain('dual-writes missed them');
    // --json: stdout holds only the result document (events go to stderr).
    const stdout = (await cli(['validate', '--json'])).stdout;
    const json = JSON.parse(stdout.slice(stdout.lastIndexOf('\n{\n') + 1));
    expect(json.tables[0].window.differences.flatMap((d: { onlyOnSource: { key: { id: string } }[] }) =>
      d.onlyOnSource.map((r) => r.key.id)).sort()).toEqual(['100000', '4000']);
  });

  it('matches once the missed rows are on the target', async () => {
    const missed = await sql<{ id: number; t: string; v: string }>(dbs.source,
      'SELECT id, time::text AS t, v FROM public.events WHERE id IN (4000, 100000)');
    for (const m of missed) await sql(dbs.target, 'INSERT INTO public.events VALUES ($1, $2, $3)', [m.id, m.t, m.v]);
    const r = await cli(['validate']);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain('and in the dual-write window');
  });
});
