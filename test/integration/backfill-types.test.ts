/**
 * The backfill for every time-column type, and values that break naive copies: NULLs, quotes, tabs,
 * newlines, backslashes, `\N` as text, unicode, jsonb, arrays, bytea, numeric, NaN and infinities,
 * over binary COPY (identical built-in types) and text COPY (types that differ, user-defined types).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectingContext } from '../../src/core/context.js';
import { withClient } from '../../src/core/db.js';
import { readLedger, runBackfill } from '../../src/steps/backfill/index.js';
import { fingerprint } from '../helpers/compare.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
const dirs: string[] = [];

function contextFor(): ReturnType<typeof collectingContext> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-backfill-types-'));
  dirs.push(dir);
  return collectingContext({ source: { side: 'source', connectionString: dbs.source },
    target: { side: 'target', connectionString: dbs.target }, dir, dryRun: false });
}

beforeAll(async () => { dbs = await createDatabases('bftypes'); });
afterAll(async () => {
  await dbs?.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface TimeCase {
  type: string;
  /** SQL for row i's time value (i from 0 to 9999), spanning about 10 days from 2024-03-01. */
  value: string;
  /** T: 2024-03-08 in the column's terms. */
  until: string;
  slice: string;
  /** An extra source row below every other one (infinite values where the type has them). */
  lowest: string;
  chunk: string;
}

const CASES: TimeCase[] = [
  { type: 'timestamptz', value: "timestamptz '2024-03-01 00:00:00+00' + i * interval '86 seconds'", until: '2024-03-08 00:00:00+00',
    slice: '1 day', lowest: "'-infinity'", chunk: "interval '1 day'" },
  { type: 'timestamp', value: "timestamp '2024-03-01 00:00:00' + i * interval '86 seconds' + interval '0.000123 seconds'",
    until: '2024-03-08 00:00:00', slice: '12 hours', lowest: "'-infinity'", chunk: "interval '1 day'" },
  { type: 'date', value: "date '2024-03-01' + (i / 1000)", until: '2024-03-08', slice: '1 day', lowest: "'1999-12-31'", chunk: "interval '2 days'" },
  { type: 'bigint', value: '1709251200000 + i * 86000::bigint', until: '1709856000000', slice: '86400000', lowest: '-5', chunk: '86400000' },
  { type: 'integer', value: '1709251200 + i * 86', until: '1709856000', slice: '86400', lowest: '-2147483648', chunk: '86400' },
];

async function setUpTimeTable(c: TimeCase, hypertable: boolean): Promise<void> {
  // Hypertables cannot hold infinite times: a 1970 sentinel row stretches the range instead.
  const lowest = hypertable && c.lowest === "'-infinity'" ? "'1970-01-01 00:00:00+00'" : c.lowest;
  const ddl = `DROP TABLE IF EXISTS public.ev; CREATE TABLE public.ev (ts ${c.type} NOT NULL, id int NOT NULL, payload text)`;
  await sql(dbs.source, `${ddl}; INSERT INTO public.ev SELECT ${c.value}, i, 'p' || i FROM generate_series(0, 9999) i;
    INSERT INTO public.ev VALUES (${lowest}, -1, 'lowest'); ANALYZE public.ev;`);
  await sql(dbs.target, `DROP SCHEMA IF EXISTS _migrate CASCADE; ${ddl};
    ${hypertable ? `SELECT create_hypertable('public.ev', by_range('ts', ${c.chunk}));` : ''}
    INSERT INTO public.ev SELECT ${c.value}, i, 'p' || i FROM generate_series(7000, 9999) i;
    INSERT INTO public.ev SELECT ${c.value}, -i, 'stale' FROM generate_series(100, 199) i;`);
}

async function expectTimeCase(c: TimeCase, hypertable: boolean): Promise<void> {
  await setUpTimeTable(c, hypertable);
  const below = `ts < '${c.until}'::${c.type}`;
  const atOrAfter = `NOT (${below})`;
  const after = await fingerprint(dbs.target, 'public.ev', atOrAfter);
  const result = await runBackfill({ tables: [{ table: { schema: 'public', table: 'ev' }, until: c.until }], workers: 2,
    ...(hypertable ? {} : { slice: c.slice }) }, contextFor());
  expect(result.complete).toBe(true);
  const want = await fingerprint(dbs.source, 'public.ev', below);
  expect(want.count).toBeGreaterThan(6000);
  expect(await fingerprint(dbs.target, 'public.ev', below)).toEqual(want);
  expect(await fingerprint(dbs.target, 'public.ev', atOrAfter)).toEqual(after);
  expect(result.tables[0]?.rowsCopied).toBe(want.count);
  const slices = await withClient({ side: 'target', connectionString: dbs.target }, (client) => readLedger(client));
  expect(slices.at(-1)?.end).toBe(c.until);
  if (!hypertable) expect(slices.length).toBeGreaterThanOrEqual(7);
}

describe('every time-column type', () => {
  for (const c of CASES) {
    it(`${c.type}: copies [lowest, T) exactly, including the lowest value, and leaves rows >= T alone`, async () => {
      await expectTimeCase(c, false);
    });
  }
});

describe.skipIf(!hasTimescale)('[timescaledb] every time-column type into a hypertable', () => {
  for (const c of CASES) {
    it(`${c.type}: slices planned on the chunks; data exact`, async () => {
      await sql(dbs.target, 'CREATE EXTENSION IF NOT EXISTS timescaledb');
      await expectTimeCase(c, true);
    });
  }
});

const WIDE = `CREATE TABLE public.wide (
  time timestamptz NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  t text, vc varchar(20), ch char(3), j jsonb, js json, arr text[], iarr int[], b bytea, n numeric, n2 numeric(10, 3),
  f8 float8, f4 real, bo boolean, u uuid, ip inet, iv interval, d date, ts timestamp, tm time, tz timetz, rng tstzrange,
  t_len int GENERATED ALWAYS AS (length(t)) STORED)`;
const WIDE_ROWS = `INSERT INTO public.wide (time, t, vc, ch, j, js, arr, iarr, b, n, n2, f8, f4, bo, u, ip, iv, d, ts, tm, tz, rng)
  OVERRIDING SYSTEM VALUE VALUES
  ('2024-01-01 00:00:00+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('2024-01-01 00:00:01.123456+00', E'tab\\there\\nnew line \\\\ back\\\\slash ''quote'' "dq"', 'O''Brien', 'ab', '{"a": [1, "x\\ty", null], "ü": "🐘"}',
   '{"keep":  "spacing"}', ARRAY['a', NULL, 'b "q"', E'c\\\\d', ''], ARRAY[1, NULL, -3], '\\x00ff5c0a0d', 12345678901234567890.123456789, -0.5,
   'NaN', '-Infinity', true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', '1 year 2 mons 3 days 04:05:06.789', '0001-01-01',
   '2024-02-29 23:59:59.999999', '24:00:00', '12:00:00+05:30', '[2024-01-01 00:00:00+00,infinity)'),
  ('2024-01-01 00:00:02+00', '\\N', 'NULL', '', '[]', 'null', '{}', '{}', '', 0, 0, 'Infinity', 1.5e-40, false, '00000000-0000-0000-0000-000000000000',
   '::1', '-1 days', 'infinity', '-infinity', '00:00:00', '00:00:00-12', 'empty'),
  ('2024-01-01 00:00:03+00', 'żółć ∑ 日本語 😀', 'ĄĘ', 'xyz', '{"deep": {"deeper": {"deepest": [true, false, 1.0e300]}}}', '[1,2]',
   ARRAY['{', '}', ',', ' '], ARRAY[2147483647], decode(repeat('ab', 5000), 'hex'), -1e-30, 9999999.999, 1.7976931348623157e308, 3.4e38,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`;

// A row an hour before T on both sides: what dual-writes put there (the backfill refuses a target that has none).
const DUAL_WRITTEN_WIDE = `INSERT INTO public.wide (time, id, t) OVERRIDING SYSTEM VALUE VALUES ('2024-01-04 23:00:00+00', 99999, 'dual-written');`;
const DUAL_WRITTEN_MIXED = `INSERT INTO public.mixed (time, val, name, mood) VALUES ('2024-01-31 23:00:00+00', 7, 'dual-written', 'sad');`;

describe('values survive the copy', () => {
  it('binary path: every built-in type, NULLs and awkward text, identity (ALWAYS) values kept, generated column recomputed', async () => {
    await sql(dbs.source, `DROP TABLE IF EXISTS public.wide; ${WIDE}; ${WIDE_ROWS};
      INSERT INTO public.wide (time, t) SELECT timestamptz '2024-01-01 01:00:00+00' + i * interval '1 minute', 'bulk ' || i
        FROM generate_series(1, 5000) i; ${DUAL_WRITTEN_WIDE}`);
    await sql(dbs.target, `DROP SCHEMA IF EXISTS _migrate CASCADE; DROP TABLE IF EXISTS public.wide; ${WIDE}; ${DUAL_WRITTEN_WIDE}`);
    const ctx = contextFor();
    const result = await runBackfill({ tables: [{ table: { schema: 'public', table: 'wide' }, until: '2024-01-05 00:00:00+00' }],
      slice: '1 hour' }, ctx);
    expect(result.tables[0]?.format).toBe('binary');
    expect(result.tables[0]?.rowsCopied).toBe(5005);
    expect(await fingerprint(dbs.target, 'public.wide')).toEqual(await fingerprint(dbs.source, 'public.wide'));
    expect((await fingerprint(dbs.target, 'public.wide')).count).toBe(5005);
  });

  it('text path: differing types (int4 → int8, text → varchar, text → enum) and reordered/extra columns', async () => {
    await sql(dbs.source, `DROP TABLE IF EXISTS public.mixed;
      CREATE TABLE public.mixed (time timestamptz NOT NULL, val int4, name text, mood text, source_only text);
      INSERT INTO public.mixed VALUES
        ('2024-01-01 00:00:00+00', 1, E'tab\\tnew\\nline back\\\\slash ''q''', 'happy', 'x'),
        ('2024-01-01 00:00:01+00', NULL, '\\N', 'sad', 'y'),
        ('2024-01-01 00:00:02+00', -2147483648, NULL, NULL, NULL),
        ('2024-01-01 00:00:03+00', 2147483647, 'żółć 😀 "dq"', 'it''s complicated', 'z');
      INSERT INTO public.mixed SELECT timestamptz '2024-01-02 00:00:00+00' + i * interval '1 second', i, 'n' || i, 'happy', 's'
        FROM generate_series(1, 3000) i; ${DUAL_WRITTEN_MIXED}`);
    await sql(dbs.target, `DROP SCHEMA IF EXISTS _migrate CASCADE; DROP TABLE IF EXISTS public.mixed; DROP TYPE IF EXISTS public.mood;
      CREATE TYPE public.mood AS ENUM ('happy', 'sad', 'it''s complicated');
      CREATE TABLE public.mixed (name varchar(50), target_only text DEFAULT 'dflt', mood public.mood, val int8, time timestamptz NOT NULL);
      ${DUAL_WRITTEN_MIXED}`);
    const ctx = contextFor();
    const result = await runBackfill({ tables: [{ table: { schema: 'public', table: 'mixed' }, until: '2024-02-01 00:00:00+00' }] }, ctx);
    expect(result.tables[0]?.format).toBe('text');
    expect(result.tables[0]?.rowsCopied).toBe(3005);
    const info = ctx.events.find((e) => e.type === 'info' && /text format/.test(e.message));
    expect(info && 'detail' in info ? info.detail : []).toEqual(['name: text → character varying(50)', 'mood: text → mood', 'val: integer → bigint']);
    expect(ctx.events.some((e) => e.type === 'warn' && /source_only/.test(e.message))).toBe(true);
    const view = (cast: string): string => `(SELECT time, val::int8 AS val, name::text AS name, mood::text${cast} AS mood FROM public.mixed)`;
    expect(await fingerprint(dbs.target, view(''))).toEqual(await fingerprint(dbs.source, view('')));
    expect(await sql(dbs.target, "SELECT count(*)::int AS n FROM public.mixed WHERE target_only = 'dflt'")).toEqual([{ n: 3005 }]);
    expect(await sql(dbs.target, "SELECT name IS NULL AS isnull, name FROM public.mixed WHERE time = '2024-01-01 00:00:01+00'"))
      .toEqual([{ isnull: false, name: '\\N' }]);
  });
});
