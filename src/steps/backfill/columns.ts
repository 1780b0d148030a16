/**
 * Which columns the COPY carries, and in which format.
 *
 * Columns are matched by name, never by position (the target may have been created with columns in
 * another order, or with extra columns). Generated columns on the target are skipped: PostgreSQL
 * computes them. Identity columns are copied: COPY FROM writes the given values even into
 * GENERATED ALWAYS identity columns, as INSERT … OVERRIDING SYSTEM VALUE would.
 *
 * Binary COPY is faster and has no quoting to get wrong, but its wire format is only the same on
 * both sides for identical built-in types: arrays and composites carry element type oids, and the
 * oids of user-defined types (enums, domains, extension types) differ between databases. Any other
 * column sends the whole COPY through text format, which converts by type input functions.
 */
import { domainBaseSql } from '../../core/catalog.js';
import type { Client } from '../../core/db.js';
import { MigrateError } from '../../core/errors.js';
import { displayName, quoteIdent, type QualifiedName } from '../../core/identifiers.js';

/** Oids below this are built into PostgreSQL (FirstNormalObjectId). */
const FIRST_USER_OID = 16384;

interface CopyColumnRow { name: string; type: string; typeOid: number; elementOid: number; generated: boolean; dropped: boolean }

export interface CopyColumns {
  /** Matched column names, in the target's order. */
  names: string[];
  format: 'binary' | 'text';
  /** Why text format was chosen (column: source type → target type). */
  textReasons: string[];
  /** Source columns the target does not have: their data is not copied. */
  missingOnTarget: string[];
  /** Target columns the source does not have (they get their defaults). */
  missingOnSource: string[];
  /** Generated columns on the target (computed there, not copied). */
  generatedOnTarget: string[];
}

/**
 * A domain column is read as its base type: binary COPY sends a domain's values with the base type's
 * send function, and COPY FROM into a domain checks its constraints, so a domain over a built-in
 * type on one side and that type on the other (a domain time column whose target has the base type)
 * still copies in binary.
 */
async function readColumns(client: Client, table: QualifiedName): Promise<CopyColumnRow[]> {
  const { rows } = await client.query<CopyColumnRow>(
    `SELECT a.attname AS name, coalesce(${domainBaseSql('t', 'format_type(base.typid, base.typmod)')},
                                        format_type(a.atttypid, a.atttypmod)) AS type,
            coalesce(${domainBaseSql('t', 'base.typid')}, a.atttypid)::int8 AS "typeOid",
            coalesce(${domainBaseSql('t', 'coalesce(nullif(b.typelem, 0), b.oid)')}, nullif(t.typelem, 0), t.oid)::int8 AS "elementOid",
            a.attgenerated <> '' AS generated, false AS dropped
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = $1 AND c.relname = $2)
        AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, [table.schema, table.table]);
  return rows.map((r) => ({ ...r, typeOid: Number(r.typeOid), elementOid: Number(r.elementOid) }));
}

const builtin = (c: CopyColumnRow): boolean => c.typeOid < FIRST_USER_OID && c.elementOid < FIRST_USER_OID;

/** Match the table's columns on both sides and choose the COPY format. */
export async function matchColumns(source: Client, target: Client, table: QualifiedName): Promise<CopyColumns> {
  const [sourceColumns, targetColumns] = await Promise.all([readColumns(source, table), readColumns(target, table)]);
  const bySource = new Map(sourceColumns.map((c) => [c.name, c]));
  const targetNames = new Set(targetColumns.map((c) => c.name));
  const names: string[] = [];
  const textReasons: string[] = [];
  const missingOnSource: string[] = [];
  const generatedOnTarget: string[] = [];
  for (const column of targetColumns) {
    const from = bySource.get(column.name);
    if (column.generated) { generatedOnTarget.push(column.name); continue; }
    if (!from) { missingOnSource.push(column.name); continue; }
    names.push(column.name);
    if (from.type !== column.type) textReasons.push(`${column.name}: ${from.type} → ${column.type}`);
    else if (!builtin(from) || !builtin(column)) textReasons.push(`${column.name}: ${column.type} is not a built-in type`);
  }
  const missingOnTarget = sourceColumns.filter((c) => !targetNames.has(c.name)).map((c) => c.name);
  if (names.length === 0) {
    throw new MigrateError(`${displayName(table)} has no columns in common between source and target.`, {
      hint: 'Check that the target table was created by `migrate schema` from this source.',
    });
  }
  return { names, format: textReasons.length === 0 ? 'binary' : 'text', textReasons, missingOnTarget, missingOnSource, generatedOnTarget };
}

/** `"a", "b", "c"` for the SELECT list and the COPY column list. */
export function columnList(columns: CopyColumns): string {
  return columns.names.map(quoteIdent).join(', ');
}
