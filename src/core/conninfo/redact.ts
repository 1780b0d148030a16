/**
 * One redaction for every form a connection string can take, used for every message, file, plan
 * and state check.
 *
 * A string libpq can parse loses exactly its secrets (password, sslpassword, …): in the userinfo,
 * in a query parameter, or as a key=value pair. A string that does not parse is redacted
 * conservatively, since we cannot know where its password is: everything between `://` and the
 * last `@` becomes `***`, and every URI query parameter whose name looks like a secret's (any case,
 * percent-encoded or not) and every `…password = value` up to the next libpq keyword, quoted or
 * not, is cut out. Cut, not masked: the result must not itself read as a string with a password
 * (plans and state.json refuse those), and redacting it again changes nothing.
 */
import { keywordIgnoringCase, looksSecret, SECRET_KEYWORDS } from './keywords.js';
import { parseConninfo, type ParsedConninfo } from './parse.js';

const MASK = '***';

function tryParse(value: string): ParsedConninfo | undefined {
  try {
    return parseConninfo(value);
  } catch {
    return undefined;
  }
}

/** The connection string without its secrets: safe for messages and files. */
export function redactConninfo(value: string): string {
  return tryParse(value)?.withoutSecrets ?? redactConservatively(value);
}

/** Whether the string holds a secret in any form (also a `PASSWORD=` libpq would refuse). */
export function hasSecret(value: string): boolean {
  const parsed = tryParse(value);
  if (parsed) return [...parsed.params.keys()].some((key) => SECRET_KEYWORDS.has(key));
  return redactConservatively(value) !== value;
}

/** The secret values in a parseable string, to mask wherever a message might echo them. */
export function secretValues(value: string): string[] {
  const parsed = tryParse(value);
  if (!parsed) return [];
  return [...parsed.params].filter(([key, v]) => SECRET_KEYWORDS.has(key) && v !== '').map(([, v]) => v);
}

/** Replace every occurrence of each secret (longest first) in a message. */
export function maskSecrets(text: string, secrets: Array<string | undefined>): string {
  let result = text;
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length > 0).sort((a, b) => b.length - a.length);
  for (const secret of known) {
    result = result.split(secret).join(MASK);
    // Percent-encoded too: the URI form of the password may be what a message quotes.
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) result = result.split(encoded).join(MASK);
  }
  return result;
}

export function redactConservatively(text: string): string {
  return redactKeywordSecrets(redactQuerySecrets(redactUserinfo(text)));
}

/** `scheme://…@rest`: everything between `://` and the last `@` is masked. */
function redactUserinfo(text: string): string {
  const scheme = text.indexOf('://');
  if (scheme < 0) return text;
  const start = scheme + 3;
  const lastAt = text.lastIndexOf('@');
  return lastAt > start ? `${text.slice(0, start)}${MASK}${text.slice(lastAt)}` : text;
}

function lenientDecode(text: string): string {
  try { return decodeURIComponent(text); } catch { return text; }
}

/** `?…password=x&…` (the name in any case, percent-encoded or not): the parameter is cut out. */
function redactQuerySecrets(text: string): string {
  const cut = text.replace(/([?&])([^&=?]*)=([^&]*)/g, (whole, sep: string, key: string) =>
    (looksSecret(lenientDecode(key)) ? (sep === '?' ? '?' : '') : whole));
  return cut === text ? text : cut.replace(/\?&/g, '?').replace(/\?$/, '');
}

const SECRET_KEY = /[A-Za-z_]*(?:password|secret|scram_(?:client|server)_key)[A-Za-z_]*\s*=\s*/gi;
const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);

/** `…password = value`: the pair, its value running up to the next libpq keyword (or the end), is cut out. */
function redactKeywordSecrets(text: string): string {
  let result = '';
  let from = 0;
  for (const match of text.matchAll(SECRET_KEY)) {
    const at = match.index ?? 0;
    if (at < from || text[at - 1] === '?' || text[at - 1] === '&') continue; // URI query: done above
    result += text.slice(from, at).replace(/\s+$/, '');
    from = valueEnd(text, at + match[0].length);
  }
  return from === 0 ? text : (result + text.slice(from)).trim();
}

function valueEnd(text: string, start: number): number {
  let end = start;
  if (text[start] === "'") {
    // Closing quote: not escaped, not doubled (SQL habit), followed by a space or the end.
    end = text.length;
    for (let j = start + 1; j < text.length; j += 1) {
      if (text[j] === '\\') { j += 1; continue; }
      if (text[j] !== "'") continue;
      if (text[j + 1] === "'") { j += 1; continue; }
      if (j + 1 === text.length || isSpace(text[j + 1])) { end = j + 1; break; }
    }
  } else {
    while (end < text.length && !isSpace(text[end])) end += 1;
  }
  // Whatever follows up to the next real keyword may still be part of the password.
  const next = /\s+([A-Za-z_]+)\s*=/g;
  next.lastIndex = end;
  for (let m = next.exec(text); m; m = next.exec(text)) {
    if (keywordIgnoringCase(m[1] as string)) return m.index;
  }
  return text.length;
}
