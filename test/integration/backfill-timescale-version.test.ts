/**
 * Issue #9.5: the TimescaleDB version match (preflight and schema check it) is checked again when a
 * backfill starts, because the target (or the source) may have been upgraded in between. A mismatch
 * stops the run with one message naming the fix, exit 1, and nothing written on the target.
 *
 * Only TimescaleDB 2.28.3 is installed here, so the source's version is made to look older:
 * extversion says 2.27.0, and `timescaledb.disable_load` keeps the server from loading a 2.27.0
 * library that does not exist. The refusal comes before any query that would need one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectingContext } from '../../src/core/context.js';
import { ExitCode, MigrateError } from '../../src/core/errors.js';
import { runBackfill, type BackfillInput } from '../../src/steps/backfill/index.js';
import { fingerprint } from '../helpers/compare.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const T = '2024-01-07 12:30:00+00';
const DDL = 'CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value double precision)';
const ROW = `timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds', i % 5, i`;
const ROWS = 'generate_series(0, 39999) i'; // 2024-01-01 .. 2024-01-08 21:53
const input: BackfillInput = { tables: [{ table: { schema: 'public', table: 'metrics' }, until: T }], workers: 2, slice: '1 day' };

describe.skipIf(!hasTimescale)('[timescaledb] backfill checks the TimescaleDB versions again', () => {
  // The source cluster does not preload timescaledb: the TimescaleDB source lives on the target cluster.
  const sourceName = `src_backfill_tsver_${Math.random().toString(16).slice(2, 10)}`;
  const source = (): string => clusterUrl('target', sourceName);
  const dirs: string[] = [];
  let dbs: TestDatabases;
  const context = (dryRun: boolean): ReturnType<typeof collectingContext> => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-backfill-tsver-'));
    dirs.push(dir);
    return collectingContext({ source: { side: 'source', connectionString: source() },
      target: { side: 'target', connectionString: dbs.target }, dir, dryRun });
  };
  const jobs = (): Promise<unknown[]> => sql(dbs.target, 'SELECT job_id, scheduled FROM timescaledb_information.jobs WHERE job_id >= 1000');

  beforeAll(async () => {
    dbs = await createDatabases('backfill_tsver');
    await sql(clusterUrl('target'), `CREATE DATABASE "${sourceName}"`);
    await sql(source(), `CREATE EXTENSION IF NOT EXISTS timescaledb; ${DDL};
      SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
      INSERT INTO public.metrics SELECT ${ROW} FROM ${ROWS}; ANALYZE public.metrics;`);
    await sql(dbs.target, `CREATE EXTENSION IF NOT EXISTS timescaledb; ${DDL};
      SELECT create_hypertable('public.metrics', by_range('time', interval '1 day'));
      ALTER TABLE public.metrics SET (timescaledb.compress);
      SELECT add_compression_policy('public.metrics', interval '100 years');
      -- dual-written from 12:10 on, and a stale row below T that a backfill would replace
      INSERT INTO public.metrics SELECT ${ROW} FROM ${ROWS} WHERE timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds' >= '2024-01-07 12:10:00+00';
      INSERT INTO public.metrics VALUES ('2024-01-03 00:00:00+00', 4, -1);`);
    // The source "runs 2.27.0" (see the header); the target database has 2.28.3.
    await sql(source(), `ALTER DATABASE "${sourceName}" SET timescaledb.disable_load = on;
      UPDATE pg_extension SET extversion = '2.27.0' WHERE extname = 'timescaledb';`);
  });

  afterAll(async () => {
    await dbs?.drop();
    await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${sourceName}" WITH (FORCE)`);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a source on another version with one message naming the fix, exit 1, and writes nothing', async () => {
    const rows = await fingerprint(dbs.target, 'public.metrics');
    const before = await jobs();
    for (const dryRun of [true, false]) {
      const ctx = context(dryRun);
      const error = await runBackfill(input, ctx).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(MigrateError);
      const refusal = error as MigrateError;
      expect(refusal.exitCode).toBe(ExitCode.failed);
      expect(refusal.message).toBe('Cannot backfill: the source runs TimescaleDB 2.27.0 but the target database has 2.28.3; ' +
        'TimescaleDB\'s catalog and data only carry over into the same version. Nothing was written.');
      // The target cannot go back to 2.27.0: the source is the side to update.
      expect(refusal.hint).toBe('Update TimescaleDB on the source to 2.28.3 (ALTER EXTENSION timescaledb UPDATE TO \'2.28.3\' in ' +
        'the source database, as the first command of a new session), or use a target database with TimescaleDB 2.27.0. ' +
        'Then run `migrate backfill` again.');
      // Refused before planning began.
      expect(ctx.events).toEqual([]);
    }
    expect(await fingerprint(dbs.target, 'public.metrics')).toEqual(rows);
    expect(await sql(dbs.target, "SELECT count(*)::int AS n FROM public.metrics WHERE value = -1")).toEqual([{ n: 1 }]);
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = '_migrate'")).toEqual([]);
    expect(await jobs()).toEqual(before);
  });

  it('runs once the versions match again', async () => {
    // What the fix does here: the source's extension is 2.28.3 again.
    await sql(source(), `ALTER DATABASE "${sourceName}" RESET timescaledb.disable_load;
      UPDATE pg_extension SET extversion = '2.28.3' WHERE extname = 'timescaledb';`);
    const result = await runBackfill(input, context(false));
    expect(result.complete).toBe(true);
    const below = `time < '${T}'::timestamptz`;
    expect(await fingerprint(dbs.target, 'public.metrics', below)).toEqual(await fingerprint(source(), 'public.metrics', below));
    expect(await sql(dbs.target, "SELECT count(*)::int AS n FROM public.metrics WHERE value = -1")).toEqual([{ n: 0 }]);
  });
});
