/**
 * Review 2: holes in validate's dual-write window and the row comparison it shares with the slices.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => { for (const c of cleanups) await c(); });

async function setup(label: string): Promise<{ dbs: TestDatabases; dir: string; cli: (args: string[]) => Promise<CliResult> }> {
  const dbs = await createDatabases(label);
  const dir = mkdtempSync(path.join(os.tmpdir(), `migrate-${label}-`));
  cleanups.push(async () => { await dbs.drop(); rmSync(dir, { recursive: true, force: true }); });
  return { dbs, dir, cli: (args) => runCli([...args, '--source', dbs.source, '--target', dbs.target, '--dir', dir]) };
}

describe('review2: validate window', () => {
  it('a zone-less column whose zone was recorded with the completion point: an in-flight row is not a difference', async () => {
    const { dbs, cli } = await setup('r2zone');
    const zone = 'Asia/Tokyo';
    const [row] = await sql<{ t: string; base: string }>(dbs.target,
      `SELECT date_trunc('hour', (now() AT TIME ZONE '${zone}') - interval '1 day')::text AS t,
              date_trunc('minute', now() AT TIME ZONE '${zone}')::text AS base`);
    const T = row?.t as string;
    const at = `timestamp '${row?.base}' - (4320 - i) * interval '1 minute'`;
    const ddl = 'CREATE TABLE public.ev (id int PRIMARY KEY, ts timestamp NOT NULL, v text)';
    // One row a minute in Tokyo wall-clock time, up to a minute ago; the newest (now) is in flight: source only.
    await sql(dbs.source, `${ddl}; INSERT INTO public.ev SELECT i, ${at}, 'e' || i FROM generate_series(0, 4320) i`);
    await sql(dbs.target, `${ddl}; INSERT INTO public.ev SELECT i, ${at}, 'e' || i FROM generate_series(0, 4319) i
      WHERE ${at} >= timestamp '${T}' - interval '6 hours'`);
    const point = await cli(['completion-point', '--table', 'ev:ts', '--until', T, '--timezone', zone]);
    expect(point.code, output(point)).toBe(0);
    const backfill = await cli(['backfill', '--table', 'ev:ts']);
    expect(backfill.code, output(backfill)).toBe(0);
    const withZone = await cli(['validate', '--table', 'ev:ts', '--timezone', zone]);
    expect(withZone.code, output(withZone)).toBe(0);
    // The zone was recorded with T: validate must use it for "now" too, as the guard does.
    const recorded = await cli(['validate', '--table', 'ev:ts']);
    expect(recorded.code, output(recorded)).toBe(0);
  });

  it('a json column that the target made jsonb: equal rows are not a difference', async () => {
    const { dbs, cli } = await setup('r2json');
    const [row] = await sql<{ t: string; base: string }>(dbs.target,
      "SELECT date_trunc('hour', now() - interval '1 day')::text AS t, date_trunc('minute', now())::text AS base");
    const T = row?.t as string;
    const at = `timestamptz '${row?.base}' - (4320 - i) * interval '1 minute'`;
    const doc = `'{"a":1,  "b":[1,2]}'`;
    await sql(dbs.source, `CREATE TABLE public.j (id int PRIMARY KEY, time timestamptz NOT NULL, doc json);
      INSERT INTO public.j SELECT i, ${at}, ${doc} FROM generate_series(0, 4318) i`);
    await sql(dbs.target, `CREATE TABLE public.j (id int PRIMARY KEY, time timestamptz NOT NULL, doc jsonb);
      INSERT INTO public.j SELECT i, ${at}, ${doc} FROM generate_series(0, 4318) i WHERE ${at} >= timestamptz '${T}' - interval '6 hours'`);
    const backfill = await cli(['backfill', '--table', 'j:time', '--until', T]);
    expect(backfill.code, output(backfill)).toBe(0);
    const r = await cli(['validate', '--table', 'j:time', '--until', T]);
    expect(r.code, output(r)).toBe(0);
  });

  it('an epoch-ms bigint row at the type maximum (a "forever" sentinel) missing on the target is a difference', async () => {
    const { dbs, cli } = await setup('r2max');
    const ddl = 'CREATE TABLE public.m (id int PRIMARY KEY, ms bigint NOT NULL, v text)';
    const nowMs = (await sql<{ n: string }>(dbs.target, 'SELECT ((extract(epoch FROM now()) * 1000)::bigint / 60000 * 60000)::text AS n'))[0]?.n as string;
    await sql(dbs.source, `${ddl}; INSERT INTO public.m SELECT i, ${nowMs} - (3 * 86400000) + i * 60000, 'x' FROM generate_series(1, 4000) i;
      INSERT INTO public.m VALUES (999999, 9223372036854775807, 'forever')`);
    const T = (await sql<{ t: string }>(dbs.target, `SELECT (${nowMs} - 86400000)::text AS t`))[0]?.t as string;
    await sql(dbs.target, `${ddl}; INSERT INTO public.m SELECT i, ${nowMs} - (3 * 86400000) + i * 60000, 'x' FROM generate_series(1, 4000) i
      WHERE ${nowMs} - (3 * 86400000) + i * 60000 >= ${T} - 6 * 3600000`);
    const backfill = await cli(['backfill', '--table', 'm:ms', '--until', T]);
    expect(backfill.code, output(backfill)).toBe(0);
    const r = await cli(['validate', '--table', 'm:ms', '--until', T]);
    expect(r.code, output(r)).toBe(3);
  });

  it('a date column: a row after T missing on the target is a difference; today is not compared', async () => {
    const { dbs, cli } = await setup('r2date');
    const ddl = 'CREATE TABLE public.d (id int PRIMARY KEY, day date NOT NULL, v text)';
    await sql(dbs.source, `${ddl}; INSERT INTO public.d SELECT i, current_date - 20 + i, 'x' FROM generate_series(0, 20) i`);
    await sql(dbs.target, `${ddl}; INSERT INTO public.d SELECT i, current_date - 20 + i, 'x' FROM generate_series(0, 20) i
      WHERE i >= 5 AND i <> 18 AND i <> 20`);
    const T = (await sql<{ t: string }>(dbs.target, 'SELECT (current_date - 10)::text AS t'))[0]?.t as string;
    const backfill = await cli(['backfill', '--table', 'd:day', '--until', T]);
    expect(backfill.code, output(backfill)).toBe(0);
    const r = await cli(['validate', '--table', 'd:day', '--until', T]);
    expect(r.code, output(r)).toBe(3);
    expect(r.stdout).toMatch(/only on the source: day=\S+ id=18\b/);
    expect(r.stdout).not.toMatch(/id=20\b/);
  });
});
