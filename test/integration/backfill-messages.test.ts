/**
 * What the backfill says when it fails after every slice is done (issue #7 item 13c: it said
 * "Backfill failed (7 of 7 slices done)", which reads like a contradiction).
 *
 * To fail a worker after its last slice, deterministically: a trigger on the target table (fired by
 * the slice's COPY) makes the worker's session read-only from its next transaction on. The slice
 * still commits; the worker's next claim (SELECT … FOR UPDATE) then fails with SQLSTATE 25006.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let dir: string;
const TABLE = 'CREATE TABLE public.ticks (time timestamptz NOT NULL, v int);';
/** The newest source row, dual-written: dual-writes have begun (the backfill refuses a target without them). */
const DUAL_WRITTEN = "INSERT INTO public.ticks VALUES ('2024-01-01T16:39:00Z', 999);";

beforeAll(async () => {
  dbs = await createDatabases('bfmsg');
  await sql(dbs.source, `${TABLE}
    INSERT INTO public.ticks SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute', g FROM generate_series(0, 999) g;
    ANALYZE public.ticks;`);
  await sql(dbs.target, `${TABLE} ${DUAL_WRITTEN}
    CREATE FUNCTION public.read_only_from_now_on() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM set_config('default_transaction_read_only', 'on', false); RETURN NULL; END $$;
    CREATE TRIGGER read_only_after_copy AFTER INSERT ON public.ticks
      FOR EACH STATEMENT EXECUTE FUNCTION public.read_only_from_now_on();
    ALTER TABLE public.ticks ENABLE ALWAYS TRIGGER read_only_after_copy;`);
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-bfmsg-'));
});
afterAll(async () => {
  await dbs?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a backfill that fails after its last slice', () => {
  it('says every slice is done and that a worker failed afterwards, not "failed (1 of 1 slices done)"', async () => {
    const r = await runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir,
      '--table', 'public.ticks:time', '--until', '2024-01-02T00:00:00Z', '--workers', '1', '--user-triggers', 'fire']);
    expect(r.code, r.stderr).toBe(1);
    // The slice is done and kept.
    const [row] = await sql<{ n: string; pending: string }>(dbs.target, `SELECT (SELECT count(*) FROM public.ticks) AS n,
      (SELECT count(*) FROM _migrate.backfill_slice WHERE status <> 'done') AS pending`);
    expect(row).toEqual({ n: '1000', pending: '0' });
    expect(r.stderr).not.toMatch(/Backfill failed \(1 of 1 slices done\)/);
    expect(r.stderr).toContain('FAILED: Every slice is done (1 of 1), but a backfill worker failed after the last one (see the error below)');
    expect(r.stderr).toMatch(/cannot execute SELECT FOR UPDATE in a read-only transaction \(SQLSTATE 25006\)/);
  });
});
