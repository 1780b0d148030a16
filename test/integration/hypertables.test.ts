/**
 * `migrate hypertables` against the real target (TimescaleDB preloaded): conversions checked in
 * timescaledb_information, re-runs, blockers that change nothing, compression policies, --dry-run,
 * a server without TimescaleDB preloaded (the source cluster), and the tables a TimescaleDB
 * source's schema brings as hypertables (their settings reported, by the command and the wizard).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/core/db.js';
import type { Candidate } from '../../src/steps/candidates.js';
import { SETTINGS_VIEWS, readCompressionColumns, settingsView } from '../../src/steps/hypertable-settings.js';
import type { HypertableResult } from '../../src/steps/hypertables.js';
import { splitPassword } from '../../src/core/connection.js';
import { formatCommandLine } from '../../src/core/shell.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';
import { readStateFile } from '../helpers/migration.js';

let dbs: TestDatabases;

const SCHEMA = `
  CREATE TABLE metrics (time timestamptz NOT NULL, device_id int NOT NULL, value float8, PRIMARY KEY (device_id, time));
  CREATE TABLE events_ms (ts_ms bigint NOT NULL, id bigint, payload text);
  CREATE TABLE orders (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric);
  CREATE TABLE readings (id int, time timestamptz NOT NULL, PRIMARY KEY (id, time));
  CREATE TABLE reading_notes (reading_id int, reading_time timestamptz, FOREIGN KEY (reading_id, reading_time) REFERENCES readings (id, time));
  CREATE TABLE ticks (tick int NOT NULL, v int);
  CREATE TABLE notes (id int, body text, ts timestamptz NOT NULL);
  CREATE TABLE preloaded (time timestamptz NOT NULL, v int);
  CREATE SCHEMA "Sales Data";
  CREATE TABLE "Sales Data"."Orders" ("Created At" timestamp NOT NULL, "Order Id" int, "Region's Code" text, total numeric);
`;
// The source's data sizes the chunks: metrics ~8.6M rows/day → 1 day; events_ms epoch ms, 1/minute → 30 days.
const SOURCE_DATA = `
  INSERT INTO metrics SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '10 ms', g % 10, g FROM generate_series(1, 50000) g;
  CREATE INDEX ON metrics (time);
  INSERT INTO events_ms SELECT 1704067200000 + g * 60000, g, 'x' FROM generate_series(1, 20000) g;
  ANALYZE;
`;

/** The migration directory of these runs: a temp one, so that the tests leave nothing in the checkout. */
let dir: string;

async function hypertables(args: string[], withSource = true): Promise<CliResult> {
  return runCli(['hypertables', '--target', dbs.target, ...(withSource ? ['--source', dbs.source] : []), '--dir', dir, ...args]);
}

function results(r: CliResult): HypertableResult[] {
  return JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m))) as HypertableResult[];
}

async function dimensions(): Promise<Record<string, unknown>[]> {
  return sql(dbs.target, `SELECT hypertable_schema, hypertable_name, column_name, time_interval::text, integer_interval::text
    FROM timescaledb_information.dimensions ORDER BY 1, 2`);
}

async function hypertableNames(): Promise<string[]> {
  const ext = await sql(dbs.target, "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'");
  if (ext.length === 0) return [];
  const rows = await sql<{ name: string }>(dbs.target,
    "SELECT hypertable_schema || '.' || hypertable_name AS name FROM timescaledb_information.hypertables ORDER BY 1");
  return rows.map((r) => r.name);
}

describe.skipIf(!hasTimescale)('[timescaledb] migrate hypertables', () => {
  beforeAll(async () => {
    dbs = await createDatabases('hypertables');
    dir = await mkdtemp(path.join(os.tmpdir(), 'migrate-hypertables-'));
    await sql(dbs.source, SCHEMA + SOURCE_DATA);
    await sql(dbs.target, SCHEMA);
    await sql(dbs.target, "INSERT INTO preloaded SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 hour', g FROM generate_series(1, 100) g");
  });
  afterAll(async () => {
    await dbs?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--dry-run prints the SQL and changes nothing', async () => {
    const r = await hypertables(['--table', 'metrics', '--table', '"Sales Data"."Orders"', '--dry-run']);
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('CREATE EXTENSION IF NOT EXISTS timescaledb;');
    // Values inlined and quoted: the SQL pastes into psql as printed.
    expect(r.stdout).toContain('SELECT "public".create_hypertable(\'"public"."metrics"\'::regclass, "public".by_range(\'time\'::name, ' +
      '\'1 day\'::interval), migrate_data => false::boolean);');
    expect(r.stdout).toMatch(/^public\.metrics\s+time \(timestamptz\)\s+1 day\s+would convert/m);
    expect(r.stdout).toContain('Dry run: the SQL above would run; nothing was changed.');
    const compress = await hypertables(['--table', 'events_ms', '--segment-by', 'id', '--order-by', 'ts_ms desc',
      '--compress-after', '7 days', '--dry-run']);
    expect(compress.code).toBe(0);
    expect(compress.stdout).toContain('create_hypertable(\'"public"."events_ms"\'::regclass, "public".by_range(\'ts_ms\'::name, ' +
      '\'2592000000\'::bigint), migrate_data => false::boolean)');
    expect(compress.stdout).toContain(`ALTER TABLE "public"."events_ms" SET (timescaledb.compress, ` +
      `timescaledb.compress_segmentby = '"id"', timescaledb.compress_orderby = '"ts_ms" DESC');`);
    // An interval on an integer time column means chunk age.
    expect(compress.stdout).toContain('add_compression_policy(\'"public"."events_ms"\'::regclass, compress_created_before => ' +
      '\'7 days\'::interval, if_not_exists => true);');
    expect(compress.stderr).toContain('compresses chunks by age (compress_created_before)');
    expect(await sql(dbs.target, "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).toEqual([]);
  });

  it('converts timestamptz, bigint and quoted tables, sizing chunks from the source', async () => {
    const r = await hypertables(['--table', 'metrics', '--table', 'events_ms', '--table', '"Sales Data"."Orders":"Created At"', '--json']);
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    expect(results(r).map((x) => [x.table.table, x.timeColumn, x.chunkInterval, x.status])).toEqual([
      ['metrics', 'time', '1 day', 'converted'],
      ['events_ms', 'ts_ms', '2592000000', 'converted'],
      // Not on the source's data (no rows there): TimescaleDB's default.
      ['Orders', 'Created At', '7 days', 'converted'],
    ]);
    expect(results(r)[1]?.chunkIntervalReason).toMatch(/epoch milliseconds/);
    expect(await dimensions()).toEqual([
      { hypertable_schema: 'Sales Data', hypertable_name: 'Orders', column_name: 'Created At', time_interval: '7 days', integer_interval: null },
      { hypertable_schema: 'public', hypertable_name: 'events_ms', column_name: 'ts_ms', time_interval: null, integer_interval: '2592000000' },
      { hypertable_schema: 'public', hypertable_name: 'metrics', column_name: 'time', time_interval: '1 day', integer_interval: null },
    ]);
  });

  it('leaves hypertables alone when run again (exit 0)', async () => {
    const r = await hypertables(['--table', 'metrics', '--table', 'events_ms', '--json']);
    expect(r.code).toBe(0);
    expect(results(r).map((x) => [x.table.table, x.status, x.chunkInterval])).toEqual([
      ['metrics', 'already-hypertable', '1 day'], ['events_ms', 'already-hypertable', '2592000000']]);
    const text = await hypertables(['--table', 'metrics']);
    expect(text.stdout).toMatch(/^public\.metrics\s+time \(timestamptz\)\s+1 day\s+already a hypertable/m);
  });

  it('refuses a primary key without the time column, naming it, and converts none of the tables', async () => {
    const r = await hypertables(['--table', 'notes', '--table', 'orders', '--table', 'ticks:tick', '--chunk-interval', '1000']);
    expect(r.code).toBe(2);
    // All problems at once: the PK, and a --chunk-interval that does not suit the timestamptz table.
    expect(r.stderr).toContain('The primary key orders_pkey of public.orders (id) does not include the time column created_at');
    // The fix is --fix's, named with the flags given (hypertables-fix.test.ts runs it).
    expect(r.stderr).toContain(`\`${formatCommandLine(['migrate', 'hypertables', '--table', 'public.notes', '--table', 'public.orders',
      '--table', 'public.ticks:tick', '--chunk-interval', '1000', '--dir', dir, '--fix', '--source', splitPassword(dbs.source).connectionString,
      '--target', splitPassword(dbs.target).connectionString])}\` ` +
      'does it on the target (list first, then in one transaction per table): primary key orders_pkey (id) becomes (id, created_at), same name. ' +
      'Cost: id alone is no longer unique in public.orders: only (id, created_at) is.');
    expect(r.stderr).toContain('The chunk interval "1000" has no unit, but "ts" is a timestamptz column.');
    expect(r.stderr).toContain('nothing was changed');
    expect(await hypertableNames()).toEqual(['Sales Data.Orders', 'public.events_ms', 'public.metrics']);
  });

  it('exits 2 for an unknown table, an unsupported column type, and a non-integer interval for an integer column', async () => {
    const unknown = await hypertables(['--table', 'nowhere']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('The table public.nowhere does not exist on the target.');
    const text = await hypertables(['--table', 'notes:body']);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain('The column "body" of public.notes has type text, which cannot be a time column.');
    // "tick" does not look like a time column by name: it must be named.
    const unnamed = await hypertables(['--table', 'ticks']);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toContain("next: Name the time column: --table public.ticks:time_column.");
    const interval = await hypertables(['--table', 'ticks:tick', '--chunk-interval', '1 day']);
    expect(interval.code).toBe(2);
    expect(interval.stderr).toContain('an integer time column needs a positive whole number');
    const bad = await hypertables(['--table', 'notes', '--chunk-interval', 'fortnight']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--chunk-interval "fortnight" is not an interval');
    expect(await hypertableNames()).toEqual(['Sales Data.Orders', 'public.events_ms', 'public.metrics']);
  });

  it('converts an integer table with an integer --chunk-interval, and a table referenced by a foreign key', async () => {
    const r = await hypertables(['--table', 'ticks:tick', '--chunk-interval', '1000', '--json'], false);
    expect(r.code).toBe(0);
    expect(results(r)[0]).toMatchObject({ timeColumn: 'tick', timeType: 'integer', chunkInterval: '1000', status: 'converted' });
    // TimescaleDB 2.16+ allows foreign keys that reference a hypertable.
    const fk = await hypertables(['--table', 'readings', '--json'], false);
    expect(fk.stderr).not.toMatch(/error:/);
    expect(results(fk)[0]).toMatchObject({ status: 'converted', chunkInterval: '7 days' });
    await sql(dbs.target, "INSERT INTO readings VALUES (1, '2024-01-01T00:00:00Z'); INSERT INTO reading_notes VALUES (1, '2024-01-01T00:00:00Z')");
    await expect(sql(dbs.target, "INSERT INTO reading_notes VALUES (2, '2024-01-01T00:00:00Z')")).rejects.toThrow(/foreign key/);
  });

  it('converts a table that has rows with migrate_data, and warns', async () => {
    const r = await hypertables(['--table', 'preloaded']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('public.preloaded already has rows on the target: converting with migrate_data => true');
    expect(r.stdout).toMatch(/public\.preloaded: chunk interval from the target's rows: ~24 rows\/day/);
    const [row] = await sql<{ n: string; chunks: string }>(dbs.target,
      "SELECT (SELECT count(*) FROM preloaded) AS n, (SELECT count(*) FROM show_chunks('preloaded')) AS chunks");
    expect(row).toEqual({ n: '100', chunks: expect.any(String) });
    expect(Number(row?.chunks)).toBeGreaterThan(0);
    const [only] = await sql<{ n: string }>(dbs.target, 'SELECT count(*) AS n FROM ONLY preloaded');
    expect(only?.n).toBe('0'); // every row moved into chunks
  });

  it('enables compression with segment-by/order-by and a policy job', async () => {
    await sql(dbs.target, `CREATE TABLE "Sales Data"."Returns" ("Created At" timestamptz NOT NULL, "Region's Code" text, "Order Id" int)`);
    const r = await hypertables(['--table', '"Sales Data"."Returns"', '--compress', '--segment-by', `"Region's Code"`,
      '--order-by', '"Created At" DESC, "Order Id"', '--compress-after', '14 days', '--json'], false);
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    const [result] = results(r);
    expect(result?.compression).toEqual({ status: 'enabled', segmentBy: ["Region's Code"], orderBy: '"Created At" DESC, "Order Id"',
      compressAfter: '14 days' });
    const settings = await sql(dbs.target, `SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc
      FROM timescaledb_information.compression_settings WHERE hypertable_name = 'Returns' ORDER BY attname`);
    expect(settings).toEqual([
      { attname: 'Created At', segmentby_column_index: null, orderby_column_index: 1, orderby_asc: false },
      { attname: 'Order Id', segmentby_column_index: null, orderby_column_index: 2, orderby_asc: true },
      { attname: "Region's Code", segmentby_column_index: 1, orderby_column_index: null, orderby_asc: null },
    ]);
    const jobs = await sql<{ job_id: number; config: Record<string, unknown> }>(dbs.target, `SELECT job_id, config FROM
      timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'Returns'`);
    expect(jobs).toEqual([{ job_id: result?.policyJobId, config: expect.objectContaining({ compress_after: '14 days' }) }]);

    // Again: nothing changes, the same job is reported.
    const again = await hypertables(['--table', '"Sales Data"."Returns"', '--compress-after', '14 days', '--json'], false);
    expect(again.code).toBe(0);
    expect(results(again)[0]).toMatchObject({ status: 'already-hypertable', policyJobId: result?.policyJobId,
      compression: { status: 'already-enabled' } });
    // Compression on an existing hypertable; a column that does not exist is exit 2.
    const missing = await hypertables(['--table', 'metrics', '--segment-by', 'nope'], false);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('public.metrics has no column "nope"');
    const metrics = await hypertables(['--table', 'metrics', '--segment-by', 'device_id', '--compress-after', '30 days', '--json'], false);
    expect(results(metrics)[0]).toMatchObject({ status: 'already-hypertable', compression: { status: 'enabled' } });
    expect(results(metrics)[0]?.policyJobId).toEqual(expect.any(Number));
  });

  it('candidates reads a TimescaleDB database too: hypertables keep their dimension and chunk interval', async () => {
    const r = await runCli(['candidates', '--source', dbs.target, '--min-size', '0', '--json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m))) as Candidate[];
    expect(list.every((c) => !c.table.schema.startsWith('_timescaledb'))).toBe(true);
    const preloaded = list.find((c) => c.table.table === 'preloaded');
    // 30 days: what \`hypertables\` chose from the target's rows, read back from the dimension.
    expect(preloaded).toMatchObject({ hypertable: true, estimatedRows: 100, chunkInterval: { value: '30 days' },
      timeColumn: { name: 'time', reason: expect.stringMatching(/^the hypertable's time dimension/) as unknown as string } });
    expect(preloaded?.totalBytes).toBeGreaterThan(8192); // the chunks' size, not the empty parent's
    expect(list.find((c) => c.table.table === 'events_ms')?.chunkInterval?.value).toBe('2592000000');
  });

  it('says so when the target server has TimescaleDB installed but not preloaded', async () => {
    // The source cluster has the TimescaleDB files but does not preload the library.
    const r = await runCli(['hypertables', '--target', dbs.source, '--table', 'metrics', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('TimescaleDB is installed on the target server but not in shared_preload_libraries');
    expect(r.stderr).toMatch(/next: .*shared_preload_libraries = 'timescaledb'/);
  });
});

/**
 * Issue #9.5: from a TimescaleDB source the schema load brings the tables as hypertables already.
 * `migrate hypertables` reports the settings they came with (chunk interval, compression, policy),
 * not `-`, and the wizard says they already were hypertables instead of "converted".
 */
describe.skipIf(!hasTimescale)('[timescaledb] hypertables that a TimescaleDB source\'s schema brought', () => {
  // The source cluster does not preload timescaledb: the TimescaleDB source lives on the target cluster.
  const suffix = Math.random().toString(16).slice(2, 10);
  const sourceName = `src_hyper_ts_${suffix}`;
  const wizardName = `tgt_hyper_wiz_${suffix}`;
  const source = (): string => clusterUrl('target', sourceName);
  let target: TestDatabases;
  let tmp: string;
  const tables = ['--table', 'public.metrics', '--table', 'public.events_ms', '--table', '"Sales Data"."Returns"', '--table', 'public.readings'];
  const run = (args: string[]): Promise<CliResult> =>
    runCli(['hypertables', '--source', source(), '--target', target.target, '--dir', tmp, ...args]);

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'migrate-hypertables-ts-'));
    target = await createDatabases('hyper_ts');
    await sql(clusterUrl('target'), `CREATE DATABASE "${sourceName}"`);
    await sql(clusterUrl('target'), `CREATE DATABASE "${wizardName}"`);
    await sql(source(), `CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE TABLE metrics (time timestamptz NOT NULL, device int NOT NULL, value float8);
      SELECT create_hypertable('metrics', by_range('time', interval '1 day'));
      ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device', timescaledb.compress_orderby = 'time DESC');
      CREATE TABLE events_ms (ts_ms bigint NOT NULL, id bigint);
      SELECT create_hypertable('events_ms', by_range('ts_ms', 86400000));
      CREATE SCHEMA "Sales Data";
      CREATE TABLE "Sales Data"."Returns" ("Created At" timestamptz NOT NULL, "Region's Code" text, "a,b" int, "Order Id" int);
      SELECT create_hypertable('"Sales Data"."Returns"', by_range('Created At', interval '12 hours'));
      ALTER TABLE "Sales Data"."Returns" SET (timescaledb.compress, timescaledb.compress_segmentby = '"Region''s Code", "a,b"',
        timescaledb.compress_orderby = '"Created At" DESC NULLS LAST, "Order Id" NULLS FIRST');
      CREATE TABLE readings (time timestamptz NOT NULL, sensor int, v float8);
      INSERT INTO metrics SELECT '2024-01-01'::timestamptz + g * interval '1 minute', g % 5, g FROM generate_series(1, 20000) g;
      INSERT INTO events_ms SELECT 1704067200000 + g * 60000, g FROM generate_series(1, 5000) g;
      INSERT INTO readings SELECT '2024-01-01'::timestamptz + g * interval '1 minute', g % 5, g FROM generate_series(1, 5000) g;
      ANALYZE;`);
    // The policy comes after the chunks are compressed and does not run during the test: a policy run
    // compressing chunks while they are compressed by hand, or dumped, makes either fail now and then.
    await sql(source(), `SELECT count(compress_chunk(c)) FROM show_chunks('metrics', older_than => timestamptz '2024-01-10') c;
      SELECT add_compression_policy('metrics', interval '7 days', initial_start => now() + interval '1 day');`);
    const schema = await runCli(['schema', '--source', source(), '--target', target.target, '--dir', tmp, ...tables]);
    expect(schema.code, schema.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await target?.drop();
    await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${sourceName}" WITH (FORCE)`);
    await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${wizardName}" WITH (FORCE)`);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('reports their chunk interval and compression in the table, with --json and with --dry-run', async () => {
    const [job] = await sql<{ job_id: number }>(target.target,
      "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'metrics'");
    const dry = await run([...tables, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const line = (table: string): string | undefined => dry.stdout.split('\n').find((l) => l.startsWith(`${table} `));
    expect(line('public.metrics')).toMatch(new RegExp('^public\\.metrics\\s+time \\(timestamptz\\)\\s+1 day\\s+already a hypertable\\s+' +
      `already enabled; segment by device; order by "time" DESC; after 7 days; job ${job?.job_id}$`));
    expect(line('public.events_ms')).toMatch(/^public\.events_ms\s+ts_ms \(bigint\)\s+86400000\s+already a hypertable\s+not enabled$/);
    expect(line('"Sales Data"."Returns"')).toMatch(/\s+12:00:00\s+already a hypertable\s+already enabled; segment by "Region's Code", "a,b"; /);
    expect(line('public.readings')).toMatch(/^public\.readings\s+time \(timestamptz\)\s+\S+ \S+\s+would convert\s+-$/);
    expect(dry.stdout).toContain('SELECT "public".create_hypertable(\'"public"."readings"\'::regclass'); // only for readings
    expect(dry.stdout.match(/create_hypertable/g)).toHaveLength(1);

    const json = await run([...tables, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const byName = new Map(results(json).map((r) => [r.table.table, r]));
    expect(byName.get('metrics')).toMatchObject({ status: 'already-hypertable', chunkInterval: '1 day', policyJobId: job?.job_id,
      compression: { status: 'already-enabled', segmentBy: ['device'], orderBy: '"time" DESC', compressAfter: '7 days' } });
    expect(byName.get('events_ms')).toMatchObject({ status: 'already-hypertable', timeType: 'bigint', chunkInterval: '86400000',
      compression: { status: 'not-enabled', segmentBy: [], orderBy: '' } });
    expect(byName.get('events_ms')?.policyJobId).toBeUndefined();
    expect(byName.get('Returns')).toMatchObject({ status: 'already-hypertable', chunkInterval: '12:00:00', compression: {
      status: 'already-enabled', segmentBy: ["Region's Code", 'a,b'], orderBy: '"Created At" DESC NULLS LAST, "Order Id" NULLS FIRST' } });
    expect(byName.get('readings')).toMatchObject({ status: 'converted' });
    expect(byName.get('readings')?.compression).toBeUndefined();
  });

  it('reads the same compression settings from each settings view TimescaleDB has had', async () => {
    const table = { schema: 'Sales Data', table: 'Returns' };
    const columns = ['Created At', "Region's Code", 'a,b', 'Order Id'];
    const read = await withClient({ side: 'target', connectionString: target.target }, async (client) => {
      const each = new Map<string, unknown>();
      for (const view of SETTINGS_VIEWS) each.set(view, await readCompressionColumns(client, table, columns, view));
      return { newest: await settingsView(client), each };
    });
    expect(read.newest).toBe('hypertable_columnstore_settings'); // TimescaleDB 2.18+
    expect([...read.each.keys()]).toEqual(['hypertable_columnstore_settings', 'hypertable_compression_settings', 'compression_settings']);
    for (const settings of read.each.values()) {
      expect(settings).toEqual({ segmentBy: ["Region's Code", 'a,b'], orderBy: [
        { column: 'Created At', direction: 'DESC', nulls: 'LAST' }, { column: 'Order Id', nulls: 'FIRST' }] });
    }
  });

  it('keeps the policy a hypertable has, and reports it rather than the one asked for', async () => {
    const r = await run(['--table', 'metrics', '--compress-after', '30 days', '--segment-by', 'value', '--json']);
    expect(r.code, r.stderr).toBe(0);
    // With --json the events are NDJSON on stderr; stdout holds only the result.
    expect(r.stderr).toMatch(/public\.metrics already has a compression policy \(job \d+, after 7 days\); it is left as it is\./);
    expect(results(r)[0]?.compression).toEqual({ status: 'already-enabled', segmentBy: ['device'], orderBy: '"time" DESC',
      compressAfter: '7 days' });
    const [policy] = await sql<{ after: string }>(target.target, `SELECT config->>'compress_after' AS after
      FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'metrics'`);
    expect(policy?.after).toBe('7 days');
  });

  it('the wizard says which tables it converted and which already were hypertables, with their settings', async () => {
    const dir = path.join(tmp, 'wizard');
    const plan = path.join(tmp, 'plan.json');
    await writeFile(plan, JSON.stringify({
      roles: { load: false },
      tables: [{ table: 'public.metrics' }, { table: 'public.events_ms' }, { table: 'public.readings', timeColumn: 'time', chunkInterval: '1 day' }],
      // Nothing dual-writes here: the wizard stops at that step, after the one under test.
      dualWrites: { confirmed: true, waitSeconds: 1 },
    }));
    const r = await runCli(['wizard', '--yes', '--plan', plan, '--source', source(), '--target', clusterUrl('target', wizardName),
      '--dir', dir], { timeoutMs: 120_000 });
    expect(r.stderr).toContain('No dual-written rows arrived within 1s');
    const state = await readStateFile(dir) as { steps: Record<string, { status: string; message?: string }> } | undefined;
    const [job] = await sql<{ job_id: number }>(clusterUrl('target', wizardName),
      "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'metrics'");
    const message = 'converted public.readings; already hypertables: public.metrics (chunks of 1 day; compression already ' +
      `enabled; segment by device; order by "time" DESC; after 7 days; job ${job?.job_id}), public.events_ms (chunks of ` +
      '86400000; compression not enabled)';
    expect(state?.steps.hypertables).toMatchObject({ status: 'done', message });
    expect(r.stderr).toContain(`✔ Hypertables: ${message}`);
    expect(await sql(clusterUrl('target', wizardName), `SELECT hypertable_name, time_interval::text, integer_interval::text
      FROM timescaledb_information.dimensions ORDER BY 1`)).toEqual([
      // Not named in the plan, but the schema load brings every hypertable of the source.
      { hypertable_name: 'Returns', time_interval: '12:00:00', integer_interval: null },
      { hypertable_name: 'events_ms', time_interval: null, integer_interval: '86400000' },
      { hypertable_name: 'metrics', time_interval: '1 day', integer_interval: null },
      { hypertable_name: 'readings', time_interval: '1 day', integer_interval: null },
    ]);
  });
});
