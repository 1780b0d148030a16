/**
 * Issue #9, item 3: slices of a hypertable SOURCE are planned from its chunks and their row counts,
 * compressed rows included. Planner statistics leave compressed rows out, so all compressed history
 * used to become one slice (one worker copied it all; a crash re-copied it all), and `candidates`
 * under-reported the table.
 *
 * The TimescaleDB sources live on the target cluster (the source cluster does not preload
 * timescaledb), in databases of their own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTable } from '../../src/core/catalog.js';
import { collectingContext } from '../../src/core/context.js';
import { withClient, type Client } from '../../src/core/db.js';
import { runBackfill } from '../../src/steps/backfill/index.js';
import { planSlices, type SlicePlan } from '../../src/steps/backfill/slices.js';
import type { Candidate } from '../../src/steps/candidates.js';
import { runCli } from '../helpers/cli.js';
import { fingerprint } from '../helpers/compare.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const TABLE = { schema: 'public', table: 'metrics' };
const QUALIFIED = '"public"."metrics"';
const DDL = `CREATE TABLE ${QUALIFIED} (time timestamptz NOT NULL, device int NOT NULL, value double precision)`;
// 16 days of 1-day chunks, 43,200 rows a day (10 devices, a row every 2 seconds).
const DAY_ROWS = 43_200;
const ROWS = `SELECT timestamptz '2024-01-01 00:00:00+00' + i * interval '2 seconds', i % 10, i * 0.5 FROM generate_series(0, ${16 * DAY_ROWS - 1}) i`;
/** Chunks that end by then are compressed: Jan 1 .. Jan 11. */
const COMPRESSED_BEFORE = '2024-01-12 00:00:00+00';
const T = '2024-01-15 12:30:00+00';
const BELOW_T = `time < '${T}'::timestamptz`;

const dirs: string[] = [];
const tmp = (): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-chunk-slices-'));
  dirs.push(dir);
  return dir;
};

function both<T>(source: string, target: string, work: (s: Client, t: Client) => Promise<T>): Promise<T> {
  return withClient({ side: 'source', connectionString: source }, (s) =>
    withClient({ side: 'target', connectionString: target }, (t) => work(s, t)));
}

async function countIn(url: string, table: string, column: string, start: string, end: string, cast: string): Promise<number> {
  const [row] = await sql<{ n: string }>(url, `SELECT count(*) AS n FROM ${table} WHERE ${column} >= $1::${cast} AND ${column} < $2::${cast}`,
    [start, end]);
  return Number(row?.n ?? 0);
}

/** Each slice's estimate against the rows really there: within a factor of 2, and the total within 5%. */
async function expectCloseEstimates(url: string, plan: SlicePlan, table: string, column: string, cast: string): Promise<number[]> {
  const real: number[] = [];
  for (const slice of plan.slices) real.push(await countIn(url, table, column, slice.start, slice.end, cast));
  plan.slices.forEach((slice, i) => {
    const actual = real[i] as number;
    const why = `[${slice.start}, ${slice.end}): estimated ${slice.estRows}, really ${actual}`;
    if (actual === 0) expect(slice.estRows, why).toBeLessThan(100);
    else {
      expect(slice.estRows / actual, why).toBeGreaterThan(0.5);
      expect(slice.estRows / actual, why).toBeLessThan(2);
    }
  });
  const total = real.reduce((a, b) => a + b, 0);
  expect(Math.abs(plan.estimatedRows - total) / total).toBeLessThan(0.05);
  return real;
}

function expectTiling(plan: SlicePlan, from: string, until: string): void {
  expect(plan.slices[0]?.start).toBe(from);
  expect(plan.slices.at(-1)?.end).toBe(until);
  for (let i = 1; i < plan.slices.length; i += 1) expect(plan.slices[i]?.start).toBe(plan.slices[i - 1]?.end);
}

describe.skipIf(!hasTimescale)('[timescaledb] slices from a compressed hypertable source\'s chunks', () => {
  const sourceName = `src_chunk_slices_${process.pid}`;
  const source = (): string => clusterUrl('target', sourceName);
  let dbs: TestDatabases;
  let total: number;
  let belowT: number;

  beforeAll(async () => {
    dbs = await createDatabases('chunk_slices');
    await sql(clusterUrl('target'), `CREATE DATABASE "${sourceName}"`);
    await sql(source(), `CREATE EXTENSION IF NOT EXISTS timescaledb; ${DDL};
      SELECT create_hypertable('${QUALIFIED}', by_range('time', interval '1 day'));
      INSERT INTO ${QUALIFIED} ${ROWS};
      ALTER TABLE ${QUALIFIED} SET (timescaledb.compress, timescaledb.compress_segmentby = 'device',
        timescaledb.compress_orderby = 'time DESC');
      SELECT compress_chunk(c) FROM show_chunks('${QUALIFIED}', older_than => timestamptz '${COMPRESSED_BEFORE}') c;
      -- Rows written into a compressed chunk after it was compressed: Jan 5 is partially compressed.
      INSERT INTO ${QUALIFIED} SELECT timestamptz '2024-01-05 00:00:01+00' + i * interval '2 seconds', 100 + i % 3, -i
        FROM generate_series(0, 4999) i;
      ANALYZE ${QUALIFIED};`);
    // The target, as after `migrate schema`: the table, empty (dual-writes come in the backfill test).
    await sql(dbs.target, DDL);
    const [counts] = await sql<{ total: string; below: string }>(source(),
      `SELECT count(*) AS total, count(*) FILTER (WHERE ${BELOW_T}) AS below FROM ${QUALIFIED}`);
    total = Number(counts?.total);
    belowT = Number(counts?.below);
  });

  afterAll(async () => {
    await dbs?.drop();
    await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${sourceName}" WITH (FORCE)`);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('has the shape the issue describes: compressed and partially compressed chunks that statistics do not count', async () => {
    expect(total).toBe(16 * DAY_ROWS + 5000);
    const chunks = await sql<{ compressed: string; partial: string }>(source(),
      `SELECT count(*) FILTER (WHERE c.status & 1 = 1) AS compressed, count(*) FILTER (WHERE c.status & 9 = 9) AS partial
         FROM _timescaledb_catalog.chunk c JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
        WHERE h.table_name = 'metrics'`);
    expect(chunks[0]).toEqual({ compressed: '11', partial: '1' });
    // What the planner statistics see: only the uncompressed rows (5 days and the 5,000 partial ones).
    const stats = await withClient({ side: 'source', connectionString: source() }, (c) => resolveTable(c, TABLE, 'source'));
    expect(stats.estimatedRows).toBeLessThan(total / 2);
  });

  it('plans several slices over the compressed history, on the source\'s chunk edges, with estimates close to the real counts', async () => {
    const plan = await both(source(), dbs.target, (s, t) => planSlices(s, t, { table: TABLE, until: T }));
    expect(plan.alignment).toBe("the source's chunks");
    expect(plan.estimatedFrom).toMatch(/^the source's chunks: 16, ~475,200 rows compressed$/);
    expect(plan.warnings).toEqual([]);
    expectTiling(plan, '-infinity', T);
    const real = await expectCloseEstimates(source(), plan, QUALIFIED, 'time', 'timestamptz');
    expect(real.reduce((a, b) => a + b, 0)).toBe(belowT);
    // The compressed history (up to Jan 12) is several slices, none much over the 250k target.
    const history = plan.slices.filter((s) => s.start === '-infinity' || s.start < COMPRESSED_BEFORE);
    expect(history.length).toBeGreaterThanOrEqual(3);
    for (const slice of plan.slices) expect(slice.estRows).toBeLessThanOrEqual(250_000 * 1.5);
    // Inner edges are chunk edges (midnight UTC).
    for (const slice of plan.slices.slice(1)) expect(slice.start).toMatch(/ 00:00:00\+00$/);
    // A smaller target splits the 1-day chunks evenly in time.
    const fine = await both(source(), dbs.target, (s, t) => planSlices(s, t, { table: TABLE, until: T, targetRows: 15_000 }));
    expect(fine.slices.length).toBeGreaterThan(40);
    await expectCloseEstimates(source(), fine, QUALIFIED, 'time', 'timestamptz');
  });

  it('--slice keeps its exact width; the estimates come from the chunks', async () => {
    const plan = await both(source(), dbs.target, (s, t) => planSlices(s, t, { table: TABLE, until: T, slice: '2 days' }));
    expect(plan.alignment).toBe('--slice 2 days');
    expect(plan.slices.map((s) => s.start).slice(1, 4)).toEqual(['2024-01-02 00:00:00+00', '2024-01-04 00:00:00+00',
      '2024-01-06 00:00:00+00']);
    await expectCloseEstimates(source(), plan, QUALIFIED, 'time', 'timestamptz');
  });

  it('candidates --json reports the true row count, compressed rows included', async () => {
    const r = await runCli(['candidates', '--source', source(), '--json', '--table', 'public.metrics']);
    expect(r.code, r.stderr).toBe(0);
    const [candidate] = JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m))) as Candidate[];
    expect(candidate?.estimatedRows).toBe(total);
    expect(candidate?.notes).toContain('~475,200 of the rows are in compressed chunks (counted from TimescaleDB\'s compression statistics)');
  });

  it('backfills into a hypertable with 2 workers: target-aligned slices, each estimate close, rows exact', async () => {
    await sql(dbs.target, `CREATE EXTENSION IF NOT EXISTS timescaledb;
      SELECT create_hypertable('${QUALIFIED}', by_range('time', interval '1 day'));
      -- dual-writes from an hour before T on, and a stale row below T the backfill replaces
      INSERT INTO ${QUALIFIED} SELECT * FROM (${ROWS}) r(time, device, value) WHERE time >= timestamptz '${T}' - interval '1 hour';
      INSERT INTO ${QUALIFIED} VALUES ('2024-01-03 00:00:00+00', 99, -1);`);
    const ctx = collectingContext({ source: { side: 'source', connectionString: source() },
      target: { side: 'target', connectionString: dbs.target }, dir: tmp(), dryRun: false });
    const result = await runBackfill({ tables: [{ table: TABLE, until: T }], workers: 2 }, ctx);
    expect(result.complete).toBe(true);
    expect(await fingerprint(dbs.target, QUALIFIED, BELOW_T)).toEqual(await fingerprint(source(), QUALIFIED, BELOW_T));
    expect((await fingerprint(dbs.target, QUALIFIED, BELOW_T)).count).toBe(belowT);
    expect(ctx.events.some((e) => e.type === 'info' && /aligned to the target's chunks \(1 day\), ~[\d,]+ rows \(estimated from the source's chunks: 16, ~475,200 rows compressed\)/.test(e.message))).toBe(true);
    const slices = await sql<{ start: string; end: string; est_rows: string; rows: string; claimed_by: string }>(dbs.target,
      'SELECT range_start AS start, range_end AS end, est_rows, rows, claimed_by FROM _migrate.backfill_slice ORDER BY seq');
    expect(slices.filter((s) => s.start === '-infinity' || s.start < COMPRESSED_BEFORE).length).toBeGreaterThanOrEqual(3);
    for (const s of slices) {
      const ratio = Number(s.est_rows) / Number(s.rows);
      expect(ratio, `[${s.start}, ${s.end}): est ${s.est_rows}, copied ${s.rows}`).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
    }
    // The progress totals (est_rows) counted the compressed rows.
    const estimated = slices.reduce((sum, s) => sum + Number(s.est_rows), 0);
    expect(Math.abs(estimated - belowT) / belowT).toBeLessThan(0.05);
    // Both workers copied slices.
    expect(new Set(slices.map((s) => s.claimed_by.replace(/.*\//, ''))).size).toBe(2);
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] slices from the chunks of integer- and date-time hypertable sources', () => {
  const sourceName = `src_chunk_slices_int_${process.pid}`;
  const source = (): string => clusterUrl('target', sourceName);
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createDatabases('chunk_slices_int');
    await sql(clusterUrl('target'), `CREATE DATABASE "${sourceName}"`);
    // Integer time in milliseconds, 1-hour chunks; a date column with 7-day chunks. Most chunks compressed.
    const setup = `
      CREATE TABLE public.events (ts bigint NOT NULL, device int NOT NULL, value int);
      CREATE TABLE public.daily (day date NOT NULL, device int NOT NULL, value int);`;
    await sql(source(), `CREATE EXTENSION IF NOT EXISTS timescaledb; ${setup}
      SELECT create_hypertable('public.events', by_range('ts', 3600000));
      INSERT INTO public.events SELECT i * 1000, i % 4, i FROM generate_series(0, 20 * 3600 - 1) i;
      ALTER TABLE public.events SET (timescaledb.compress, timescaledb.compress_segmentby = 'device', timescaledb.compress_orderby = 'ts');
      SELECT compress_chunk(c) FROM show_chunks('public.events') c
        WHERE c IN (SELECT format('%I.%I', chunk_schema, chunk_name)::regclass FROM timescaledb_information.chunks
                     WHERE hypertable_name = 'events' AND range_end_integer <= 15 * 3600000);
      INSERT INTO public.events SELECT 2 * 3600000 + i, 9, -i FROM generate_series(1, 500) i;
      SELECT create_hypertable('public.daily', by_range('day', interval '7 days'));
      INSERT INTO public.daily SELECT date '2023-01-01' + (i / 200), i % 200, i FROM generate_series(0, 365 * 200 - 1) i;
      ALTER TABLE public.daily SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
      SELECT compress_chunk(c) FROM show_chunks('public.daily', older_than => date '2023-10-01') c;
      ANALYZE public.events; ANALYZE public.daily;`);
    await sql(dbs.target, `CREATE EXTENSION IF NOT EXISTS timescaledb; ${setup}`);
  });

  afterAll(async () => {
    await dbs?.drop();
    await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${sourceName}" WITH (FORCE)`);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('integer time: several slices over the compressed chunks, estimates close, a 2-worker backfill exact', async () => {
    const until = String(18 * 3600000);
    const table = { schema: 'public', table: 'events' };
    const plan = await both(source(), dbs.target, (s, t) => planSlices(s, t, { table, until, targetRows: 8000 }));
    expect(plan.estimatedFrom).toMatch(/^the source's chunks: 20, ~54,000 rows compressed$/);
    expectTiling(plan, '-9223372036854775808', until);
    expect(plan.slices.filter((s) => Number(s.end) <= 15 * 3600000).length).toBeGreaterThanOrEqual(5);
    await expectCloseEstimates(source(), plan, '"public"."events"', 'ts', 'bigint');
    for (const slice of plan.slices.slice(1)) expect(Number(slice.start) % 3600000).toBe(0);

    // Dual-writes from half an hour before T on.
    await sql(dbs.target, 'INSERT INTO public.events SELECT i * 1000, i % 4, i FROM generate_series(17 * 3600 + 1800, 20 * 3600 - 1) i');
    const ctx = collectingContext({ source: { side: 'source', connectionString: source() },
      target: { side: 'target', connectionString: dbs.target }, dir: tmp(), dryRun: false });
    const result = await runBackfill({ tables: [{ table, until }], workers: 2, slice: String(2 * 3600000) }, ctx);
    expect(result.complete).toBe(true);
    const below = `ts < ${until}`;
    expect(await fingerprint(dbs.target, '"public"."events"', below)).toEqual(await fingerprint(source(), '"public"."events"', below));
    const [ledger] = await sql<{ n: string; est: string }>(dbs.target,
      "SELECT count(*) AS n, sum(est_rows) AS est FROM _migrate.backfill_slice WHERE table_name = 'events'");
    expect(Number(ledger?.n)).toBe(9);
    expect(Math.abs(Number(ledger?.est) - (18 * 3600 + 500)) / (18 * 3600 + 500)).toBeLessThan(0.05);
  });

  it('chunks never analyzed are estimated with the row density of an analyzed sibling', async () => {
    await sql(source(), `CREATE TABLE public.fresh (ts bigint NOT NULL, device int NOT NULL, value int, note text);
      SELECT create_hypertable('public.fresh', by_range('ts', 1000));
      INSERT INTO public.fresh SELECT i, i % 4, i, repeat('x', i % 50) FROM generate_series(0, 9999) i;`);
    await sql(dbs.target, 'CREATE TABLE public.fresh (ts bigint NOT NULL, device int NOT NULL, value int, note text)');
    // One chunk analyzed (autovacuum may analyze more meanwhile: the estimates only get better).
    const [first] = await sql<{ chunk: string }>(source(), `SELECT format('%I.%I', chunk_schema, chunk_name) AS chunk
      FROM timescaledb_information.chunks WHERE hypertable_name = 'fresh' ORDER BY range_start_integer LIMIT 1`);
    await sql(source(), `ANALYZE ${first?.chunk}`);
    const plan = await both(source(), dbs.target, (s, t) => planSlices(s, t, { table: { schema: 'public', table: 'fresh' },
      until: '10000', targetRows: 2500 }));
    expect(plan.alignment).toBe("the source's chunks");
    expect(plan.slices.length).toBeGreaterThanOrEqual(3);
    await expectCloseEstimates(source(), plan, '"public"."fresh"', 'ts', 'bigint');
  });

  it('date time: slices on the 7-day chunk edges, estimates close', async () => {
    const plan = await both(source(), dbs.target, (s, t) => planSlices(s, t, { table: { schema: 'public', table: 'daily' },
      until: '2023-12-01', targetRows: 5000 }));
    expect(plan.alignment).toBe("the source's chunks");
    expect(plan.estimatedFrom).toMatch(/compressed$/);
    expectTiling(plan, '-infinity', '2023-12-01');
    expect(plan.slices.length).toBeGreaterThan(10);
    await expectCloseEstimates(source(), plan, '"public"."daily"', 'day', 'date');
    // 7-day chunks from the Unix epoch (a Thursday) start on Thursdays.
    for (const slice of plan.slices.slice(1)) expect(new Date(`${slice.start}T00:00:00Z`).getUTCDay()).toBe(4);
  });
});
