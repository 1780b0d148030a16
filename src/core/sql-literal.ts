/**
 * SQL literals, and parameters inlined into a statement, for what we *print*: a `--dry-run`'s SQL
 * must paste into psql as it is (issue #11.5), so `$1` becomes the value, quoted here. What we
 * *run* keeps sending values as parameters.
 */
import { UsageError } from './errors.js';

/** A string as a SQL literal: '' doubled, and E'' with doubled backslashes when it has any. */
export function sqlStringLiteral(text: string): string {
  if (text.includes('\0')) throw new UsageError('A string literal cannot contain a NUL character.');
  const body = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/** One parameter value as SQL: NULL, a number, a boolean, a string, an ARRAY[…], or JSON text. */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return sqlStringLiteral(value);
  // An empty ARRAY[] has no type: '{}' takes the one its cast gives ($1::text[] → '{}'::text[]).
  if (Array.isArray(value)) return value.length === 0 ? "'{}'" : `ARRAY[${value.map(sqlLiteral).join(', ')}]`;
  return sqlStringLiteral(JSON.stringify(value));
}

/**
 * `sql` with each `$n` replaced by params[n-1] as a literal. Placeholders inside string literals,
 * quoted identifiers, dollar-quoted bodies and comments are left alone; so is a `$n` with no value.
 */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const skipped = /^('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/)/.exec(rest)
      ?? dollarQuoted(rest);
    if (skipped) {
      out += skipped[0];
      i += skipped[0].length;
      continue;
    }
    const placeholder = /^\$(\d+)(?!\d)/.exec(rest);
    const index = placeholder ? Number(placeholder[1]) - 1 : -1;
    if (placeholder && index >= 0 && index < params.length && !/[\w$]$/.test(out)) {
      out += sqlLiteral(params[index]);
      i += placeholder[0].length;
      continue;
    }
    out += sql[i];
    i += 1;
  }
  return out;
}

/** A dollar-quoted string ($$…$$ or $tag$…$tag$) at the start of `text`. */
function dollarQuoted(text: string): RegExpExecArray | null {
  const open = /^\$([A-Za-z_][A-Za-z_0-9]*)?\$/.exec(text);
  if (!open) return null;
  const end = text.indexOf(open[0], open[0].length);
  if (end === -1) return null;
  return /^[\s\S]*/.exec(text.slice(0, end + open[0].length));
}
