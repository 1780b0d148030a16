import { describe, expect, it } from 'vitest';
import { MigrateError } from '../../src/core/errors.js';
import { DUMP_FLAGS, dumpArgs, errorLines, loadArgs, planTimescale, quietDumpMessages } from '../../src/steps/schema-commands.js';
import { pauseJobsLoad, pauseJobsScript } from '../../src/steps/schema-jobs.js';

describe('dumpArgs', () => {
  it('uses the reference flags and one exact --exclude-table-data pattern per table', () => {
    expect(dumpArgs([{ schema: 'public', table: 'metrics' }, { schema: 'Sales Data', table: 'Orders' },
      { schema: 'odd', table: 'a.b*"c' }])).toEqual([
      '--format=plain', '--quote-all-identifiers', '--no-tablespaces', '--no-owner', '--no-privileges',
      '--exclude-table-data="public"."metrics"',
      '--exclude-table-data="Sales Data"."Orders"',
      '--exclude-table-data="odd"."a.b*""c"',
    ]);
  });

  it('leaves out every chunk of a TimescaleDB source', () => {
    expect(dumpArgs([], ['_timescaledb_internal'])).toEqual([...DUMP_FLAGS, '--exclude-table-data="_timescaledb_internal".*']);
  });
});

describe('loadArgs', () => {
  it('loads in one transaction that stops at the first error', () => {
    expect(loadArgs('/m/dump.sql', { warnings: [] })).toEqual(
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--echo-errors', '--single-transaction', '-f', '/m/dump.sql']);
  });

  it('creates TimescaleDB first and wraps a TimescaleDB restore in pre/post_restore, schema-qualified', () => {
    const args = loadArgs('/m/dump.sql', { createSql: 'CREATE EXTENSION IF NOT EXISTS timescaledb', restoreSchema: 'public', warnings: [] });
    expect(args.slice(6)).toEqual([
      '-c', 'CREATE EXTENSION IF NOT EXISTS timescaledb',
      '-c', 'SELECT "public".timescaledb_pre_restore()',
      '-f', '/m/dump.sql',
      '-c', 'SELECT "public".timescaledb_post_restore()',
    ]);
  });

  it('runs the job-pause script after the dump and before post_restore, with its psql variables', () => {
    const args = loadArgs('/m/dump.sql', { restoreSchema: 'public', warnings: [] },
      { file: '/m/pause-jobs.sql', variables: { migrate_expected: '[{"schema_name":"it\'s","table_name":"x"}]' } });
    expect(args).toEqual(['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--echo-errors', '--single-transaction',
      '-v', 'migrate_expected=[{"schema_name":"it\'s","table_name":"x"}]',
      '-c', 'SELECT "public".timescaledb_pre_restore()',
      '-f', '/m/dump.sql', '-f', '/m/pause-jobs.sql',
      '-c', 'SELECT "public".timescaledb_post_restore()']);
  });
});

describe('the job-pause script', () => {
  it('reads its values from psql variables (quoted by psql), and qualifies everything (the dump empties search_path)', () => {
    const script = pauseJobsScript('my ext');
    expect(script).toContain(":'migrate_expected'::pg_catalog.json");
    expect(script).toContain(":'migrate_paused_by'");
    expect(script).toContain('SELECT "my ext".alter_job(job_id, scheduled => false)');
    expect(script).toContain('CREATE TABLE IF NOT EXISTS _migrate.expected_backfill');
    expect(script).not.toMatch(/\b(FROM|INTO|JOIN)\s+(?!_migrate\.|timescaledb_information\.|pg_catalog\.)[a-z_]+\b(?!\.)/);
    expect(pauseJobsLoad('/m/pause-jobs.sql', [{ schema: 'Sales Data', table: 'Orders' }])).toEqual({ file: '/m/pause-jobs.sql',
      variables: { migrate_expected: '[{"schema_name":"Sales Data","table_name":"Orders"}]', migrate_paused_by: 'schema load' } });
  });
});

describe('planTimescale', () => {
  const source = { version: '2.28.3', schema: 'public', hypertables: [], chunkSchemas: ['_timescaledb_internal'] };

  it('creates TimescaleDB on a target that offers it, for a plain source', () => {
    expect(planTimescale(undefined, { defaultVersion: '2.28.3', installable: ['2.28.3'], preloaded: true }))
      .toEqual({ createSql: 'CREATE EXTENSION IF NOT EXISTS timescaledb', warnings: [] });
    expect(planTimescale(undefined, { defaultVersion: '2.28.3', installable: ['2.28.3'], preloaded: undefined }).createSql)
      .toBeDefined();
  });

  it('only warns for a plain source when the target has no usable TimescaleDB', () => {
    const none = planTimescale(undefined, { installable: [], preloaded: undefined });
    expect(none.createSql).toBeUndefined();
    expect(none.warnings[0]).toContain('no TimescaleDB');
    const notPreloaded = planTimescale(undefined, { defaultVersion: '2.28.3', installable: ['2.28.3'], preloaded: false });
    expect(notPreloaded.createSql).toBeUndefined();
    expect(notPreloaded.warnings[0]).toContain('shared_preload_libraries');
  });

  it('creates the source version and restores with pre/post_restore for a TimescaleDB source', () => {
    expect(planTimescale(source, { defaultVersion: '2.28.3', installable: ['2.28.3'], preloaded: true })).toEqual({
      createSql: 'CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA "public" VERSION "2.28.3"',
      restoreSchema: 'public', warnings: [],
    });
    expect(planTimescale(source, { installable: ['2.28.3'], installed: { version: '2.28.3', schema: 'ext' }, preloaded: true }))
      .toEqual({ restoreSchema: 'ext', warnings: [] });
  });

  it('refuses a TimescaleDB source whose version the target cannot match', () => {
    expect(() => planTimescale(source, { installable: ['2.28.3'], installed: { version: '2.27.0', schema: 'public' }, preloaded: true }))
      .toThrow(MigrateError);
    expect(() => planTimescale(source, { installable: [], preloaded: true })).toThrow(/does not have TimescaleDB/);
    expect(() => planTimescale(source, { defaultVersion: '2.28.3', installable: ['2.28.3'], preloaded: false }))
      .toThrow(/shared_preload_libraries/);
  });
});

describe('errorLines', () => {
  it('keeps psql error lines and their context, not the notices before them', () => {
    const lines = ['psql:dump.sql:3: NOTICE:  something', 'psql:dump.sql:86: ERROR:  relation "customers" already exists',
      'psql:dump.sql:86: STATEMENT:  CREATE TABLE "public"."customers" (', '    "id" integer NOT NULL', ');', ''];
    expect(errorLines(lines)).toEqual(lines.slice(1, 5));
  });

  it('falls back to the last lines and caps the length', () => {
    expect(errorLines(['a', 'b'])).toEqual(['a', 'b']);
    const many = ['ERROR: x', ...Array.from({ length: 30 }, (_, i) => `line ${i}`)];
    expect(errorLines(many, 5)).toEqual(['ERROR: x', 'line 0', 'line 1', 'line 2', 'line 3', '… (26 more lines)']);
  });
});

describe('quietDumpMessages', () => {
  it('drops the circular-FK warning about TimescaleDB\'s catalog and keeps everything else', () => {
    const timescale = ['pg_dump: warning: there are circular foreign-key constraints on this table:', 'pg_dump: detail: continuous_agg',
      'pg_dump: hint: You might not be able to restore the dump without using --disable-triggers.', 'pg_dump: hint: Consider a full dump.'];
    const user = ['pg_dump: warning: there are circular foreign-key constraints on this table:', 'pg_dump: detail: orders',
      'pg_dump: hint: You might not be able to restore the dump without using --disable-triggers.'];
    expect(quietDumpMessages([...timescale, ...user, 'pg_dump: other'])).toEqual([...user, 'pg_dump: other']);
  });
});
