/**
 * What would silently lose data or definitions when a tree becomes one table (issue #10), refused
 * by `migrate schema` before anything is dumped, each with the fix to make on the source:
 *
 * - a member that also inherits from a table outside the tree: its rows are that other parent's
 *   too, and they would vanish from it on the target (the member is left out);
 * - an inheritance child's own columns holding values: the one table has only the parent's;
 * - a foreign key from a table outside the tree to a member: there is no member to point at;
 * - a view, materialized view, rule or function body that names a member: it cannot be created.
 *
 * A child's own columns that are all NULL are only reported (nothing would be lost).
 */
import type { Client } from '../core/db.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';

export interface TreeMember extends QualifiedName { oid: string }

export interface TreeCheck {
  /** Each would lose something: refused. */
  problems: string[];
  /** Reported only. */
  notes: string[];
}

export async function checkTree(client: Client, root: QualifiedName & { oid: number }, members: TreeMember[], inheritance: boolean):
  Promise<TreeCheck> {
  const check: TreeCheck = { problems: [], notes: [] };
  if (members.length === 0) return check;
  const oids = [String(root.oid), ...members.map((m) => m.oid)];
  const tree = displayName(root);
  await otherParents(client, oids, tree, check);
  if (inheritance) await childOnlyColumns(client, root, members, tree, check);
  await foreignKeysIntoMembers(client, oids, members, tree, check);
  await dependentsOfMembers(client, members, tree, check);
  return check;
}

/** `schema.table` of a relation oid as displayName prints it (always schema-qualified, unlike ::regclass::text). */
const NAME = (oid: string): string => `(SELECT json_build_object('schema', nn.nspname, 'table', nc.relname) FROM pg_class nc
  JOIN pg_namespace nn ON nn.oid = nc.relnamespace WHERE nc.oid = ${oid})`;

type Named = QualifiedName;

async function otherParents(client: Client, oids: string[], tree: string, check: TreeCheck): Promise<void> {
  const { rows: found } = await client.query<{ member: Named; parent: Named }>(
    `SELECT ${NAME('i.inhrelid')} AS member, ${NAME('i.inhparent')} AS parent FROM pg_inherits i
      WHERE i.inhrelid = ANY($1::oid[]) AND NOT i.inhparent = ANY($1::oid[])`, [oids]);
  const rows = found.map((r) => ({ member: displayName(r.member), parent: displayName(r.parent) }));
  for (const r of rows) {
    check.problems.push(`${r.member} (in the tree of ${tree}) also inherits from ${r.parent}: its rows are ${r.parent}'s too, and ` +
      `would be missing from ${r.parent} on the target. On the source: ALTER TABLE ${r.member} NO INHERIT ${r.parent} ` +
      `(after copying what ${r.parent} needs), or migrate ${r.parent} as a tree instead.`);
  }
}

async function childOnlyColumns(client: Client, root: QualifiedName & { oid: number }, members: TreeMember[], tree: string,
  check: TreeCheck): Promise<void> {
  const { rows } = await client.query<{ member: string; schema: string; table: string; column: string; type: string }>(
    `SELECT a.attrelid::text AS member, n.nspname AS schema, c.relname AS table, a.attname AS column,
            format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
        AND NOT EXISTS (SELECT 1 FROM pg_attribute p WHERE p.attrelid = $2 AND p.attname = a.attname AND NOT p.attisdropped)
      ORDER BY 2, 3, a.attnum`, [members.map((m) => m.oid), root.oid]);
  for (const r of rows) {
    const member = quoteQualified({ schema: r.schema, table: r.table });
    const { rows: [counted] } = await client.query<{ n: string }>(
      `SELECT count(${quoteIdent(r.column)}) AS n FROM ONLY ${member}`);
    const values = Number(counted?.n ?? 0);
    const what = `${displayName({ schema: r.schema, table: r.table })}.${r.column} (${r.type})`;
    if (values === 0) {
      check.notes.push(`${what} is a column of the child only, with no values: the one table ${tree} has no such column.`);
      continue;
    }
    check.problems.push(`${what} is a column of the child only, and ${values.toLocaleString('en-US')} row(s) hold a value: the one ` +
      `table ${tree} has only the parent's columns, so they would be lost. On the source: ALTER TABLE ${quoteQualified(root)} ` +
      `ADD COLUMN ${quoteIdent(r.column)} ${r.type} (the child's column merges into it), then run migrate schema again.`);
  }
}

async function foreignKeysIntoMembers(client: Client, oids: string[], members: TreeMember[], tree: string, check: TreeCheck):
  Promise<void> {
  // conparentid = 0: a key on a partitioned table is cloned onto each partition it references; the
  // clones go with their parent key.
  const { rows: found } = await client.query<{ name: string; on: Named; to: Named }>(
    `SELECT c.conname AS name, ${NAME('c.conrelid')} AS on, ${NAME('c.confrelid')} AS to FROM pg_constraint c
      WHERE c.contype = 'f' AND c.conparentid = 0 AND c.confrelid = ANY($1::oid[]) AND NOT c.conrelid = ANY($2::oid[])
      ORDER BY 1`, [members.map((m) => m.oid), oids]);
  const rows = found.map((r) => ({ name: r.name, on: displayName(r.on), to: displayName(r.to) }));
  for (const r of rows) {
    check.problems.push(`The foreign key ${r.name} on ${r.on} references ${r.to}, a member of the tree of ${tree}; the target has ` +
      `one table in its place, so the key would be lost. On the source, point it at ${tree} or drop it.`);
  }
}

async function dependentsOfMembers(client: Client, members: TreeMember[], tree: string, check: TreeCheck): Promise<void> {
  // Views, materialized views and rules depend on a relation through their rewrite rule; SQL-body
  // functions (BEGIN ATOMIC) through pg_depend directly. A plpgsql body is text: not seen here.
  const { rows: found } = await client.query<{ kind: string; name: string | null; view: Named | null; member: Named }>(
    `SELECT DISTINCT CASE v.relkind WHEN 'm' THEN 'materialized view' WHEN 'v' THEN 'view' ELSE 'rule on' END AS kind,
            NULL::text AS name, ${NAME('v.oid')}::jsonb AS view, ${NAME('d.refobjid')}::jsonb AS member
       FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
       JOIN pg_class v ON v.oid = r.ev_class
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY($1::oid[]) AND v.oid <> d.refobjid
     UNION
     SELECT DISTINCT 'function', p.oid::regprocedure::text, NULL::jsonb, ${NAME('d.refobjid')}::jsonb
       FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid AND d.classid = 'pg_proc'::regclass
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY($1::oid[])`, [members.map((m) => m.oid)]);
  const rows = found.map((r) => ({ kind: r.kind, name: r.view ? displayName(r.view) : r.name ?? '?', member: displayName(r.member) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const r of rows) {
    check.problems.push(`The ${r.kind} ${r.name} reads ${r.member}, a member of the tree of ${tree}; the target has one table in ` +
      `its place, so it could not be created. On the source, make it read ${tree} (with a WHERE on the time column) or drop it.`);
  }
}

/**
 * Indexes every leaf of the tree has (same method, keys and predicate) but the parent lacks: the one
 * table gets them too, as `CREATE INDEX ON parent …` (PostgreSQL names them). Unique ones are not
 * carried: unique in each partition is not unique across them, and the index could fail to build.
 * Returns the statements and, for the report, the unique ones left out.
 */
export async function agreedIndexes(client: Client, root: QualifiedName & { oid: number }, members: TreeMember[]):
  Promise<{ statements: string[]; uniqueLeftOut: string[] }> {
  const leaves = members.map((m) => m.oid);
  if (leaves.length === 0) return { statements: [], uniqueLeftOut: [] };
  // An index's shape without its name and table: method, key expressions, predicate. Indexes a
  // partitioned index created (attached to a parent index: pg_inherits) are the parent's already.
  const shape = `am.amname || ' (' || array_to_string(ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
      FROM generate_series(1, x.indnkeyatts) k), ', ') || ')' || coalesce(' WHERE ' || pg_get_expr(x.indpred, x.indrelid, true), '')`;
  const { rows } = await client.query<{ shape: string; is_unique: boolean; tables: number }>(
    `WITH leaf AS (SELECT c.oid FROM pg_class c WHERE c.oid = ANY($1::oid[]) AND c.relkind = 'r'),
          shapes AS (
            SELECT x.indrelid, x.indisunique, ${shape} AS shape FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_am am ON am.oid = i.relam
             WHERE x.indrelid IN (SELECT oid FROM leaf) AND x.indnatts = x.indnkeyatts
               AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid)),
          parent AS (
            SELECT ${shape} AS shape FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
             WHERE x.indrelid = $2)
     SELECT shape, bool_or(indisunique) AS is_unique, count(DISTINCT indrelid)::int AS tables FROM shapes
      WHERE shape NOT IN (SELECT shape FROM parent)
      GROUP BY shape HAVING count(DISTINCT indrelid) = (SELECT count(*) FROM leaf) ORDER BY shape`, [leaves, root.oid]);
  const target = quoteQualified(root);
  return {
    statements: rows.filter((r) => !r.is_unique).map((r) => `CREATE INDEX ON ${target} USING ${r.shape};`),
    uniqueLeftOut: rows.filter((r) => r.is_unique).map((r) => r.shape),
  };
}
