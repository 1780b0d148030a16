/**
 * `migrate completion-point` against real clusters: the suggestion for fixed data relative to
 * now(), recording a chosen T, and every reason to refuse one (exit 2, nothing recorded).
 *
 * Data: the source holds three hours of rows up to now; the target holds the "dual-written" rows,
 * the first at H - 2h + 7m30s where H is the current hour (fixed once, at setup). With the default
 * margin (5 min) and lateness (10 min) the consistency range is [H - 1h52m30s, now - 10 min], so the
 * suggestion is the next full hour, H - 1h, whenever the test runs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitPassword } from '../../src/core/connection.js';
import { formatCommandLine } from '../../src/core/shell.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
const dirs: string[] = [];
/** H - 1h as timestamptz text (UTC) and as epoch milliseconds. */
let expected: { ts: string; ms: string; earliest: string; earliestMs: string };

beforeAll(async () => {
  dbs = await createDatabases('cpoint');
  const [h] = await sql<{ h: string }>(dbs.target, "SELECT date_trunc('hour', now())::text AS h");
  const H = h?.h as string;
  const tables = `
    CREATE TABLE metrics (time timestamptz NOT NULL, device int, value float8);
    CREATE TABLE events (ts bigint NOT NULL, kind text);
    CREATE TABLE counters (seq bigint NOT NULL, n int);
    CREATE TABLE empty_target (time timestamptz NOT NULL);
    CREATE TABLE fresh (time timestamptz NOT NULL);`;
  await sql(dbs.source, `${tables}
    INSERT INTO metrics SELECT now() - i * interval '1 minute', i % 5, i FROM generate_series(0, 180) i;
    INSERT INTO events SELECT (extract(epoch FROM now() - i * interval '1 minute') * 1000)::bigint, 'e' FROM generate_series(0, 180) i;
    INSERT INTO counters SELECT i, i FROM generate_series(1, 100) i;
    INSERT INTO empty_target SELECT now() - i * interval '1 minute' FROM generate_series(0, 10) i;
    INSERT INTO fresh SELECT now() - i * interval '1 minute' FROM generate_series(0, 10) i;`);
  // The target's copy of metrics has its columns in another order: only names matter.
  await sql(dbs.target, `${tables.replace('metrics (time timestamptz NOT NULL, device int, value float8)',
    'metrics (value float8, device int, time timestamptz NOT NULL)')}
    INSERT INTO metrics (time, device, value)
      SELECT t, 1, 1 FROM generate_series($1::timestamptz - interval '2 hours' + interval '7 minutes 30 seconds', now(), interval '1 minute') t;
    INSERT INTO events SELECT (extract(epoch FROM t) * 1000)::bigint, 'e'
      FROM generate_series($1::timestamptz - interval '2 hours' + interval '7 minutes 30 seconds', now(), interval '1 minute') t;
    INSERT INTO counters SELECT i, i FROM generate_series(50, 120) i;
    INSERT INTO fresh VALUES (now() - interval '1 minute');`.replace(/\$1/g, `'${H}'`));
  const [e] = await sql<{ ts: string; ms: string; earliest: string; earliest_ms: string }>(dbs.target, `
    SELECT ($1::timestamptz - interval '1 hour')::text AS ts,
           (extract(epoch FROM $1::timestamptz - interval '1 hour') * 1000)::bigint::text AS ms,
           min(time)::text AS earliest, (SELECT min(ts)::text FROM events) AS earliest_ms FROM metrics`, [H]);
  expected = { ts: e?.ts as string, ms: e?.ms as string, earliest: e?.earliest as string, earliestMs: e?.earliest_ms as string };
});

afterAll(async () => {
  await dbs?.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-cpoint-'));
  dirs.push(dir);
  return dir;
}

function completionPoint(dir: string, args: string[]): Promise<CliResult> {
  return runCli(['completion-point', '--source', dbs.source, '--target', dbs.target, '--dir', dir, ...args]);
}

/** The result document: with --json, stdout holds only it, pretty-printed (NDJSON events go to stderr). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const result = (r: CliResult): any => JSON.parse(r.stdout.slice(r.stdout.indexOf('{\n')));
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const recorded = (dir: string): Record<string, { until: string; type: string; column: string }> =>
  JSON.parse(readFileSync(path.join(dir, 'completion-points.json'), 'utf8')).tables;

describe('suggestion', () => {
  it('suggests the next full hour after the first dual-written row plus the margin, and records nothing', async () => {
    const dir = freshDir();
    const r = await completionPoint(dir, ['--table', 'metrics', '--json']);
    expect(r.code, output(r)).toBe(0);
    const json = result(r);
    const point = json.tables[0];
    expect(point).toMatchObject({ table: 'public.metrics', column: 'time', type: 'timestamptz', status: 'suggested',
      earliestDualWrite: expected.earliest, suggested: expected.ts });
    expect(point.latestOnSource).not.toBeNull();
    // The connection strings given come along (without passwords), after --dir.
    expect(json.next).toBe(formatCommandLine(['migrate', 'completion-point', '--table', 'public.metrics:time', '--until', expected.ts,
      '--dir', dir, '--source', splitPassword(dbs.source).connectionString, '--target', splitPassword(dbs.target).connectionString]));
    expect(existsSync(path.join(dir, 'completion-points.json'))).toBe(false);
  });

  it('prints the range, the suggestion and the command to record it', async () => {
    const r = await completionPoint(freshDir(), ['--table', 'metrics']);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain(`first dual-written row (target):  ${expected.earliest}`);
    expect(r.stdout).toContain(`suggested T:                      ${expected.ts}`);
    expect(r.stdout).toMatch(/To record it:\n {2}migrate completion-point --table public\.metrics:time --until '/);
  });

  it('reads epoch milliseconds from an integer column by magnitude and suggests a number', async () => {
    const r = await completionPoint(freshDir(), ['--table', 'events:ts', '--json']);
    expect(r.code, output(r)).toBe(0);
    const point = result(r).tables[0];
    expect(point).toMatchObject({ type: 'bigint', unit: 'milliseconds', earliestDualWrite: expected.earliestMs, suggested: expected.ms });
    expect(point.notes.join(' ')).toContain('epoch milliseconds');
  });

  it('--margin and --lateness move the range: a 1h margin and no lateness suggest H itself', async () => {
    // lower = H - 2h + 7m30s + 1h = H - 52m30s → the next full hour is H, and H <= now.
    const r = await completionPoint(freshDir(), ['--table', 'metrics', '--margin', '1h', '--lateness', '0', '--json']);
    expect(r.code, output(r)).toBe(0);
    const [h] = await sql<{ v: string }>(dbs.target, "SELECT ($1::timestamptz + interval '1 hour')::text AS v", [expected.ts]);
    expect(result(r).tables[0].suggested).toBe(h?.v);
    const bad = await completionPoint(freshDir(), ['--table', 'metrics', '--margin', 'soon']);
    expect(bad.code, output(bad)).toBe(2);
    expect(bad.stderr).toContain('--margin "soon" is not a duration');
  });

  it('says dual-writes have not started when the target table is empty (exit 1)', async () => {
    const r = await completionPoint(freshDir(), ['--table', 'empty_target']);
    expect(r.code, output(r)).toBe(1);
    expect(r.stderr).toContain('Dual-writes have not started for public.empty_target');
    expect(r.stderr).toContain('next: Start writing to both databases');
  });

  it('says when an empty consistency range opens (exit 1)', async () => {
    const r = await completionPoint(freshDir(), ['--table', 'fresh']);
    expect(r.code, output(r)).toBe(1);
    expect(r.stdout).toContain('The consistency range is still empty');
    expect(r.stdout).toMatch(/It opens at \d{4}-\d{2}-\d{2} /);
    expect(r.stderr).toContain('The consistency range is still empty for public.fresh');
  });

  it('asks for --until when integer units are unknown (exit 2)', async () => {
    const r = await completionPoint(freshDir(), ['--table', 'counters:seq']);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('Cannot tell the time units of public.counters:seq');
    expect(r.stderr).toContain('--until');
  });
});

describe('--until: check and record', () => {
  it('records a valid T, normalized to UTC, and prints the backfill command', async () => {
    const dir = freshDir();
    const [t] = await sql<{ v: string }>(dbs.target,
      "SELECT to_char($1::timestamptz AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI:SS') AS v", [expected.ts]);
    // The same instant written in Berlin time with --timezone.
    const r = await completionPoint(dir, ['--table', 'metrics', '--until', t?.v as string, '--timezone', 'Europe/Berlin']);
    expect(r.code, output(r)).toBe(0);
    expect(recorded(dir)['public.metrics']).toMatchObject({ until: expected.ts, column: 'time', type: 'timestamp with time zone' });
    expect(r.stdout).toContain(`migrate backfill --table public.metrics:time --dir ${dir}`);
  });

  it('gives tables with different time-column types their own values', async () => {
    const dir = freshDir();
    const bare = await completionPoint(dir, ['--table', 'metrics', '--table', 'events:ts', '--until', expected.ts]);
    expect(bare.code, output(bare)).toBe(2);
    expect(bare.stderr).toContain('public.events (bigint)');
    expect(bare.stderr).toContain('--until public.events=');
    expect(existsSync(path.join(dir, 'completion-points.json'))).toBe(false);
    const r = await completionPoint(dir, ['--table', 'metrics', '--table', 'events:ts',
      '--until', `public.metrics=${expected.ts}`, '--until', `events=${expected.ms}`]);
    expect(r.code, output(r)).toBe(0);
    expect(recorded(dir)['public.metrics']?.until).toBe(expected.ts);
    expect(recorded(dir)['public.events']).toMatchObject({ until: expected.ms, type: 'bigint', column: 'ts' });
  });

  it('refuses a T before the first dual-written row: the rows in between would be lost (exit 2)', async () => {
    const dir = freshDir();
    const [t] = await sql<{ v: string }>(dbs.target, "SELECT ($1::timestamptz - interval '1 second')::text AS v", [expected.earliest]);
    const r = await completionPoint(dir, ['--table', 'metrics', '--until', t?.v as string]);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('is before the first dual-written row on the target');
    expect(r.stderr).toContain('in neither range');
    expect(existsSync(path.join(dir, 'completion-points.json'))).toBe(false);
    const ints = await completionPoint(dir, ['--table', 'events:ts', '--until', String(BigInt(expected.earliestMs) - 1n)]);
    expect(ints.code, output(ints)).toBe(2);
    expect(ints.stderr).toContain('is before the first dual-written row');
  });

  it('refuses a T in the future (exit 2)', async () => {
    const dir = freshDir();
    const r = await completionPoint(dir, ['--table', 'metrics', '--until', '2999-01-01T00:00:00Z']);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('is in the future');
    const ms = await completionPoint(dir, ['--table', 'events:ts', '--until', String(BigInt(expected.ms) + 10n ** 11n)]);
    expect(ms.code, output(ms)).toBe(2);
    expect(ms.stderr).toContain('is in the future');
    expect(existsSync(path.join(dir, 'completion-points.json'))).toBe(false);
  });

  it('refuses a timestamptz without an offset, naming --timezone (exit 2)', async () => {
    const dir = freshDir();
    const r = await completionPoint(dir, ['--table', 'metrics', '--until', expected.ts.slice(0, 19)]);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('no time-zone offset');
    expect(r.stderr).toContain('--timezone');
    expect(existsSync(path.join(dir, 'completion-points.json'))).toBe(false);
  });

  it('takes numbers, not timestamps, for a bigint column (exit 2 otherwise)', async () => {
    const dir = freshDir();
    const r = await completionPoint(dir, ['--table', 'events:ts', '--until', expected.ts]);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('does not fit a bigint column: it is not a whole number');
    const ok = await completionPoint(dir, ['--table', 'events:ts', '--until', expected.ms]);
    expect(ok.code, output(ok)).toBe(0);
    expect(recorded(dir)['public.events']?.until).toBe(expected.ms);
  });

  it('--dry-run checks but does not record', async () => {
    const dir = freshDir();
    const r = await completionPoint(dir, ['--table', 'metrics', '--until', expected.ts, '--dry-run']);
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toContain('Dry run: nothing recorded');
    expect(existsSync(path.join(dir, 'completion-points.json'))).toBe(false);
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] hypertable target', () => {
  it('uses the hypertable time dimension and suggests the same T', async () => {
    await sql(dbs.source, 'CREATE TABLE ht (t timestamptz NOT NULL, v int); INSERT INTO ht SELECT time, 1 FROM metrics');
    await sql(dbs.target, `CREATE EXTENSION IF NOT EXISTS timescaledb; CREATE TABLE ht (v int, t timestamptz NOT NULL);
      SELECT create_hypertable('ht', by_range('t', interval '1 hour')); INSERT INTO ht SELECT 1, time FROM metrics`);
    const r = await completionPoint(freshDir(), ['--table', 'ht', '--json']);
    expect(r.code, output(r)).toBe(0);
    expect(result(r).tables[0]).toMatchObject({ column: 't', suggested: expected.ts, earliestDualWrite: expected.earliest });
  });
});
