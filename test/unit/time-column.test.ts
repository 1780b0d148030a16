import { describe, expect, it } from 'vitest';
import type { ColumnInfo, IndexInfo } from '../../src/core/catalog.js';
import { rankTimeColumns } from '../../src/core/time-column.js';

let ordinal = 0;
const col = (name: string, type: string, notNull = false): ColumnInfo =>
  ({ name, type, notNull, generated: false, identity: false, ordinal: ++ordinal });
const index = (name: string, columns: string[], extra: Partial<IndexInfo> = {}): IndexInfo =>
  ({ name, columns, primary: false, unique: false, partial: false, method: 'btree', definition: '', ...extra });

describe('rankTimeColumns', () => {
  it('prefers a NOT NULL timestamptz named like time, and says why', () => {
    const ranked = rankTimeColumns({
      columns: [col('id', 'bigint', true), col('created_at', 'timestamp with time zone'), col('time', 'timestamp with time zone', true),
        col('note', 'text')],
      indexes: [index('pk', ['id', 'time'], { primary: true, unique: true }), index('t_idx', ['time'])],
    });
    expect(ranked.map((r) => r.column.name)).toEqual(['time', 'created_at']);
    expect(ranked[0]?.reasons).toEqual(['NOT NULL timestamptz', 'named like a time column', 'leading column of index t_idx',
      'in the primary key']);
  });
  it('takes integer columns only when their name says time', () => {
    const ranked = rankTimeColumns({ columns: [col('id', 'bigint', true), col('count', 'integer'), col('ts_ms', 'bigint', true),
      col('epoch', 'integer')], indexes: [] });
    expect(ranked.map((r) => r.column.name)).toEqual(['ts_ms', 'epoch']);
  });
  it('reads names with spaces and camelCase, and distrusts columns that change after insert', () => {
    const ranked = rankTimeColumns({ columns: [col('updated_at', 'timestamp with time zone', true), col('Created At', 'timestamp', true),
      col('eventTime', 'timestamp with time zone', true)], indexes: [] });
    expect(ranked.map((r) => r.column.name)).toEqual(['eventTime', 'Created At', 'updated_at']);
    expect(ranked[2]?.reasons).toContain('but its name suggests it changes after insert');
  });
  it('ranks timestamps above dates and dates above integers', () => {
    const ranked = rankTimeColumns({ columns: [col('day', 'integer', true), col('date', 'date', true), col('ts', 'timestamp(3) without time zone', true)],
      indexes: [] });
    expect(ranked.map((r) => `${r.column.name}:${r.type}`)).toEqual(['ts:timestamp without time zone', 'date:date', 'day:integer']);
  });
  it('takes a domain over a time type as its base type, and prefers a tree\'s partition key', () => {
    const domain: ColumnInfo = { ...col('logged', 'audit_time', true), baseType: 'timestamp with time zone' };
    const ranked = rankTimeColumns({ columns: [col('created_at', 'timestamp with time zone', true), domain, col('code', 'text')],
      indexes: [], tree: { partitionColumns: ['logged'] } });
    expect(ranked.map((r) => `${r.column.name}:${r.type}`)).toEqual(['logged:timestamp with time zone', 'created_at:timestamp with time zone']);
    expect(ranked[0]?.reasons).toEqual(['NOT NULL timestamptz', 'named like a time column', 'the partition key', 'a domain (audit_time)']);
    expect(rankTimeColumns({ columns: [{ ...col('logged', 'audit_code'), baseType: 'text' }], indexes: [] })).toEqual([]);
  });
  it('finds nothing in a lookup table', () => {
    expect(rankTimeColumns({ columns: [col('id', 'integer', true), col('name', 'text')], indexes: [] })).toEqual([]);
  });
});
