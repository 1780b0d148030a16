/**
 * `migrate hypertables --fix`: the blockers the tool removes on the target itself, and what that
 * costs. Read from the catalog of the side it is given (the target for `--fix`; the source when the
 * wizard lists the fix before the schema is loaded, since the schema load copies those objects as
 * they are), so the listing names exactly what will change.
 *
 * - A primary key, unique constraint or unique index without the time column is widened to include
 *   it, under the same name (drop + re-add): the old key columns alone are no longer unique.
 * - Foreign keys in other tables that reference such a key can no longer be enforced: they are
 *   dropped, each listed with the statement that recreated it. On TimescaleDB before 2.16 no foreign
 *   key may reference a hypertable, so all of them are.
 * - Inheritance: children are detached (NO INHERIT) and left on the target with their rows (dropping
 *   data tables is the operator's call: the DROP is printed); a parent link is detached too.
 * - An inheritance routing trigger (BEFORE INSERT FOR EACH ROW, inserting elsewhere, RETURN NULL)
 *   is dropped: on a hypertable it would send the dual-written rows into the old children.
 */
import type { TableInfo } from '../core/catalog.js';
import type { Client } from '../core/db.js';
import { displayIdent, displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';

export interface DroppedForeignKey {
  name: string;
  /** The referencing table. */
  table: QualifiedName;
  /** pg_get_constraintdef(): `FOREIGN KEY (order_id) REFERENCES orders(id)`. */
  definition: string;
  /** The statement that made it; it works again only against a key that includes the time column. */
  recreate: string;
}

export interface LeftTable {
  table: QualifiedName;
  hasRows: boolean;
  /** For the operator, never run by us. */
  drop: string;
}

export interface TableFix {
  /** What changes, one line each, in the order the statements run. */
  changes: string[];
  /** What that costs: weakened uniqueness, dropped foreign keys, tables left over. */
  costs: string[];
  /** The SQL, run in the table's conversion transaction before create_hypertable. */
  statements: string[];
  droppedForeignKeys: DroppedForeignKey[];
  leftTables: LeftTable[];
}

export interface RoutingTrigger {
  name: string;
  /** `public.route_measurements()` (regprocedure text). */
  fn: string;
}

/**
 * BEFORE INSERT FOR EACH ROW triggers whose function inserts somewhere and returns NULL: the routing
 * pattern of inheritance partitioning (PostgreSQL's docs, pg_partman's trigger-based sets).
 */
export async function findRoutingTriggers(client: Client, oid: number): Promise<RoutingTrigger[]> {
  // tgtype bits: 1 = FOR EACH ROW, 2 = BEFORE, 4 = INSERT.
  const { rows } = await client.query<RoutingTrigger & { body: string }>(
    `SELECT t.tgname AS name, p.oid::regprocedure::text AS fn, p.prosrc AS body
       FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE t.tgrelid = $1 AND NOT t.tgisinternal AND (t.tgtype & 7) = 7 ORDER BY t.tgname`, [oid]);
  return rows.filter((r) => routesRows(r.body)).map(({ name, fn }) => ({ name, fn }));
}

/** A trigger function that inserts the row somewhere else and returns NULL (swallowing it here) routes rows. */
export function routesRows(body: string): boolean {
  return /\binsert\s+into\b/i.test(body) && /\breturn\s+null\b/i.test(body);
}

interface UniqueIndex {
  oid: string;
  name: string;
  primary: boolean;
  constraint: string | null;
  deferrable: boolean | null;
  deferred: boolean | null;
  method: string;
  /** Key columns/expressions as SQL (server-deparsed, quoted where needed). */
  keys: string[];
  include: string[];
  predicate: string | null;
  nullsNotDistinct: boolean;
  hasTime: boolean;
}

async function readUniqueIndexes(client: Client, oid: number, timeColumn: string): Promise<UniqueIndex[]> {
  // indnullsnotdistinct exists from PostgreSQL 15: read through to_jsonb so older servers answer too.
  const { rows } = await client.query<UniqueIndex>(
    `SELECT x.indexrelid::int8::text AS oid, i.relname AS name, x.indisprimary AS primary, con.conname AS constraint,
            con.condeferrable AS deferrable, con.condeferred AS deferred, am.amname AS method,
            ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnkeyatts::int) k ORDER BY k) AS keys,
            ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                    FROM generate_series(x.indnkeyatts::int + 1, x.indnatts::int) k ORDER BY k) AS include,
            pg_get_expr(x.indpred, x.indrelid, true) AS predicate,
            coalesce((to_jsonb(x) ->> 'indnullsnotdistinct')::boolean, false) AS "nullsNotDistinct",
            EXISTS (SELECT 1 FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                     WHERE k.ord <= x.indnkeyatts AND a.attname = $2) AS "hasTime"
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
       LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u')
      WHERE x.indrelid = $1 AND x.indisunique ORDER BY x.indisprimary DESC, i.relname`, [oid, timeColumn]);
  return rows;
}

interface ReferencingKey { name: string; schema: string; table: string; definition: string; indexOid: string }

async function readReferencingKeys(client: Client, oid: number): Promise<ReferencingKey[]> {
  const { rows } = await client.query<ReferencingKey>(
    `SELECT con.conname AS name, n.nspname AS schema, c.relname AS table, pg_get_constraintdef(con.oid) AS definition,
            con.conindid::int8::text AS "indexOid"
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE con.contype = 'f' AND con.confrelid = $1 AND con.conparentid = 0
      ORDER BY n.nspname, c.relname, con.conname`, [oid]);
  return rows;
}

const list = (items: string[]): string => `(${items.join(', ')})`;

/** The statements that recreate the index/constraint with the time column as its last key column. */
function widenSql(table: TableInfo, index: UniqueIndex, time: string): string[] {
  const relation = quoteQualified(table.name);
  const keys = list([...index.keys, time]);
  const include = index.include.length > 0 ? ` INCLUDE ${list(index.include)}` : '';
  const nulls = index.nullsNotDistinct ? ' NULLS NOT DISTINCT' : '';
  if (index.constraint !== null) {
    const name = quoteIdent(index.constraint);
    const kind = index.primary ? 'PRIMARY KEY' : `UNIQUE${nulls}`;
    const deferrable = index.deferrable ? ` DEFERRABLE${index.deferred ? ' INITIALLY DEFERRED' : ''}` : '';
    return [`ALTER TABLE ${relation} DROP CONSTRAINT ${name}, ADD CONSTRAINT ${name} ${kind} ${keys}${include}${deferrable}`];
  }
  const where = index.predicate !== null ? ` WHERE ${index.predicate}` : '';
  return [`DROP INDEX ${quoteQualified({ schema: table.name.schema, table: index.name })}`,
    `CREATE UNIQUE INDEX ${quoteIdent(index.name)} ON ${relation} USING ${quoteIdent(index.method)} ${keys}${include}${nulls}${where}`];
}

function describeIndex(index: UniqueIndex): string {
  return index.primary ? `primary key ${displayIdent(index.constraint ?? index.name)}`
    : index.constraint !== null ? `unique constraint ${displayIdent(index.constraint)}` : `unique index ${displayIdent(index.name)}`;
}

export interface FixOptions {
  /** The target's TimescaleDB lets foreign keys reference hypertables (2.16+). */
  foreignKeysToHypertables: boolean;
  /** Already read by the caller (findRoutingTriggers). */
  triggers: RoutingTrigger[];
}

/** What `--fix` does to one table; undefined when there is nothing it can fix. */
export async function planFix(client: Client, table: TableInfo, timeColumn: string, options: FixOptions): Promise<TableFix | undefined> {
  const name = displayName(table.name);
  const relation = quoteQualified(table.name);
  // Quoted as the server deparses the other key columns (quote_ident: only where SQL needs it), so a
  // widened key reads `(id, created_at)`, not `(id, "created_at")`.
  const time = (await client.query<{ q: string }>('SELECT quote_ident($1) AS q', [timeColumn])).rows[0]?.q ?? quoteIdent(timeColumn);
  const fix: TableFix = { changes: [], costs: [], statements: [], droppedForeignKeys: [], leftTables: [] };
  const widen = (await readUniqueIndexes(client, table.oid, timeColumn)).filter((i) => !i.hasTime);
  const widened = new Set(widen.map((i) => i.oid));
  const keys = await readReferencingKeys(client, table.oid);
  // Foreign keys go first: a key they depend on cannot be dropped while they exist.
  for (const fk of keys.filter((k) => !options.foreignKeysToHypertables || widened.has(k.indexOid))) {
    const from = { schema: fk.schema, table: fk.table };
    const recreate = `ALTER TABLE ${quoteQualified(from)} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition};`;
    fix.droppedForeignKeys.push({ name: fk.name, table: from, definition: fk.definition, recreate });
    fix.statements.push(`ALTER TABLE ${quoteQualified(from)} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
    fix.changes.push(`drop foreign key ${displayIdent(fk.name)} on ${displayName(from)} (${fk.definition})`);
    fix.costs.push(`foreign key ${displayIdent(fk.name)} on ${displayName(from)} can no longer be enforced and is dropped` +
      (widened.has(fk.indexOid)
        ? `; to have it again, give ${displayName(from)} the time column too and reference the widened key (it was: ${recreate})`
        : ` (TimescaleDB before 2.16 allows no foreign key to a hypertable; it was: ${recreate})`));
  }
  for (const index of widen) {
    fix.statements.push(...widenSql(table, index, time));
    fix.changes.push(`${describeIndex(index)} ${list(index.keys)} becomes ${list([...index.keys, time])}, same name`);
    fix.costs.push(`${index.keys.length === 1 ? `${index.keys[0]} alone is` : `${list(index.keys)} together are`} no longer ` +
      `unique in ${name}${index.predicate ? ` (where ${index.predicate})` : ''}: only ${list([...index.keys, time])} is`);
  }
  for (const parent of table.inheritsFrom) {
    fix.statements.push(`ALTER TABLE ${relation} NO INHERIT ${quoteQualified(parent)}`);
    fix.changes.push(`detach ${name} from its inheritance parent ${displayName(parent)} (NO INHERIT)`);
    fix.costs.push(`rows of ${name} no longer show in queries on ${displayName(parent)}`);
  }
  for (const child of table.inheritedBy) {
    const hasRows = (await client.query(`SELECT 1 FROM ONLY ${quoteQualified(child)} LIMIT 1`)).rowCount !== 0;
    const drop = `DROP TABLE ${quoteQualified(child)};`;
    fix.leftTables.push({ table: child, hasRows, drop });
    fix.statements.push(`ALTER TABLE ${quoteQualified(child)} NO INHERIT ${relation}`);
    fix.changes.push(`detach the child ${displayName(child)} (NO INHERIT)`);
    fix.costs.push(`${displayName(child)} is left on the target ${hasRows ? 'with its rows' : '(empty)'}, no longer part of ${name}; ` +
      `drop it once you no longer need it: ${drop}`);
  }
  for (const trigger of options.triggers) {
    fix.statements.push(`DROP TRIGGER ${quoteIdent(trigger.name)} ON ${relation}`);
    fix.changes.push(`drop the routing trigger ${displayIdent(trigger.name)} on ${name}`);
    fix.costs.push(`rows inserted into ${name} stay in it instead of being routed elsewhere; its function ${trigger.fn} is left ` +
      `(DROP FUNCTION ${trigger.fn}; once nothing else uses it)`);
  }
  return fix.statements.length > 0 ? fix : undefined;
}

/** Listing lines: what changes, then what it costs. */
export function describeFix(fix: TableFix): string[] {
  return [...fix.changes.map((c) => `change: ${c}`), ...fix.costs.map((c) => `cost: ${c}`)];
}
