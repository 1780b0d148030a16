import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { compressionPolicySql, compressionSql, createHypertableSql, parseColumnList, parseOrderBy, sqlStringLiteral }
  from '../../src/steps/hypertable-sql.js';
import { parseSize } from '../../src/steps/candidates.js';

describe('sqlStringLiteral', () => {
  it('doubles single quotes, and uses E-strings for backslashes', () => {
    expect(sqlStringLiteral('"a", "b"')).toBe(`'"a", "b"'`);
    expect(sqlStringLiteral(`"it's"`)).toBe(`'"it''s"'`);
    expect(sqlStringLiteral(String.raw`"c\d"`)).toBe(String.raw`E'"c\\d"'`);
    expect(() => sqlStringLiteral('a\0b')).toThrow(UsageError);
  });
});

describe('compression column lists', () => {
  it('parses lists with SQL name rules', () => {
    expect(parseColumnList('device_id, "Tenant, Id" ,Region')).toEqual(['device_id', 'Tenant, Id', 'region']);
    expect(() => parseColumnList('a,,b')).toThrow(/empty/);
  });
  it('parses ORDER BY items', () => {
    expect(parseOrderBy('"Created At" desc nulls last, id')).toEqual([
      { column: 'Created At', direction: 'DESC', nulls: 'LAST' }, { column: 'id' }]);
    expect(() => parseOrderBy('time sideways')).toThrow(UsageError);
  });
  it('builds ALTER TABLE … SET with quoted columns inside one literal', () => {
    expect(compressionSql({ schema: 'public', table: 'm' }, [`it's`, 'Device'], parseOrderBy('"time" DESC')))
      .toBe(`ALTER TABLE "public"."m" SET (timescaledb.compress, timescaledb.compress_segmentby = '"it''s", "Device"', ` +
        `timescaledb.compress_orderby = '"time" DESC')`);
    expect(compressionSql({ schema: 'public', table: 'm' }, [], [])).toBe('ALTER TABLE "public"."m" SET (timescaledb.compress)');
  });
});

describe('create_hypertable and policies', () => {
  it('uses by_range on 2.13+ and the old signature before, with parameters', () => {
    expect(createHypertableSql({ extensionSchema: 'public', byRange: true, type: 'timestamp with time zone' }))
      .toBe('SELECT "public".create_hypertable($1::regclass, "public".by_range($2::name, $3::interval), migrate_data => $4::boolean)');
    expect(createHypertableSql({ extensionSchema: 'ts', byRange: false, type: 'bigint' }))
      .toBe('SELECT "ts".create_hypertable($1::regclass, $2::name, chunk_time_interval => $3::bigint, migrate_data => $4::boolean)');
  });
  it('passes the threshold as a typed parameter', () => {
    expect(compressionPolicySql('public', 'interval', 'date')).toMatch(/compress_after => \$2::interval, if_not_exists => true\)$/);
    expect(compressionPolicySql('public', 'integer', 'integer')).toMatch(/compress_after => \$2::integer/);
    expect(compressionPolicySql('public', 'created-before', 'bigint')).toMatch(/compress_created_before => \$2::interval/);
  });
});

describe('parseSize', () => {
  it('reads sizes like pg_size_pretty writes them', () => {
    expect(parseSize('0')).toBe(0);
    expect(parseSize('10MB')).toBe(10 * 1024 * 1024);
    expect(parseSize('1.5 GB')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('500kB')).toBe(512_000);
    expect(() => parseSize('ten')).toThrow(UsageError);
  });
});
