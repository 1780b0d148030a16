/**
 * `migrate validate` against real clusters. Source and target hold the same rows (the target's
 * columns in another physical order, its database with other print settings); each test breaks
 * the target in one way, expects exit 3 with the slice that differs, and restores it.
 *
 * Rows: one every 10 minutes from 2024-01-01 to 2024-01-05; T = 2024-01-04, so the last day is the
 * "dual-written" part that validate must leave alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordCompletionPoints } from '../../src/core/completion-points.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const T = '2024-01-04T00:00:00Z';
const COLUMNS = `time timestamptz NOT NULL, device int NOT NULL, value float8, note text, tags jsonb, amount numeric(12,2),
  day date, raw bytea, span interval`;
const REORDERED = `raw bytea, span interval, amount numeric(12,2), note text, device int NOT NULL, day date, tags jsonb,
  value float8, time timestamptz NOT NULL`;
/** Row n as the source's column list; the target inserts by name. */
const ROW = `timestamptz '2024-01-01 00:00:00+00' + n * interval '10 minutes', n % 7, n / 3.0, 'note ' || n,
  jsonb_build_object('n', n, 'even', n % 2 = 0), n * 1.25, date '2024-01-01' + n / 144, decode(md5(n::text), 'hex'),
  n * interval '1 second'`;
const NAMES = 'time, device, value, note, tags, amount, day, raw, span';
const INSERT = `INSERT INTO metrics (${NAMES}) SELECT ${ROW} FROM generate_series(0, 4 * 144 - 1) n`;
const BELOW_T = `time < '${T}'::timestamptz`;

let dbs: TestDatabases;
const dirs: string[] = [];

beforeAll(async () => {
  dbs = await createDatabases('validate');
  await sql(dbs.source, `CREATE TABLE metrics (${COLUMNS}); ${INSERT}`);
  await sql(dbs.target, `CREATE TABLE metrics (${REORDERED}); ${INSERT};
    CREATE TABLE pristine AS SELECT * FROM metrics;
    ALTER DATABASE "${dbs.targetName}" SET DateStyle = 'SQL, DMY';
    ALTER DATABASE "${dbs.targetName}" SET extra_float_digits = 0;
    ALTER DATABASE "${dbs.targetName}" SET IntervalStyle = 'sql_standard';
    ALTER DATABASE "${dbs.targetName}" SET bytea_output = 'escape';`);
  await sql(dbs.source, `ALTER DATABASE "${dbs.sourceName}" SET TimeZone = 'Asia/Tokyo'`);
});

afterAll(async () => {
  await dbs?.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-validate-'));
  dirs.push(dir);
  return dir;
}

function validate(args: string[], dir = freshDir()): Promise<CliResult> {
  return runCli(['validate', '--source', dbs.source, '--target', dbs.target, '--dir', dir, ...args]);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const result = (r: CliResult): any => JSON.parse(r.stdout.slice(r.stdout.indexOf('{\n')));
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/**
 * The rows as text, column by column in one order, with print settings pinned (the target database
 * prints dates the SQL way): row for row comparable across the two sides.
 */
async function rows(url: string, where: string): Promise<string[]> {
  const found = await sql<{ r: string }>(url, `SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1; SET bytea_output = 'hex';
    SET IntervalStyle = 'postgres'; SELECT ROW(${NAMES})::text AS r FROM metrics WHERE ${where} ORDER BY time, device`);
  return found.map((x) => x.r);
}

async function restoreTarget(): Promise<void> {
  await sql(dbs.target, 'TRUNCATE metrics; INSERT INTO metrics SELECT * FROM pristine; DROP SCHEMA IF EXISTS _migrate CASCADE');
}

describe('plain PostgreSQL tables', () => {
  afterEach(restoreTarget);

  it('identical data, different column order and print settings: exit 0', async () => {
    const r = await validate(['--table', 'metrics', '--until', T, '--json']);
    expect(r.code, output(r)).toBe(0);
    const json = result(r);
    expect(json.ok).toBe(true);
    expect(json.tables[0]).toMatchObject({ table: 'public.metrics', column: 'time', from: '-infinity', until: '2024-01-04 00:00:00+00',
      rows: { source: 3 * 144, target: 3 * 144 }, differences: [], ok: true });
    expect(json.tables[0].columns).toEqual(['amount', 'day', 'device', 'note', 'raw', 'span', 'tags', 'time', 'value']);
    const text = await validate(['--table', 'metrics', '--until', T]);
    expect(text.stdout).toContain('Source and target match below the completion point and in the dual-write window.');
  });

  it('--dry-run makes every check a run makes first, prints the checksum query, and reads no row', async () => {
    await sql(dbs.target, `UPDATE metrics SET value = value + 1 WHERE time = '2024-01-02 12:00:00+00'`);
    // Scans of the source table: statistics are flushed at most every 500 ms after a session's work.
    const scans = async (): Promise<number> => {
      await new Promise((resolve) => setTimeout(resolve, 700));
      return Number((await sql<{ n: string }>(dbs.source,
        "SELECT seq_scan + coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables WHERE relname = 'metrics'"))[0]?.n);
    };
    const before = await scans();
    const r = await validate(['--table', 'metrics', '--until', T, '--dry-run']);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain('Dry run: nothing was read or compared');
    expect(r.stderr).toMatch(/Would compare public\.metrics over \[-infinity, 2024-01-04 00:00:00\+00\)/);
    const dry = await scans();
    const real = await validate(['--table', 'metrics', '--until', T]);
    expect(real.code, output(real)).toBe(3); // the changed row: the real run reads it, the dry run did not
    const after = await scans();
    expect(dry - before, 'the dry run reads at most its checks (range), not the rows').toBeLessThanOrEqual(1);
    expect(after - dry).toBeGreaterThan(dry - before);
    // What would stop the real run stops the dry run: a T that does not fit the column.
    const bad = await validate(['--table', 'metrics', '--until', 'not a time', '--dry-run']);
    expect(bad.code, output(bad)).toBe(2);
  });

  it('finds one changed value in one row (same count): exit 3 and the slice reported', async () => {
    await sql(dbs.target, `UPDATE metrics SET value = value + 1e-9 WHERE time = '2024-01-02 12:00:00+00'`);
    const r = await validate(['--table', 'metrics', '--until', T, '--json']);
    expect(r.code, output(r)).toBe(3);
    const [table] = result(r).tables;
    expect(table.ok).toBe(false);
    expect(table.rows).toEqual({ source: 432, target: 432 });
    expect(table.differences).toHaveLength(1);
    expect(table.differences[0]).toMatchObject({ start: '-infinity', end: '2024-01-04 00:00:00+00', kind: 'changed-rows',
      source: { rows: 432 }, target: { rows: 432 } });
    expect(table.differences[0].source.sum1).not.toBe(table.differences[0].target.sum1);
    expect(table.differences[0].source.sum2).not.toBe(table.differences[0].target.sum2);
    expect(r.stderr).toContain('1 slice(s) of public.metrics differ');
    // The same tables, bounds and --dir: the suggested command checks what this run checked.
    expect(r.stderr).toMatch(new RegExp(`migrate validate --table public\\.metrics --until ${T} --dir /\\S+ --repair`));
    expect(r.stderr).toContain('migrate backfill');
  });

  it('finds a changed text, a NULL instead of a value, and a swapped pair of values', async () => {
    for (const change of [
      `UPDATE metrics SET note = 'note 100 ' WHERE note = 'note 100'`,
      `UPDATE metrics SET tags = NULL WHERE time = '2024-01-01 10:00:00+00'`,
      // Same multiset of values in the column, moved between rows: only a per-row hash sees it.
      `UPDATE metrics SET device = CASE device WHEN 1 THEN 2 ELSE 1 END
        WHERE time IN ('2024-01-01 00:10:00+00', '2024-01-01 00:20:00+00')`,
    ]) {
      await sql(dbs.target, change);
      const r = await validate(['--table', 'metrics', '--until', T]);
      expect(r.code, `${change}\n${output(r)}`).toBe(3);
      expect(r.stdout).toContain('changed rows');
      await restoreTarget();
    }
  });

  it('a missing row: exit 3, reported as missing rows', async () => {
    await sql(dbs.target, `DELETE FROM metrics WHERE time = '2024-01-03 23:50:00+00'`);
    const r = await validate(['--table', 'metrics', '--until', T]);
    expect(r.code, output(r)).toBe(3);
    expect(r.stdout).toMatch(/public\.metrics\s+\[-infinity, 2024-01-04 00:00:00\+00\)\s+432\s+431\s+\w+\s+\w+\s+missing rows/);
  });

  it('an extra row below T: exit 3, reported as extra rows', async () => {
    await sql(dbs.target, `INSERT INTO metrics (time, device) VALUES ('2023-12-31 00:00:00+00', 1)`);
    const r = await validate(['--table', 'metrics', '--until', T, '--json']);
    expect(r.code, output(r)).toBe(3);
    expect(result(r).tables[0].differences[0]).toMatchObject({ kind: 'extra-rows', source: { rows: 432 }, target: { rows: 433 } });
  });

  it('compares rows at or after T too (the dual-write window), and honours --from for the slices', async () => {
    await sql(dbs.target, `DELETE FROM metrics WHERE time >= '${T}'; DELETE FROM metrics WHERE time < '2024-01-02'`);
    const r = await validate(['--table', 'metrics', '--until', T, '--from', '2024-01-02T00:00:00Z', '--json']);
    expect(r.code, output(r)).toBe(3);
    expect(result(r).tables[0]).toMatchObject({ from: '2024-01-02 00:00:00+00', rows: { source: 288, target: 288 }, differences: [] });
    expect(result(r).tables[0].window.rows).toEqual({ source: 144, target: 0 });
    const all = await validate(['--table', 'metrics', '--until', T]);
    expect(all.code, output(all)).toBe(3);
  });

  it('uses the recorded completion point without --until, and the recorded tables without --table', async () => {
    const dir = freshDir();
    await recordCompletionPoints(dir, [{ schema: 'public', table: 'metrics', column: 'time', type: 'timestamp with time zone',
      until: '2024-01-03 00:00:00+00' }]);
    const r = await validate(['--json'], dir);
    expect(r.code, output(r)).toBe(0);
    expect(result(r).tables[0]).toMatchObject({ until: '2024-01-03 00:00:00+00', rows: { source: 288 } });
    const none = await validate(['--table', 'metrics']);
    expect(none.code, output(none)).toBe(2);
    expect(none.stderr).toContain('no --until given and no completion point recorded');
  });

  it('works on integer time columns: a number for --until, a changed row found', async () => {
    const create = `CREATE TABLE events (ts bigint NOT NULL, kind text);
      INSERT INTO events SELECT 1700000000000 + n * 60000, 'k' || (n % 3) FROM generate_series(0, 999) n`;
    await sql(dbs.source, create);
    await sql(dbs.target, create);
    const args = ['--table', 'events:ts', '--until', String(1_700_000_000_000 + 900 * 60_000), '--json'];
    const same = await validate(args);
    expect(same.code, output(same)).toBe(0);
    expect(result(same).tables[0]).toMatchObject({ type: 'bigint', from: '-9223372036854775808', rows: { source: 900, target: 900 } });
    await sql(dbs.target, `UPDATE events SET kind = 'changed' WHERE ts = 1700000000000 + 5 * 60000`);
    const changed = await validate(args);
    expect(changed.code, output(changed)).toBe(3);
    expect(result(changed).tables[0].differences[0].kind).toBe('changed-rows');
    // A row past T differing is a difference in the dual-write window (epoch milliseconds, read from the values).
    await sql(dbs.target, `UPDATE events SET kind = 'k2' WHERE ts = 1700000000000 + 5 * 60000;
      UPDATE events SET kind = 'late' WHERE ts = 1700000000000 + 950 * 60000`);
    const late = await validate(args);
    expect(late.code, output(late)).toBe(3);
    expect(result(late).tables[0].differences).toEqual([]);
    expect(result(late).tables[0].window.differences).toHaveLength(1);
    const timestamp = await validate(['--table', 'events:ts', '--until', T]);
    expect(timestamp.code, output(timestamp)).toBe(2);
    expect(timestamp.stderr).toContain('does not fit a bigint column');
  });

  it('--estimate compares row estimates after ANALYZE and says they are approximate', async () => {
    const r = await validate(['--table', 'metrics', '--until', T, '--estimate']);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain('approximate');
    expect(r.stdout).toMatch(/public\.metrics\s+~576\s+~576\s+0\.00%\s+match/);
    await sql(dbs.target, 'DELETE FROM metrics WHERE device = 3');
    const off = await validate(['--table', 'metrics', '--until', T, '--estimate']);
    expect(off.code, output(off)).toBe(3);
    expect(await validate(['--table', 'metrics', '--estimate', '--repair', '--until', T]).then((x) => x.code)).toBe(2);
  });

  it('--repair re-backfills the differing slices, checks again and exits 0; the target equals the source below T', async () => {
    const dir = freshDir();
    // Backfill first with day-wide slices so the ledger cuts the range into days.
    const backfill = await runCli(['backfill', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'metrics',
      '--until', T, '--slice', '1 day', '--workers', '1']);
    expect(backfill.code, output(backfill)).toBe(0);
    const dualWritten = await rows(dbs.target, `NOT (${BELOW_T})`);
    expect(dualWritten).toHaveLength(144);
    await sql(dbs.target, `UPDATE metrics SET amount = 0 WHERE time = '2024-01-02 06:00:00+00';
      DELETE FROM metrics WHERE time = '2024-01-03 07:00:00+00'`);
    const before = await validate(['--table', 'metrics', '--until', T, '--json'], dir);
    expect(before.code, output(before)).toBe(3);
    expect(result(before).tables[0].slicing).toBe('backfill ledger');
    expect(result(before).tables[0].differences.map((d: { start: string; end: string; kind: string }) => [d.start, d.end, d.kind]))
      .toEqual([['2024-01-02 00:00:00+00', '2024-01-03 00:00:00+00', 'changed-rows'],
        ['2024-01-03 00:00:00+00', '2024-01-04 00:00:00+00', 'missing-rows']]);
    const r = await validate(['--table', 'metrics', '--until', T, '--repair', '--json'], dir);
    expect(r.code, output(r)).toBe(0);
    const json = result(r);
    expect(json.repair.ranges).toHaveLength(2);
    expect(json.repair.after[0].ok).toBe(true);
    const source = await rows(dbs.source, BELOW_T);
    expect(source).toHaveLength(432);
    expect(await rows(dbs.target, BELOW_T)).toEqual(source);
    expect(await rows(dbs.target, `NOT (${BELOW_T})`)).toEqual(dualWritten);
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] hypertable target', () => {
  let ts: TestDatabases;
  beforeAll(async () => {
    ts = await createDatabases('validate_ts');
    await sql(ts.source, `CREATE TABLE metrics (${COLUMNS}); ${INSERT}`);
    await sql(ts.target, `CREATE EXTENSION IF NOT EXISTS timescaledb; CREATE TABLE metrics (${REORDERED});
      SELECT create_hypertable('metrics', by_range('time', interval '1 day')); ${INSERT}`);
  });
  afterAll(async () => { await ts?.drop(); });

  const run = (args: string[], dir = freshDir()): Promise<CliResult> =>
    runCli(['validate', '--source', ts.source, '--target', ts.target, '--dir', dir, '--table', 'metrics', '--until', T, ...args]);

  it('reports exactly the chunk-aligned slice that differs, through compressed chunks too', async () => {
    const dir = freshDir();
    const backfill = await runCli(['backfill', '--source', ts.source, '--target', ts.target, '--dir', dir, '--table', 'metrics',
      '--until', T, '--workers', '1', '--slice', '1 day']);
    expect(backfill.code, output(backfill)).toBe(0);
    expect((await run([], dir)).code).toBe(0);
    await sql(ts.target, `ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
      SELECT compress_chunk(c) FROM show_chunks('metrics', older_than => timestamptz '2024-01-02') c;
      UPDATE metrics SET note = 'changed' WHERE time = '2024-01-02 13:00:00+00'`);
    const r = await run(['--json'], dir);
    expect(r.code, output(r)).toBe(3);
    expect(result(r).tables[0].differences.map((d: { start: string; end: string }) => [d.start, d.end]))
      .toEqual([['2024-01-02 00:00:00+00', '2024-01-03 00:00:00+00']]);
  });

  it('--estimate refuses when a chunk is compressed (exit 1), pointing at the exact check', async () => {
    const r = await run(['--estimate']);
    expect(r.code, output(r)).toBe(1);
    expect(r.stdout).toContain('compressed chunk');
    expect(r.stderr).toContain('without --estimate');
  });
});
