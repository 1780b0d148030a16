/**
 * The password file (PGPASSFILE, passfile=, default ~/.pgpass), read by us as libpq's
 * passwordFromFile does, so node-postgres' own lookup (which prints a DeprecationWarning) never
 * runs. Lines are `host:port:database:user:password`; `*` matches anything; `\:` and `\\` escape;
 * `#` starts a comment. A file that group or others can access is ignored with libpq's warning.
 */
import { readFileSync, statSync } from 'node:fs';

const DEFAULT_PORT = '5432';
const warned = new Set<string>();

/** libpq prints its password-file warnings on stderr, once; so do we (a core module has no renderer). */
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`WARNING: ${message}\n`);
}

export interface PgpassQuery {
  /** The host as given (a name, an address, or a socket directory); the default socket directory matches "localhost". */
  host: string;
  defaultSocketDir: string;
  port: string;
  dbname: string;
  user: string;
}

/** pwdfMatchesString: the rest of the line after this field when it matches `token`, else undefined. */
function matchField(line: string, token: string): string | undefined {
  if (line.startsWith('*:')) return line.slice(2);
  let i = 0;
  let j = 0;
  let escaped = false;
  while (i < line.length) {
    if (line[i] === '\\' && !escaped) { i += 1; escaped = true; }
    if (line[i] === ':' && j === token.length && !escaped) return line.slice(i + 1);
    escaped = false;
    if (j === token.length || line[i] !== token[j]) return undefined;
    i += 1;
    j += 1;
  }
  return undefined;
}

/** The password for these settings from `file`, or undefined (no file, no match, or an unsafe file). */
export function passwordFromFile(file: string, query: PgpassQuery): string | undefined {
  if (!query.dbname || !query.user) return undefined;
  const host = !query.host || query.host === query.defaultSocketDir ? 'localhost' : query.host;
  const port = query.port || DEFAULT_PORT;
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return undefined;
  }
  if (!stat.isFile()) {
    warnOnce(`password file "${file}" is not a plain file`);
    return undefined;
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    warnOnce(`password file "${file}" has group or world access; permissions should be u=rw (0600) or less`);
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    let rest: string | undefined = line;
    for (const token of [host, port, query.dbname, query.user]) {
      rest = rest === undefined ? undefined : matchField(rest, token);
    }
    if (rest === undefined) continue;
    // De-escape up to the first unescaped ':' (anything after it is ignored, as libpq does).
    let password = '';
    for (let i = 0; i < rest.length && rest[i] !== ':'; i += 1) {
      if (rest[i] === '\\' && i + 1 < rest.length) i += 1;
      password += rest[i];
    }
    return password;
  }
  return undefined;
}
