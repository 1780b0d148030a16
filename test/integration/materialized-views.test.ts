/**
 * Issue #8.4: the plain materialized views that read a backfilled table — directly or through a view
 * and another materialized view — are refreshed after the backfill, those they read first, so they
 * equal the source's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let dir: string;
const T = '2024-01-05T00:00:00Z';
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const ROWS = `SELECT timestamptz '2024-01-01 00:00:00+00' + i * interval '5 minutes' AS time, i % 7 AS device, i AS value
  FROM generate_series(0, 5 * 288 - 1) i`;
// Created after the rows on both sides, as a schema copy would: the target's are computed over the
// dual-written rows only. mv_top reads mv_daily, which reads the plain view per_day.
const OBJECTS = `
  CREATE VIEW public.per_day AS SELECT date_trunc('day', time) AS day, device, sum(value) AS total FROM public.metrics GROUP BY 1, 2;
  CREATE MATERIALIZED VIEW public.mv_daily AS SELECT * FROM public.per_day;
  CREATE MATERIALIZED VIEW public.mv_top AS SELECT day, max(total) AS best, count(*) AS devices FROM public.mv_daily GROUP BY day;
  CREATE MATERIALIZED VIEW public.unrelated AS SELECT 1 AS one;`;

async function contents(url: string, view: string): Promise<string[]> {
  return (await sql<{ r: string }>(url, `SELECT v::text AS r FROM ${view} v ORDER BY 1`)).map((x) => x.r);
}

beforeAll(async () => {
  dbs = await createDatabases('matviews');
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-matviews-'));
  const ddl = 'CREATE TABLE public.metrics (time timestamptz NOT NULL, device int, value bigint); CREATE INDEX ON public.metrics (time)';
  await sql(dbs.source, `${ddl}; INSERT INTO public.metrics ${ROWS}; ${OBJECTS}`);
  await sql(dbs.target, `${ddl}; INSERT INTO public.metrics SELECT * FROM (${ROWS}) r WHERE r.time >= '2024-01-04 12:00:00+00'; ${OBJECTS}`);
});

afterAll(async () => {
  await dbs.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('materialized views over backfilled tables', () => {
  it('--dry-run lists the refreshes in dependency order', async () => {
    const r = await runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'metrics:time',
      '--until', T, '--dry-run']);
    expect(r.code, output(r)).toBe(0);
    const all = r.stdout + r.stderr;
    expect(all.indexOf('REFRESH MATERIALIZED VIEW "public"."mv_daily"')).toBeGreaterThan(-1);
    expect(all.indexOf('REFRESH MATERIALIZED VIEW "public"."mv_daily"')).toBeLessThan(all.indexOf('REFRESH MATERIALIZED VIEW "public"."mv_top"'));
    expect(all).not.toContain('"unrelated"');
  });

  it('are refreshed after the backfill, each equal to the source\'s', async () => {
    expect(await contents(dbs.target, 'public.mv_top')).not.toEqual(await contents(dbs.source, 'public.mv_top'));
    const r = await runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'metrics:time',
      '--until', T]);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain('Materialized views refreshed: public.mv_daily, public.mv_top.');
    for (const view of ['public.mv_daily', 'public.mv_top']) {
      expect(await contents(dbs.target, view)).toEqual(await contents(dbs.source, view));
    }
  });
});
