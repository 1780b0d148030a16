import { describe, expect, it } from 'vitest';
import type { IndexInfo, TableInfo } from '../../src/core/catalog.js';
import { compareVersions, isFixable, routingTriggerBlocker, structuralBlockers, uniqueIndexFix } from '../../src/core/hypertable-blockers.js';

const table = (extra: Partial<TableInfo> = {}): TableInfo => ({
  name: { schema: 'Sales Data', table: 'Orders' }, oid: 1, columns: [], indexes: [], referencedBy: [], partitioned: false,
  inheritsFrom: [], inheritedBy: [], totalBytes: 0, estimatedRows: 0, ...extra,
});
const index = (extra: Partial<IndexInfo>): IndexInfo =>
  ({ name: 'i', columns: ['id'], primary: false, unique: true, partial: false, method: 'btree', definition: 'CREATE …', ...extra });
const fk = { foreignKeysToHypertables: true };

describe('uniqueIndexFix', () => {
  it('rewrites a primary key to include the time column', () => {
    expect(uniqueIndexFix(table(), index({ name: 'Orders_pkey', constraint: 'Orders_pkey', primary: true }), 'Created At'))
      .toBe('ALTER TABLE "Sales Data"."Orders" DROP CONSTRAINT "Orders_pkey", ADD PRIMARY KEY ("id", "Created At");');
  });
  it('rewrites a unique constraint under its own name', () => {
    expect(uniqueIndexFix(table(), index({ name: 'u', constraint: 'u', columns: ['a', 'b'] }), 'ts'))
      .toBe('ALTER TABLE "Sales Data"."Orders" DROP CONSTRAINT "u", ADD CONSTRAINT "u" UNIQUE ("a", "b", "ts");');
  });
  it('recreates a plain unique index', () => {
    expect(uniqueIndexFix(table(), index({ name: 'by_code' }), 'ts'))
      .toBe('DROP INDEX "Sales Data"."by_code"; CREATE UNIQUE INDEX "by_code" ON "Sales Data"."Orders" ("id", "ts");');
  });
  it('shows the definition of an expression or partial index', () => {
    expect(uniqueIndexFix(table(), index({ columns: [null], definition: 'CREATE UNIQUE INDEX i ON t (lower(code))' }), 'ts'))
      .toMatch(/Recreate it with "ts" added.*lower\(code\)/);
  });
});

describe('structuralBlockers', () => {
  it('names every unique index without the time column, and no others', () => {
    const { blockers } = structuralBlockers(table({ indexes: [
      index({ name: 'pk', constraint: 'pk', primary: true }),
      index({ name: 'ok', columns: ['id', 'ts'] }),
      index({ name: 'plain', unique: false }),
    ] }), 'ts', fk);
    expect(blockers.map((b) => b.kind)).toEqual(['unique-without-time']);
    expect(blockers[0]?.message).toMatch(/primary key pk of "Sales Data"\."Orders" \(id\)/);
  });
  it('warns about referencing foreign keys on 2.16+, blocks before', () => {
    const t = table({ referencedBy: [{ name: 'fk1', from: { schema: 'public', table: 'items' }, columns: ['order_id', 'ts'],
      referencedColumns: ['id', 'ts'] }] });
    expect(structuralBlockers(t, 'ts', fk)).toMatchObject({ blockers: [], warnings: [{ kind: 'referenced-by-fk' }] });
    const old = structuralBlockers(t, 'ts', { foreignKeysToHypertables: false });
    expect(old.blockers[0]?.fix).toMatch(/ALTER TABLE "public"."items" DROP CONSTRAINT "fk1"/);
  });
  it('blocks partitioned, partition and inheritance tables, and tables with no time column', () => {
    const kinds = (t: TableInfo, time?: string) => structuralBlockers(t, time, fk).blockers.map((b) => b.kind);
    expect(kinds(table({ partitioned: true }), 'ts')).toEqual(['partitioned']);
    expect(kinds(table({ partitionOf: { schema: 'public', table: 'p' } }), 'ts')).toEqual(['partitioned']);
    expect(kinds(table({ inheritedBy: [{ schema: 'public', table: 'child' }] }), 'ts')).toEqual(['inherited']);
    expect(structuralBlockers(table({ inheritsFrom: [{ schema: 'public', table: 'base' }] }), 'ts', fk).blockers[0]?.fix)
      .toMatch(/ALTER TABLE "Sales Data"."Orders" NO INHERIT "public"."base";/);
    expect(kinds(table(), undefined)).toEqual(['no-time-column']);
  });
  it('on the source, takes a tree as one table and refuses only a table inside one', () => {
    const source = { ...fk, treeBecomesOneTable: true };
    const kinds = (t: TableInfo) => structuralBlockers(t, 'ts', source).blockers.map((b) => b.kind);
    expect(kinds(table({ partitioned: true }))).toEqual([]);
    expect(kinds(table({ inheritedBy: [{ schema: 'public', table: 'child' }] }))).toEqual([]);
    expect(kinds(table({ partitionOf: { schema: 'public', table: 'p' } }))).toEqual(['partitioned']);
    const child = structuralBlockers(table({ inheritsFrom: [{ schema: 'public', table: 'base' }] }), 'ts', source).blockers;
    expect(child).toMatchObject([{ kind: 'inherited', message: '"Sales Data"."Orders" inherits from public.base: its rows belong to that tree.' }]);
    expect(child[0]?.fix).toMatch(/^Choose the top of the tree instead \(public\.base/);
  });
});

describe('compareVersions', () => {
  it('compares numerically', () => {
    expect(compareVersions('2.9.0', '2.13.0')).toBe(-1);
    expect(compareVersions('2.28.3', '2.16.0')).toBe(1);
    expect(compareVersions('2.16', '2.16.0')).toBe(0);
  });
});

describe('isFixable', () => {
  it('says which blockers --fix removes on the target', () => {
    const fixable = (['unique-without-time', 'referenced-by-fk', 'inherited', 'routing-trigger', 'nullable-time', 'partitioned',
      'no-time-column'] as const).filter((kind) => isFixable({ kind }));
    expect(fixable).toEqual(['unique-without-time', 'referenced-by-fk', 'inherited', 'routing-trigger']);
  });
  it('names a routing trigger with the SQL that drops it', () => {
    const b = routingTriggerBlocker(table(), 'Route It');
    expect(b).toMatchObject({ kind: 'routing-trigger' });
    expect(b.fix).toContain('DROP TRIGGER "Route It" ON "Sales Data"."Orders";');
  });
});
