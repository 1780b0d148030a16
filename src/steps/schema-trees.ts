/**
 * Partitioned tables and inheritance trees among the tables given to `migrate schema` (issue #10
 * item 2): each becomes ONE plain table on the target, ready for create_hypertable. This module
 * reads from the source what the dump rewrite (schema-tree-rewrite.ts) needs and what the report
 * says: the partitions or children left out, their indexes and identity sequences (whose
 * statements go too), the routing trigger of an inheritance parent, pg_partman's configuration
 * rows, and a time column typed by a domain (the target column gets the base type).
 */
import { readDescendants, type TableInfo } from '../core/catalog.js';
import { UsageError } from '../core/errors.js';
import type { Client } from '../core/db.js';
import { routesRows } from './hypertable-fix.js';
import { agreedIndexes, checkTree } from './schema-tree-checks.js';
import { byName, displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';

export interface RoutingTrigger {
  name: string;
  /** The trigger function, regprocedure text; it stays in the schema (nothing else may use it, but it harms nothing). */
  function: string;
  reason: string;
}

export interface PartmanRows {
  /** The config table (part_config or part_config_sub), in whatever schema pg_partman lives. */
  table: QualifiedName;
  rows: number;
}

export interface DomainColumn {
  table: QualifiedName;
  column: string;
  /** The column's type on the source. */
  domain: QualifiedName;
  /** format_type() of the domain's base type (through domains over domains). */
  baseType: string;
  /** A NOT NULL of the domain (or of a domain below it) becomes the column's own. */
  notNull: boolean;
  /** The domain's CHECK constraints, which do not come across with the base type. */
  checks: string[];
}

export interface SchemaTree {
  table: QualifiedName;
  kind: 'partitioned' | 'inheritance';
  /** Partitions (any depth, intermediate ones included) or inheritance children, left out. */
  partitions: QualifiedName[];
  /** Those of them that are DEFAULT partitions (their rows are the parent's like any other). */
  defaultPartitions: QualifiedName[];
  routingTriggers: RoutingTrigger[];
  partmanConfig: PartmanRows[];
  /** Left out with nothing lost, said in the report (a child's own column without values). */
  notes: string[];
  /** Indexes every partition or child had but the parent did not: created on the one table. */
  addedIndexes: string[];
}

/** What the rewrite needs besides the report: every relation whose statements are left out. */
export interface TreePlan extends SchemaTree {
  /** Partitions/children, their indexes and their own identity sequences. */
  dropped: QualifiedName[];
}

interface Member extends QualifiedName { oid: string; is_default: boolean }

export interface PartmanTable { table: QualifiedName; column: string }

/**
 * The given tables that are trees (a partitioned table, or a table with inheritance children), and
 * pg_partman's config tables (whose rows for those trees the rewrite leaves out).
 */
export async function readTrees(client: Client, given: TableInfo[]): Promise<{ trees: TreePlan[]; partmanTables: PartmanTable[] }> {
  const trees: TreePlan[] = [];
  const partman = await partmanConfigTables(client);
  const problems: string[] = [];
  for (const table of given) {
    // A TimescaleDB hypertable's chunks are its children too, but it is already what we want.
    if (table.hypertable) continue;
    const members = await treeMembers(client, table.oid);
    if (!table.partitioned && members.length === 0) continue;
    const names = members.map(({ schema, table: t }) => ({ schema, table: t }));
    const check = await checkTree(client, { ...table.name, oid: table.oid }, members, !table.partitioned);
    problems.push(...check.problems);
    const indexes = await agreedIndexes(client, { ...table.name, oid: table.oid }, members);
    trees.push({
      notes: [...check.notes, ...indexes.uniqueLeftOut.map((shape) => `the unique index USING ${shape} that every ` +
        `${table.partitioned ? 'partition' : 'child'} has (unique in each one, not across them: not carried)`)],
      addedIndexes: indexes.statements,
      table: table.name,
      kind: table.partitioned ? 'partitioned' : 'inheritance',
      partitions: names,
      defaultPartitions: members.filter((m) => m.is_default).map(({ schema, table: t }) => ({ schema, table: t })),
      routingTriggers: await routingTriggers(client, table, names),
      partmanConfig: await partmanRows(client, partman, [table.name, ...names]),
      dropped: [...names, ...await ownedRelations(client, members.map((m) => m.oid))],
    });
  }
  if (problems.length > 0) {
    throw new UsageError(`Turning ${problems.length === 1 ? 'this tree' : 'these trees'} into one table would lose data or ` +
      `definitions; nothing was changed:\n  - ${problems.join('\n  - ')}`, { hint: 'Make each change on the source as it says, then run ' +
      'migrate schema again (or leave the table out of --table: it then comes across as it is, partitions and all).' });
  }
  return { trees, partmanTables: partman };
}

/** Every partition or inheritance child below a table, at any depth (TimescaleDB chunks excluded). */
async function treeMembers(client: Client, oid: number): Promise<Member[]> {
  return (await readDescendants(client, oid)).filter((d) => ['r', 'p', 'f'].includes(d.relkind))
    .map((d) => ({ oid: d.oid, schema: d.schema, table: d.table, is_default: d.isDefault }))
    .sort(byName);
}

/** The members' indexes and identity sequences: their statements (ATTACH, COMMENT, setval) go with them. */
async function ownedRelations(client: Client, oids: string[]): Promise<QualifiedName[]> {
  if (oids.length === 0) return [];
  const { rows } = await client.query<QualifiedName>(
    `SELECT n.nspname AS schema, c.relname AS table
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.indrelid = ANY($1::oid[])
     UNION
     SELECT n.nspname, c.relname
       FROM pg_depend d JOIN pg_class c ON c.oid = d.objid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i'
        AND c.relkind = 'S' AND d.refobjid = ANY($1::oid[])
      ORDER BY 1, 2`, [oids]);
  return rows;
}

// pg_trigger.tgtype bits (PostgreSQL's trigger.h).
const ROW = 1;
const BEFORE = 2;
const INSERT = 4;

/**
 * The triggers on the parent that route rows into its children: a row-level BEFORE INSERT trigger
 * on an inheritance parent (the classic routing trigger, pg_partman 4's trigger-based partitioning
 * too), or any trigger whose function names a child. On the target the children are gone, so
 * such a trigger would fail every insert or swallow the rows (it returns NULL after routing).
 */
async function routingTriggers(client: Client, table: TableInfo, children: QualifiedName[]): Promise<RoutingTrigger[]> {
  const { rows } = await client.query<{ name: string; function: string; tgtype: number; body: string }>(
    `SELECT t.tgname AS name, t.tgfoid::regprocedure::text AS function, t.tgtype::int AS tgtype, p.prosrc AS body
       FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE t.tgrelid = $1 AND NOT t.tgisinternal ORDER BY 1`, [table.oid]);
  const found: RoutingTrigger[] = [];
  for (const row of rows) {
    const named = children.find((c) => new RegExp(`(^|[^\\w$])${escapeRegExp(c.table)}($|[^\\w$])`, 'i').test(row.body));
    const beforeInsertRow = (row.tgtype & (ROW | BEFORE | INSERT)) === (ROW | BEFORE | INSERT);
    if (named) {
      found.push({ name: row.name, function: row.function, reason: `its function ${row.function} writes to the child ${displayName(named)}` });
    } else if (beforeInsertRow && !table.partitioned && children.length > 0 && routesRows(row.body)) {
      // Inserts elsewhere and swallows the row: routing (by a dynamic table name). A BEFORE INSERT
      // trigger that only sets columns is the application's own and stays.
      found.push({ name: row.name, function: row.function, reason: 'a BEFORE INSERT row trigger on an inheritance parent that inserts ' +
        'the row elsewhere and returns NULL routes rows to the children' });
    }
  }
  return found;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * pg_partman's configuration tables, wherever the extension (or a hand install) put them:
 * `part_config` keyed by `parent_table`, `part_config_sub` by `sub_parent` (pg_partman 4 and 5).
 */
export async function partmanConfigTables(client: Client): Promise<PartmanTable[]> {
  const { rows } = await client.query<QualifiedName & { column: string }>(
    `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE c.relkind = 'r' AND NOT a.attisdropped
        AND ((c.relname = 'part_config' AND a.attname = 'parent_table') OR (c.relname = 'part_config_sub' AND a.attname = 'sub_parent'))
      ORDER BY 1, 2`);
  return rows.map(({ schema, table, column }) => ({ table: { schema, table }, column }));
}

/** pg_partman names tables `schema.table` in its config (unquoted, as it requires lower-case names). */
export function partmanKey(name: QualifiedName): string {
  return `${name.schema}.${name.table}`;
}

async function partmanRows(client: Client, tables: PartmanTable[], names: QualifiedName[]):
  Promise<PartmanRows[]> {
  const found: PartmanRows[] = [];
  for (const { table, column } of tables) {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${quoteQualified(table)} WHERE ${quoteIdent(column)}::text = ANY($1::text[])`,
      [names.map(partmanKey)]);
    const n = rows[0]?.n ?? 0;
    if (n > 0) found.push({ table, rows: n });
  }
  return found;
}

/** The time column's type when it is a domain (else undefined): the target column gets the base type. */
export async function readDomainColumn(client: Client, table: TableInfo, column: string): Promise<DomainColumn | undefined> {
  const { rows } = await client.query<{ type: string; typtype: string }>(
    `SELECT a.atttypid::text AS type, t.typtype FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`, [table.oid, column]);
  const first = rows[0];
  if (!first || first.typtype !== 'd') return undefined;
  let oid = first.type;
  let domain: QualifiedName | undefined;
  let notNull = false;
  const checks: string[] = [];
  for (let depth = 0; depth < 32; depth += 1) {
    const { rows: [step] } = await client.query<QualifiedName & { typtype: string; base: string; basetype: string; notnull: boolean; checks: string[] }>(
      `SELECT n.nspname AS schema, t.typname AS table, t.typtype, t.typnotnull AS notnull, t.typbasetype::text AS basetype,
              format_type(t.typbasetype, t.typtypmod) AS base,
              coalesce((SELECT array_agg(pg_get_constraintdef(k.oid) ORDER BY k.conname) FROM pg_constraint k
                         WHERE k.contypid = t.oid AND k.contype = 'c'), '{}') AS checks
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1`, [oid]);
    if (!step || step.typtype !== 'd') break;
    domain ??= { schema: step.schema, table: step.table };
    notNull ||= step.notnull;
    checks.push(...step.checks);
    const { rows: [base] } = await client.query<{ typtype: string }>('SELECT typtype FROM pg_type WHERE oid = $1', [step.basetype]);
    if (base?.typtype !== 'd') return { table: table.name, column, domain, baseType: step.base, notNull, checks };
    oid = step.basetype;
  }
  return undefined;
}

/** The table as the target will have it: the domain-typed column with its base type (what resolveTimeColumn judges). */
export function withBaseType(table: TableInfo, domain: DomainColumn): TableInfo {
  return { ...table, columns: table.columns.map((c) => c.name === domain.column ? { ...c, type: domain.baseType } : c) };
}

/** One line per tree for the report: what was left out and why. */
export function describeTree(tree: SchemaTree): string[] {
  const what = tree.kind === 'partitioned' ? 'partition' : 'inheritance child';
  const plural = tree.kind === 'partitioned' ? 'partitions' : 'inheritance children';
  const n = tree.partitions.length;
  const lines = [`${displayName(tree.table)} (${tree.kind === 'partitioned' ? 'partitioned table' : 'inheritance parent'}) ` +
    `becomes one plain table on the target, ready for create_hypertable.`];
  if (n > 0) {
    const defaults = tree.defaultPartitions.length > 0 ? `, default: ${tree.defaultPartitions.map(displayName).join(', ')}` : '';
    lines.push(`  left out: ${n} ${n === 1 ? what : plural} (${listShort(tree.partitions)}${defaults}) and their indexes, ` +
      `constraints, triggers, comments and grants; the backfill reads their rows through the parent`);
  }
  for (const trigger of tree.routingTriggers) {
    lines.push(`  left out: the routing trigger ${JSON.stringify(trigger.name)}: ${trigger.reason} (the function stays)`);
  }
  for (const config of tree.partmanConfig) {
    lines.push(`  left out: ${config.rows} pg_partman configuration row${config.rows === 1 ? '' : 's'} in ${displayName(config.table)} ` +
      '(partition maintenance does not apply to a hypertable)');
  }
  for (const note of tree.notes) lines.push(`  left out: ${note}`);
  for (const index of tree.addedIndexes) lines.push(`  added: ${index} (every ${what} had it)`);
  return lines;
}

function listShort(names: QualifiedName[], max = 5): string {
  const shown = names.slice(0, max).map(displayName).join(', ');
  return names.length > max ? `${shown}, … ${names.length - max} more` : shown;
}

export function describeDomainColumn(domain: DomainColumn): string {
  return `${displayName(domain.table)}.${quoteIdent(domain.column)} has the domain type ${displayName(domain.domain)}; ` +
    `on the target it has the base type ${domain.baseType}${domain.notNull ? ' NOT NULL' : ''}` +
    (domain.checks.length > 0 ? ` (the domain's ${domain.checks.join(', ')} is not carried)` : '');
}
