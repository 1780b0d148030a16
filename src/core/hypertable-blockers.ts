/**
 * What stops a table from becoming a hypertable, each with the fix spelled out. Shared by
 * `candidates` (report) and `hypertables` (refuse before changing anything).
 *
 * Checked against TimescaleDB 2.28.3: every primary key and unique index must include the time
 * column ("cannot create a unique index without the column … used in partitioning"); foreign keys
 * that *reference* a hypertable work since 2.16 (so they are a warning, not a blocker, there);
 * declarative partitioning and inheritance cannot be combined with a hypertable. On the source a
 * tree is no blocker (its parent becomes one plain table on the target); on the target it is.
 */
import type { IndexInfo, TableInfo } from './catalog.js';
import { displayName, quoteIdent, quoteQualified } from './identifiers.js';
import { formatCommandLine } from './shell.js';

export type BlockerKind = 'unique-without-time' | 'referenced-by-fk' | 'nullable-time' | 'partitioned' | 'inherited' |
  'no-time-column' | 'infinite-time' | 'routing-trigger' | 'exclusion-without-time';

/**
 * Blockers `migrate hypertables --fix` (and the wizard, with an explicit yes) can remove on the target
 * itself, at a cost it lists: keys widened (uniqueness weakened, FKs dropped), inheritance detached,
 * routing triggers dropped. The others need the operator (data on the source, a time column).
 */
const FIXABLE: ReadonlySet<BlockerKind> = new Set<BlockerKind>(['unique-without-time', 'referenced-by-fk', 'inherited', 'routing-trigger']);

export function isFixable(blocker: Pick<Blocker, 'kind'>): boolean {
  return FIXABLE.has(blocker.kind);
}

export interface Blocker {
  kind: BlockerKind;
  message: string;
  /** What to do, usually the exact SQL. */
  fix: string;
}

export interface BlockerOptions {
  /** Foreign keys may reference hypertables (TimescaleDB 2.16+). */
  foreignKeysToHypertables: boolean;
  /**
   * The table is judged on the source, where a partitioned table or an inheritance parent is fine:
   * the target gets one plain table in place of the tree, and the backfill reads the tree through
   * its parent. Only a table inside a tree is refused (its parent is the candidate). Without it
   * (the target, in `hypertables`) a tree is still a blocker.
   */
  treeBecomesOneTable?: boolean;
}

/** The first TimescaleDB version where foreign keys may reference a hypertable. */
export const FK_TO_HYPERTABLE_VERSION = '2.16.0';

/** Compare dotted versions numerically: -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The SQL that makes a unique index/constraint include the time column. */
export function uniqueIndexFix(table: TableInfo, index: IndexInfo, timeColumn: string): string {
  const relation = quoteQualified(table.name);
  const plain = index.columns.every((c) => c !== null) && !index.partial;
  if (!plain) return `Recreate it with ${quoteIdent(timeColumn)} added to its key columns; it is now: ${index.definition};`;
  const columns = [...index.columns.map((c) => quoteIdent(c as string)), quoteIdent(timeColumn)].join(', ');
  if (index.constraint !== undefined) {
    const constraint = quoteIdent(index.constraint);
    return index.primary
      ? `ALTER TABLE ${relation} DROP CONSTRAINT ${constraint}, ADD PRIMARY KEY (${columns});`
      : `ALTER TABLE ${relation} DROP CONSTRAINT ${constraint}, ADD CONSTRAINT ${constraint} UNIQUE (${columns});`;
  }
  const name = quoteQualified({ schema: table.name.schema, table: index.name });
  return `DROP INDEX ${name}; CREATE UNIQUE INDEX ${quoteIdent(index.name)} ON ${relation} (${columns});`;
}

/** Blockers and warnings that follow from the table's structure (not its data). */
export function structuralBlockers(table: TableInfo, timeColumn: string | undefined, options: BlockerOptions):
  { blockers: Blocker[]; warnings: Blocker[] } {
  const blockers: Blocker[] = [];
  const warnings: Blocker[] = [];
  const name = displayName(table.name);
  if (timeColumn === undefined) {
    blockers.push({
      kind: 'no-time-column',
      message: `${name} has no column that can be a time column (timestamptz, timestamp, date or an integer).`,
      fix: `Name the time column with ${formatCommandLine(['--table', `${name}:column`])}, or leave the table out: its data is then copied with the schema.`,
    });
  } else {
    for (const index of table.indexes) {
      if (index.exclusion !== undefined && !index.columns.includes(timeColumn)) {
        // Not fixable by widening: the operator must choose the operator for the time column.
        blockers.push({
          kind: 'exclusion-without-time',
          message: `The exclusion constraint ${index.exclusion} of ${name} does not include the time column ${timeColumn}; ` +
            'TimescaleDB requires every unique or exclusion index to include it.',
          fix: `On the target, after \`migrate schema\`: drop it (ALTER TABLE ${quoteQualified(table.name)} DROP CONSTRAINT ` +
            `${quoteIdent(index.exclusion)};), or re-create it with ${quoteIdent(timeColumn)} WITH = added (a GiST exclusion needs ` +
            'btree_gist for it). `--fix` does not change exclusion constraints.',
        });
        continue;
      }
      if (!(index.primary || index.unique) || index.columns.includes(timeColumn)) continue;
      const what = index.primary ? `primary key ${index.constraint ?? index.name}`
        : index.constraint !== undefined ? `unique constraint ${index.constraint}` : `unique index ${index.name}`;
      const fks = table.referencedBy.filter((fk) => !fk.referencedColumns.includes(timeColumn));
      const fkNote = fks.length > 0
        ? ` First drop or widen the foreign keys that reference it: ${fks.map((fk) => `${fk.name} on ${displayName(fk.from)}`).join(', ')}.`
        : '';
      blockers.push({
        kind: 'unique-without-time',
        message: `The ${what} of ${name} (${index.columns.map((c) => c ?? '(expression)').join(', ')}) does not include ` +
          `the time column ${timeColumn}; TimescaleDB requires every unique index to include it.`,
        fix: `On the target, after \`migrate schema\`: ${uniqueIndexFix(table, index, timeColumn)}${fkNote}`,
      });
    }
  }
  for (const fk of table.referencedBy) {
    const entry: Blocker = {
      kind: 'referenced-by-fk',
      message: `Foreign key ${fk.name} on ${displayName(fk.from)} (${fk.columns.join(', ')}) references ${name}.`,
      fix: options.foreignKeysToHypertables
        ? `TimescaleDB ${FK_TO_HYPERTABLE_VERSION}+ supports foreign keys that reference hypertables; the referenced ` +
          'columns must be a unique key that includes the time column, and checking them costs a lookup per write.'
        : `Drop it on the target (ALTER TABLE ${quoteQualified(fk.from)} DROP CONSTRAINT ${quoteIdent(fk.name)};), ` +
          `or upgrade the target to TimescaleDB ${FK_TO_HYPERTABLE_VERSION}+.`,
    };
    (options.foreignKeysToHypertables ? warnings : blockers).push(entry);
  }
  if (options.treeBecomesOneTable) {
    blockers.push(...partOfTreeBlockers(table));
    return { blockers, warnings };
  }
  if (table.partitioned) {
    blockers.push({
      kind: 'partitioned',
      message: `${name} is declaratively partitioned (PARTITION BY); a hypertable replaces that partitioning.`,
      fix: 'On the target, create it as a plain table (the same columns, without PARTITION BY and without partitions) ' +
        'before `migrate hypertables`; the backfill copies the rows of all partitions.',
    });
  }
  if (table.partitionOf) {
    blockers.push({
      kind: 'partitioned',
      message: `${name} is a partition of ${displayName(table.partitionOf)}.`,
      fix: `Convert the parent ${displayName(table.partitionOf)} instead (as a plain table on the target).`,
    });
  }
  const relatives = [...table.inheritsFrom.map((p) => `inherits from ${displayName(p)}`),
    ...table.inheritedBy.map((c) => `is inherited by ${displayName(c)}`)];
  if (relatives.length > 0) {
    const noInherit = [...table.inheritsFrom.map((p) => `ALTER TABLE ${quoteQualified(table.name)} NO INHERIT ${quoteQualified(p)};`),
      ...table.inheritedBy.map((c) => `ALTER TABLE ${quoteQualified(c)} NO INHERIT ${quoteQualified(table.name)};`)];
    blockers.push({
      kind: 'inherited',
      message: `${name} uses table inheritance: it ${relatives.join(' and ')}.`,
      fix: `On the target, detach it before converting: ${noInherit.join(' ')}`,
    });
  }
  return { blockers, warnings };
}

/** On the source: a partition or an inheritance child is not a table of its own, its tree's root is. */
function partOfTreeBlockers(table: TableInfo): Blocker[] {
  const name = displayName(table.name);
  const parents = table.partitionOf ? [table.partitionOf] : table.inheritsFrom;
  const kind: BlockerKind = table.partitionOf ? 'partitioned' : 'inherited';
  return parents.map((parent) => ({
    kind,
    message: `${name} ${table.partitionOf ? 'is a partition of' : 'inherits from'} ${displayName(parent)}: its rows belong to that tree.`,
    fix: `Choose the top of the tree instead (${displayName(parent)}, or its own parent): the target gets one table ` +
      'in place of the whole tree, and the backfill reads every partition and child through it.',
  }));
}

/** The blocker for a nullable time column that holds NULLs. */
export function nullTimeBlocker(table: TableInfo, timeColumn: string, where?: 'source'): Blocker {
  const relation = quoteQualified(table.name);
  return {
    kind: 'nullable-time',
    message: `The time column ${timeColumn} of ${displayName(table.name)} has NULLs${where ? ` on the ${where}` : ''}; ` +
      'a hypertable\'s time column is NOT NULL, so those rows could never be backfilled.',
    fix: `Fill or delete those rows${where ? ` on the ${where}` : ''} (SELECT count(*) FROM ${relation} WHERE ${quoteIdent(timeColumn)} IS NULL;), ` +
      'or choose another time column.',
  };
}

/**
 * An inheritance routing trigger left on the target (BEFORE INSERT, FOR EACH ROW, inserting elsewhere
 * and returning NULL): on a hypertable it would keep sending dual-written rows into old child tables.
 */
export function routingTriggerBlocker(table: TableInfo, trigger: string): Blocker {
  return {
    kind: 'routing-trigger',
    message: `${displayName(table.name)} has the trigger ${trigger}, which routes inserted rows into other tables ` +
      '(inheritance routing): rows written to the hypertable would not stay in it.',
    fix: `On the target, after \`migrate schema\`: DROP TRIGGER ${quoteIdent(trigger)} ON ${quoteQualified(table.name)};`,
  };
}
