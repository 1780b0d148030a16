/**
 * Many workers share one AbortSignal (Ctrl-C / "another worker failed"): a backfill with
 * --workers 16 must not make Node warn about an EventTarget leak (issue #7 item 13d).
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
const DUAL_WRITTEN = "INSERT INTO public.ticks VALUES ('2024-01-04T23:59:59Z', 345599);";

beforeAll(async () => {
  dbs = await createDatabases('bflisten');
  await sql(dbs.source, `${TABLE}
    INSERT INTO public.ticks SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 second', g FROM generate_series(0, 345599) g;
    ANALYZE public.ticks;`);
  await sql(dbs.target, `${TABLE} ${DUAL_WRITTEN}`);
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-bflisten-'));
});
afterAll(async () => {
  await dbs?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('backfill --workers 16', () => {
  it('copies everything without a MaxListenersExceededWarning', async () => {
    const r = await runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir,
      '--table', 'public.ticks:time', '--until', '2024-01-05T00:00:00Z', '--slice', '6 hours', '--workers', '16']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/MaxListenersExceededWarning|memory leak/);
    const [row] = await sql<{ n: string }>(dbs.target, 'SELECT count(*) AS n FROM public.ticks');
    expect(Number(row?.n)).toBe(345600);
  });
});
