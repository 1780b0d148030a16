/**
 * The one place that turns names into SQL. Identifiers are always double-quoted here; values never
 * go through this module (they travel as query parameters).
 *
 * Names typed by users follow SQL rules: unquoted parts fold to lower case, double-quoted parts keep
 * their case, spaces and dots. `public.metrics`, `Metrics` (= public.metrics) and
 * `"Sales Data"."Orders":"Created At"` are all valid table specs.
 */
import { UsageError } from './errors.js';

export interface QualifiedName {
  schema: string;
  table: string;
}

/** A table as given on the command line: `schema.table[:column]`. */
export interface TableSpec extends QualifiedName {
  /** The time column, when given after a colon. */
  column?: string;
}

/** Quote one identifier: `a"b` → `"a""b"`. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new UsageError('An empty name cannot be an SQL identifier.');
  if (name.includes('\0')) throw new UsageError('A name cannot contain a NUL character.');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."table"`, ready to splice into SQL. */
export function quoteQualified(name: QualifiedName): string {
  return `${quoteIdent(name.schema)}.${quoteIdent(name.table)}`;
}

/** A readable, unambiguous form for messages: quotes only where SQL would need them. */
export function displayName(name: QualifiedName): string {
  return `${displayIdent(name.schema)}.${displayIdent(name.table)}`;
}

export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

/** `schema.table[:column]` in display form, the inverse of parseTableSpec. */
export function displayTableSpec(spec: TableSpec): string {
  return spec.column === undefined ? displayName(spec) : `${displayName(spec)}:${displayIdent(spec.column)}`;
}

/** A pattern for pg_dump's --table/--exclude-table-data that matches exactly this table. */
export function pgDumpPattern(name: QualifiedName): string {
  // pg_dump patterns follow psql's \d rules: double quotes keep case and make `.`, `*`, `?` literal.
  return `${quoteIdent(name.schema)}.${quoteIdent(name.table)}`;
}

/**
 * Parse `schema.table[:column]`. The schema defaults to `public`.
 * Throws a UsageError that points at the offending character.
 */
export function parseTableSpec(text: string, defaultSchema = 'public'): TableSpec {
  const parts: string[] = [];
  const separators: string[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new UsageError(`Cannot read the table name ${JSON.stringify(text)}: ${why}.`, {
      hint: 'Write it as schema.table or schema.table:time_column; quote names with capitals, spaces ' +
        `or dots in double quotes, e.g. '"Sales Data"."Orders":"Created At"'.`,
    });
  };
  while (i <= text.length) {
    let part = '';
    if (text[i] === '"') {
      i += 1;
      for (;;) {
        if (i >= text.length) fail('a double quote is never closed');
        if (text[i] === '"') {
          if (text[i + 1] === '"') { part += '"'; i += 2; continue; }
          i += 1;
          break;
        }
        part += text[i];
        i += 1;
      }
      if (part === '') fail('a quoted name is empty');
    } else {
      const start = i;
      while (i < text.length && text[i] !== '.' && text[i] !== ':' && text[i] !== '"') i += 1;
      part = text.slice(start, i).trim();
      if (part === '') fail(start >= text.length ? 'a name is missing at the end' : `a name is missing at position ${start + 1}`);
      if (/\s/.test(part)) fail(`${JSON.stringify(part)} contains a space; put it in double quotes`);
      part = part.toLowerCase();
    }
    parts.push(part);
    if (i >= text.length) break;
    const separator = text[i];
    if (separator !== '.' && separator !== ':') fail(`unexpected ${JSON.stringify(separator)} at position ${i + 1}`);
    separators.push(separator as string);
    i += 1;
    if (i >= text.length) fail('a name is missing at the end');
  }
  const colon = separators.indexOf(':');
  if (colon !== -1 && colon !== separators.length - 1) fail('the time column must come last, after a colon');
  if (separators.filter((s) => s === ':').length > 1) fail('there is more than one colon');
  const nameParts = colon === -1 ? parts : parts.slice(0, -1);
  const column = colon === -1 ? undefined : parts[parts.length - 1];
  if (nameParts.length > 2) fail('expected at most schema.table (a database name is not allowed here)');
  const spec: TableSpec = nameParts.length === 2
    ? { schema: nameParts[0] as string, table: nameParts[1] as string }
    : { schema: defaultSchema, table: nameParts[0] as string };
  if (column !== undefined) spec.column = column;
  return spec;
}

/** Parse a bare column name with the same rules (unquoted folds to lower case). */
export function parseColumnName(text: string): string {
  const spec = parseTableSpec(`x.${text}`);
  if (spec.column !== undefined) throw new UsageError(`Cannot read the column name ${JSON.stringify(text)}.`);
  return spec.table;
}

export function sameTable(a: QualifiedName, b: QualifiedName): boolean {
  return a.schema === b.schema && a.table === b.table;
}

/** Order by schema, then table, by code point (as PostgreSQL's "C" collation would). */
export function byName(a: QualifiedName, b: QualifiedName): number {
  const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return cmp(a.schema, b.schema) || cmp(a.table, b.table);
}
