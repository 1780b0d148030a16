/**
 * What `migrate schema` reads from the source before anything runs: the given tables must all
 * exist (every unknown one is reported at once), their time columns too; plus the tables whose
 * data is left out (partitions and inheritance children of the given ones, a TimescaleDB source's
 * hypertables) and the tables that arrive with their data.
 */
import { resolveTable, resolveTimeColumn, type TableInfo } from '../core/catalog.js';
import type { Client } from '../core/db.js';
import { serverMajorVersion } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { displayName, quoteIdent, quoteQualified, sameTable, type QualifiedName, type TableSpec } from '../core/identifiers.js';
import { listDescendants, listUserTables, readTimescale, type SourceTimescale } from './schema-catalog.js';
import { partmanKey, readDomainColumn, readTrees, withBaseType, type DomainColumn, type PartmanTable, type TreePlan } from './schema-trees.js';
import type { DumpRewritePlan } from './schema-tree-rewrite.js';

export interface SourcePlan {
  major: number;
  /** The given tables, as found (deduplicated). */
  given: QualifiedName[];
  /** Every table whose data stays out of the dump: the given ones, their descendants, hypertables. */
  excluded: QualifiedName[];
  /** Top-level tables that arrive empty. */
  empty: QualifiedName[];
  /** Top-level tables that arrive with their rows. */
  withData: QualifiedName[];
  /** A TimescaleDB source's hypertables that were not given: they arrive empty too. */
  extraHypertables: QualifiedName[];
  timescale?: SourceTimescale;
  /** Given tables that are partitioned or inheritance trees: each arrives as one plain table. */
  trees: TreePlan[];
  /** Given time columns typed by a domain: the target column gets the base type. */
  domainColumns: DomainColumn[];
  partmanTables: PartmanTable[];
  /** The dump's encoding for the rewrite: utf8, or latin1 to pass any other encoding's bytes through unchanged. */
  dumpEncoding: BufferEncoding;
}

export async function readSourcePlan(client: Client, specs: TableSpec[]): Promise<SourcePlan> {
  const major = await serverMajorVersion(client);
  const problems: string[] = [];
  const given: TableInfo[] = [];
  const domainColumns: DomainColumn[] = [];
  for (const spec of specs) {
    try {
      const info = await resolveTable(client, spec, 'source');
      if (spec.column !== undefined) {
        // Judged with the type the target column will have (a domain over timestamptz is a time column).
        const domain = await readDomainColumn(client, info, spec.column);
        await resolveTimeColumn(client, domain ? withBaseType(info, domain) : info, spec.column);
        if (domain && !domainColumns.some((d) => d.column === domain.column && sameTable(d.table, domain.table))) domainColumns.push(domain);
      }
      if (!given.some((g) => g.oid === info.oid)) given.push(info);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problems.push(error.hint ? `${error.message} (${error.hint})` : error.message);
    }
  }
  if (problems.length > 0) {
    throw new UsageError(problems.length === 1 ? (problems[0] as string)
      : `${problems.length} of the tables given cannot be used:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Run `migrate candidates` to list the source\'s tables and time columns; write names with capitals or spaces ' +
        `in double quotes inside single quotes, e.g. --table '"Sales Data"."Orders":"Created At"'. Nothing was changed.`,
    });
  }
  const { trees, partmanTables } = await readTrees(client, given);
  refuseTreeMembers(given, trees);
  const excluded: QualifiedName[] = [];
  const addExcluded = (name: QualifiedName): void => { if (!excluded.some((e) => sameTable(e, name))) excluded.push(name); };
  for (const table of given) {
    addExcluded(table.name);
    for (const child of await listDescendants(client, table.oid)) addExcluded(child);
  }
  const timescale = await readTimescale(client);
  const extraHypertables = (timescale?.hypertables ?? []).filter((h) => !given.some((g) => sameTable(g.name, h)));
  extraHypertables.forEach(addExcluded);
  await refuseDanglingForeignKeys(client, given, excluded);
  // Partitions and children do not come to the target at all: the tree is one table there.
  const inTree = (t: QualifiedName): boolean => trees.some((tree) => tree.partitions.some((p) => sameTable(p, t)));
  const all = (await listUserTables(client)).filter((t) => !inTree(t));
  const isExcluded = (t: QualifiedName): boolean => excluded.some((e) => sameTable(e, t));
  const empty = [...given.map((g) => g.name), ...all.filter((t) => isExcluded(t) && !given.some((g) => sameTable(g.name, t)))];
  const { rows: [encoding] } = await client.query<{ utf8: boolean }>("SELECT current_setting('server_encoding') = 'UTF8' AS utf8");
  const plan: SourcePlan = {
    major, given: given.map((g) => g.name), excluded, empty, extraHypertables,
    withData: all.filter((t) => !isExcluded(t)),
    trees, domainColumns, partmanTables, dumpEncoding: encoding?.utf8 === false ? 'latin1' : 'utf8',
  };
  if (timescale) plan.timescale = timescale;
  return plan;
}

/** Naming a partition or child of a tree that is also given is a mistake: the tree is one table on the target. */
function refuseTreeMembers(given: TableInfo[], trees: TreePlan[]): void {
  const clashes = given.flatMap((g) => trees.filter((t) => t.partitions.some((p) => sameTable(p, g.name)))
    .map((t) => `${displayName(g.name)} is part of ${displayName(t.table)}`));
  if (clashes.length === 0) return;
  throw new UsageError(`${clashes.join('; ')}: a partitioned or inheritance tree becomes one table on the target.`, {
    hint: 'Name only the parent with --table; its partitions or children come across through it. Nothing was changed.',
  });
}

/** What the dump rewrite does for this plan (nothing when there is no tree and no domain-typed time column). */
export function rewritePlan(plan: SourcePlan): DumpRewritePlan | undefined {
  if (plan.trees.length === 0 && plan.domainColumns.length === 0) return undefined;
  return {
    trees: plan.trees.map((t) => ({ table: t.table, partitioned: t.kind === 'partitioned', dropped: t.dropped,
      routingTriggers: t.routingTriggers.map((r) => r.name), append: t.addedIndexes })),
    retypes: plan.domainColumns.map((d) => ({ table: d.table, column: d.column, domain: d.domain, baseType: d.baseType, notNull: d.notNull })),
    partmanTables: plan.partmanTables,
    partmanKeys: plan.trees.flatMap((t) => [t.table, ...t.partitions]).map(partmanKey),
  };
}

export function listNames(names: QualifiedName[], max = 10): string {
  const shown = names.slice(0, max).map((n) => displayName(n)).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/**
 * A table that keeps its rows but references a table whose rows stay out would make the load fail
 * at the end (the FOREIGN KEY is added after the data and validated). Say so before anything runs.
 */
async function refuseDanglingForeignKeys(client: Client, given: TableInfo[], excluded: QualifiedName[]): Promise<void> {
  const problems: string[] = [];
  for (const table of given) {
    for (const ref of table.referencedBy) {
      if (excluded.some((e) => sameTable(e, ref.from))) continue;
      const { rows } = await client.query<{ used: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM ${quoteQualified(ref.from)} WHERE ${
          ref.columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ')}) AS used`);
      if (rows[0]?.used) {
        problems.push(`${displayName(ref.from)} (foreign key ${JSON.stringify(ref.name)}) has rows that reference ${displayName(table.name)}`);
      }
    }
  }
  if (problems.length === 0) return;
  throw new UsageError('Leaving out these tables\' data would break foreign keys, and the load would fail:\n  - ' +
    `${problems.join('\n  - ')}`, {
    hint: 'Also name the referencing tables with --table (their data is then backfilled too), or drop those foreign keys ' +
      'on the source first (hypertables rarely keep them). Nothing was changed.',
  });
}
