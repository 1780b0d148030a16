import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readCompletionPoints, recordCompletionPoints, recordedTables, resolveFrom, resolveUntil, splitValueFlags,
} from '../../src/core/completion-points.js';
import { connect, type Client } from '../../src/core/db.js';
import { MigrateError, UsageError } from '../../src/core/errors.js';
import { detectEpochUnit } from '../../src/steps/completion-point-range.js';
import { hashColumns } from '../../src/steps/validate-checksums.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

const metrics = { schema: 'public', table: 'metrics' };
const events = { schema: 'public', table: 'events' };

describe('splitValueFlags', () => {
  it('separates a value for all tables from schema.table=VALUE', () => {
    const split = splitValueFlags(['2023-08-10T12:00:00Z', 'public.events=1695036737000'], [metrics, events], '--until');
    expect(split.all).toBe('2023-08-10T12:00:00Z');
    expect([...split.perTable]).toEqual([['public.events', '1695036737000']]);
  });

  it('reads quoted names with "=" inside and values with spaces', () => {
    const odd = { schema: 'Sales', table: 'a=b' };
    const split = splitValueFlags(['"Sales"."a=b"=2023-08-10 12:00:00+02'], [odd], '--until');
    expect([...split.perTable]).toEqual([['"Sales"."a=b"', '2023-08-10 12:00:00+02']]);
    expect(splitValueFlags(['events=5'], [events], '--from').perTable.get('public.events')).toBe('5');
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      splitValueFlags(['1', '2', 'public.nope=3', 'public.events=4', 'events=5'], [metrics, events], '--until');
    } catch (e) { error = e; }
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as UsageError).message;
    expect(message).toContain('--until is given twice without a table');
    expect(message).toContain('names public.nope, which is not one of the tables given with --table');
    expect(message).toContain('--until is given twice for public.events');
  });
});

describe('the completion-points file', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'cp-file-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('is empty before anything is recorded, merges per table, and is versioned JSON', async () => {
    expect(await readCompletionPoints(dir)).toEqual({ version: 1, tables: {} });
    await recordCompletionPoints(dir, [{ ...metrics, column: 'time', type: 'timestamp with time zone', until: '2023-08-10 12:00:00+00' }],
      new Date('2024-01-01T00:00:00Z'));
    await recordCompletionPoints(dir, [{ ...events, column: 'ts', type: 'bigint', until: '1695036737000' }]);
    const file = JSON.parse(await readFile(path.join(dir, 'completion-points.json'), 'utf8'));
    expect(file.version).toBe(1);
    expect(file.tables['public.metrics']).toEqual({ schema: 'public', table: 'metrics', column: 'time',
      type: 'timestamp with time zone', until: '2023-08-10 12:00:00+00', recordedAt: '2024-01-01T00:00:00.000Z' });
    expect(file.tables['public.events'].until).toBe('1695036737000');
    expect(recordedTables(await readCompletionPoints(dir))).toEqual([
      { ...metrics, column: 'time' }, { ...events, column: 'ts' }]);
    expect((await stat(path.join(dir, 'completion-points.json'))).isFile()).toBe(true);
  });

  it('refuses a file it does not understand, with a way out', async () => {
    const other = await mkdtemp(path.join(os.tmpdir(), 'cp-bad-'));
    await writeFile(path.join(other, 'completion-points.json'), JSON.stringify({ version: 2, tables: {} }));
    await expect(readCompletionPoints(other)).rejects.toThrow(MigrateError);
    await writeFile(path.join(other, 'completion-points.json'), '{ nope');
    await expect(readCompletionPoints(other)).rejects.toThrow(/not valid JSON/);
    await rm(other, { recursive: true, force: true });
  });
});

describe('resolveUntil / resolveFrom (against a real database)', () => {
  let dbs: TestDatabases;
  let client: Client;
  let dir: string;
  const tables = [{ ...metrics }, { ...events, column: 'ts' }];

  beforeAll(async () => {
    dbs = await createDatabases('cp_resolve');
    await sql(dbs.source, `CREATE TABLE metrics (time timestamptz NOT NULL, v int);
      CREATE TABLE events (ts bigint NOT NULL, payload text); CREATE TABLE days (day date NOT NULL)`);
    client = await connect({ side: 'source', connectionString: dbs.source });
    dir = await mkdtemp(path.join(os.tmpdir(), 'cp-resolve-'));
  });
  afterAll(async () => {
    await client.end();
    await dbs.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const failure = async (promise: Promise<unknown>): Promise<UsageError> => {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  };

  it('parses per-table values per column type and normalizes them', async () => {
    const result = await resolveUntil({ tables, untilFlags: ['public.metrics=2023-08-10 14:00:00+02', 'events=1695036737000'],
      dir, source: client });
    expect(result.get('public.metrics')).toEqual({ column: 'time', type: 'timestamp with time zone', until: '2023-08-10 12:00:00+00' });
    expect(result.get('public.events')).toEqual({ column: 'ts', type: 'bigint', until: '1695036737000' });
  });

  it('applies --timezone to offset-less values', async () => {
    const result = await resolveUntil({ tables: [metrics], untilFlags: ['2023-08-10 14:00'], timezone: 'Europe/Berlin', dir, source: client });
    expect(result.get('public.metrics')?.until).toBe('2023-08-10 12:00:00+00');
  });

  it('lists every table whose value does not fit, suggesting schema.table=VALUE', async () => {
    const error = await failure(resolveUntil({ tables: [...tables, { schema: 'public', table: 'days' }],
      untilFlags: ['2023-08-10T12:00:00Z'], dir, source: client }));
    expect(error.message).toContain('2 tables');
    expect(error.message).toContain('public.events (bigint)');
    expect(error.message).toContain('--until public.events=1695036737000');
    expect(error.message).toContain('public.days (date)');
    expect(error.message).not.toContain('public.metrics');
  });

  it('falls back to the recorded point, and says which tables have none', async () => {
    const missing = await failure(resolveUntil({ tables, untilFlags: [], dir, source: client }));
    expect(missing.message).toContain('public.metrics: no --until given and no completion point recorded');
    expect(missing.message).toContain('public.events: no --until given');
    expect(missing.hint).toContain('migrate completion-point');
    await recordCompletionPoints(dir, [{ ...metrics, column: 'time', type: 'timestamp with time zone', until: '2023-08-10 12:00:00+00' }]);
    const result = await resolveUntil({ tables, untilFlags: ['public.events=17'], dir, source: client });
    expect(result.get('public.metrics')?.until).toBe('2023-08-10 12:00:00+00');
    expect(result.get('public.events')?.until).toBe('17');
    // A flag beats the recorded point; useRecorded: false ignores the file.
    expect((await resolveUntil({ tables: [metrics], untilFlags: ['2024-01-01T00:00:00Z'], dir, source: client }))
      .get('public.metrics')?.until).toBe('2024-01-01 00:00:00+00');
    await failure(resolveUntil({ tables: [metrics], untilFlags: [], dir, source: client, useRecorded: false }));
  });

  it('refuses a recorded point made for another time column', async () => {
    await recordCompletionPoints(dir, [{ ...events, column: 'other', type: 'bigint', until: '5' }]);
    const error = await failure(resolveUntil({ tables: [{ ...events, column: 'ts' }], untilFlags: [], dir, source: client }));
    expect(error.message).toContain('recorded completion point is for other (bigint)');
  });

  it('refuses infinity as a completion point', async () => {
    const error = await failure(resolveUntil({ tables: [metrics], untilFlags: ['infinity'], dir, source: client }));
    expect(error.message).toContain('infinite value cannot be used here');
  });

  it('resolveFrom: -infinity or nothing means unbounded for every type; values are typed', async () => {
    const unbounded = await resolveFrom({ tables, fromFlags: [], dir, source: client });
    expect(unbounded.get('public.metrics')).toEqual({ column: 'time', type: 'timestamp with time zone' });
    expect(unbounded.get('public.events')).toEqual({ column: 'ts', type: 'bigint' });
    const all = await resolveFrom({ tables, fromFlags: ['-infinity'], dir, source: client });
    expect(all.get('public.events')?.from).toBeUndefined();
    const typed = await resolveFrom({ tables, fromFlags: ['public.metrics=2023-01-01T00:00:00+01', 'public.events=100'], dir, source: client });
    expect(typed.get('public.metrics')?.from).toBe('2022-12-31 23:00:00+00');
    expect(typed.get('public.events')?.from).toBe('100');
    const error = await failure(resolveFrom({ tables, fromFlags: ['2023-01-01T00:00:00Z'], dir, source: client }));
    expect(error.message).toContain('public.events (bigint)');
  });
});

describe('detectEpochUnit', () => {
  const now = 1_763_000_000n; // Nov 2025
  it('reads the unit from the magnitude', () => {
    expect(detectEpochUnit(['1700000000'], now)).toBe('seconds');
    expect(detectEpochUnit(['1700000000000', '1700000500000'], now)).toBe('milliseconds');
    expect(detectEpochUnit(['1700000000000000'], now)).toBe('microseconds');
    expect(detectEpochUnit(['1700000000000000000', null], now)).toBe('nanoseconds');
  });
  it('gives up on counters, mixed magnitudes, and far futures', () => {
    expect(detectEpochUnit(['12345'], now)).toBeUndefined();
    expect(detectEpochUnit(['1700000000', '1700000000000'], now)).toBeUndefined();
    expect(detectEpochUnit(['4000000000'], now)).toBeUndefined();
    expect(detectEpochUnit([null, undefined], now)).toBeUndefined();
  });
});

describe('hashColumns', () => {
  const col = (name: string, type: string, ordinal: number) => ({ name, type, ordinal, notNull: false, generated: false, identity: false });
  it('matches by name in a fixed order whatever the physical order, and casts differing types', () => {
    const result = hashColumns(
      [col('time', 'timestamp with time zone', 1), col('v', 'integer', 2), col('b', 'text', 3), col('gone', 'text', 4)],
      [col('b', 'text', 1), col('v', 'bigint', 2), col('time', 'timestamp with time zone', 3), col('extra', 'int', 4)]);
    expect(result.names).toEqual(['b', 'time', 'v']);
    expect([...result.casts]).toEqual([['v', { side: 'target', type: 'integer' }]]);
    expect(result.onlyOnSource).toEqual(['gone']);
    expect(result.onlyOnTarget).toEqual(['extra']);
  });
});
