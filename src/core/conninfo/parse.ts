/**
 * libpq's two connection string forms, parsed by libpq's own rules (conninfo_parse and
 * conninfo_uri_parse_options in fe-connect.c), so that our client reads a string exactly as
 * psql and pg_dump do:
 *
 * - `key=value` pairs: spaces around `=` allowed, values unquoted (backslash escapes the next
 *   character) or in single quotes (`\'` and `\\` inside), keywords case-sensitive.
 * - URIs, `postgresql://` or `postgres://` (case-sensitive, as in libpq):
 *   `[user[:password]@][host][:port][,…][/dbname][?key=value&…]`, every part percent-decoded;
 *   `ssl=true` means `sslmode=require` (libpq's JDBC compatibility).
 *
 * Error messages never quote a value from the string: a broken string may hold a password anywhere.
 */
import { KEYWORDS, SECRET_KEYWORDS, keywordIgnoringCase } from './keywords.js';

export class ConninfoSyntaxError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'ConninfoSyntaxError';
  }
}

export interface ParsedConninfo {
  form: 'uri' | 'keywords';
  /** Keyword → value as libpq stores it (decoded, unquoted); a later setting wins. */
  params: Map<string, string>;
  /** The original text with every secret cut out and nothing else changed: safe to show, store, pass to psql. */
  withoutSecrets: string;
  /** URIs: where the user name ends and the userinfo (`user:password@`) ends, for putting a password in. */
  userinfo?: { start: number; userEnd: number; end: number };
}

const URI_PREFIXES = ['postgresql://', 'postgres://'];
const ENCODE_HINT = 'Percent-encode special characters in the user name and password (/ is %2F, @ is %40, ? is %3F, ' +
  ': is %3A, % is %25), or use the key=value form: "host=… user=… password=\'…\'".';

export function uriPrefixLength(value: string): number {
  return URI_PREFIXES.find((prefix) => value.startsWith(prefix))?.length ?? 0;
}

export function parseConninfo(value: string): ParsedConninfo {
  return uriPrefixLength(value) > 0 ? parseUri(value) : parseKeywords(value);
}

/** libpq's isspace: space, \t, \n, \v, \f, \r. */
const isSpace = (c: string | undefined): boolean => c !== undefined && ' \t\n\v\f\r'.includes(c);

/** Store a keyword the way conninfo_storeval does (requiressl → sslmode); unknown keywords are an error. */
function store(params: Map<string, string>, key: string, value: string, context: string): void {
  if (key === 'requiressl') {
    params.set('sslmode', value.startsWith('1') ? 'require' : 'prefer');
    return;
  }
  if (!KEYWORDS.has(key)) {
    const known = keywordIgnoringCase(key);
    throw new ConninfoSyntaxError(known
      ? `invalid ${context} "${key}": libpq keywords are case-sensitive, write "${known}"`
      : `invalid ${context} (not a libpq keyword)`,
    'The keywords are those of libpq: host, port, dbname, user, password, sslmode, sslrootcert, … (lower case).');
  }
  params.set(key, value);
}

function parseKeywords(value: string): ParsedConninfo {
  const params = new Map<string, string>();
  const kept: string[] = [];
  let i = 0;
  while (i < value.length) {
    if (isSpace(value[i])) { i += 1; continue; }
    const start = i;
    while (i < value.length && value[i] !== '=' && !isSpace(value[i])) i += 1;
    const key = value.slice(start, i);
    while (isSpace(value[i])) i += 1;
    if (value[i] !== '=') {
      throw new ConninfoSyntaxError('missing "=" after a parameter name',
        'Write key=value pairs separated by spaces, quoting values with spaces: dbname=\'my db\'.');
    }
    i += 1;
    while (isSpace(value[i])) i += 1;
    let parsed = '';
    if (value[i] === "'") {
      i += 1;
      for (;;) {
        if (i >= value.length) {
          throw new ConninfoSyntaxError('unterminated quoted string',
            "Close every quoted value with ', and write a quote inside one as \\'.");
        }
        if (value[i] === '\\') { i += 1; if (i < value.length) parsed += value[i++]; continue; }
        if (value[i] === "'") { i += 1; break; }
        parsed += value[i++];
      }
    } else {
      while (i < value.length && !isSpace(value[i])) {
        if (value[i] === '\\') { i += 1; if (i < value.length) parsed += value[i++]; } else parsed += value[i++];
      }
    }
    store(params, key, parsed, 'connection option');
    if (!SECRET_KEYWORDS.has(key)) kept.push(value.slice(start, i));
  }
  return { form: 'keywords', params, withoutSecrets: kept.join(' ') };
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/** conninfo_uri_decode: %XX → byte (UTF-8 as a whole); %00 and broken escapes are errors. */
export function uriDecode(text: string): string {
  if (!text.includes('%')) return text;
  const chunks: Buffer[] = [];
  let i = 0;
  while (i < text.length) {
    const pct = text.indexOf('%', i);
    const end = pct < 0 ? text.length : pct;
    if (end > i) chunks.push(Buffer.from(text.slice(i, end), 'utf8'));
    if (pct < 0) break;
    const hex = text.slice(pct + 1, pct + 3);
    if (!HEX.test(hex)) throw new ConninfoSyntaxError('invalid percent-encoded token', ENCODE_HINT);
    const byte = parseInt(hex, 16);
    if (byte === 0) throw new ConninfoSyntaxError('forbidden value %00 in a percent-encoded value');
    chunks.push(Buffer.of(byte));
    i = pct + 3;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseUri(value: string): ParsedConninfo {
  const params = new Map<string, string>();
  const prefix = uriPrefixLength(value);
  let p = prefix;
  // Credentials are "user[:password]@" before the first '/': libpq looks no further.
  let look = p;
  while (look < value.length && value[look] !== '@' && value[look] !== '/') look += 1;
  let userinfo: ParsedConninfo['userinfo'];
  if (value[look] === '@') {
    const colon = value.indexOf(':', p);
    const userEnd = colon >= 0 && colon < look ? colon : look;
    const user = value.slice(p, userEnd);
    if (user) params.set('user', uriDecode(user));
    const password = userEnd < look ? value.slice(userEnd + 1, look) : '';
    if (password) params.set('password', uriDecode(password));
    userinfo = { start: p, userEnd, end: look };
    p = look + 1;
  }

  const hosts: string[] = [];
  let ports = '';
  let stop = '';
  for (;;) {
    if (value[p] === '[') {
      const close = value.indexOf(']', p + 1);
      if (close < 0) throw new ConninfoSyntaxError('no matching "]" for an IPv6 host address');
      if (close === p + 1) throw new ConninfoSyntaxError('an IPv6 host address may not be empty');
      hosts.push(value.slice(p + 1, close));
      p = close + 1;
      if (p < value.length && !':/?,'.includes(value[p] as string)) {
        throw new ConninfoSyntaxError('unexpected character after an IPv6 host address (expected ":" or "/")');
      }
    } else {
      const start = p;
      while (p < value.length && !':/?,'.includes(value[p] as string)) p += 1;
      hosts.push(value.slice(start, p));
    }
    stop = value[p] ?? '';
    if (stop === ':') {
      const start = ++p;
      while (p < value.length && !'/?,'.includes(value[p] as string)) p += 1;
      ports += value.slice(start, p);
      stop = value[p] ?? '';
    }
    if (stop !== ',') break;
    p += 1;
    ports += ',';
  }
  const host = hosts.join(',');
  if (host) params.set('host', uriDecode(host));
  if (ports) params.set('port', uriDecode(ports));

  let queryStart = value.length;
  if (stop === '/') {
    const start = ++p;
    while (p < value.length && value[p] !== '?') p += 1;
    if (p > start) params.set('dbname', uriDecode(value.slice(start, p)));
    stop = value[p] ?? '';
  }
  const kept: string[] = [];
  if (stop === '?') {
    queryStart = p;
    const query = value.slice(p + 1);
    const parts = query === '' ? [] : query.split('&');
    if (parts[parts.length - 1] === '') parts.pop(); // "…&" at the very end: libpq stops there
    for (const raw of parts) {
      const eq = raw.indexOf('=');
      if (eq < 0) throw new ConninfoSyntaxError('missing "=" in a URI query parameter');
      if (raw.indexOf('=', eq + 1) >= 0) throw new ConninfoSyntaxError('extra "=" in a URI query parameter', ENCODE_HINT);
      let key = uriDecode(raw.slice(0, eq));
      let decoded = uriDecode(raw.slice(eq + 1));
      if (key === 'ssl' && decoded === 'true') { key = 'sslmode'; decoded = 'require'; }
      store(params, key, decoded, 'URI query parameter');
      if (!SECRET_KEYWORDS.has(key)) kept.push(raw);
    }
  }
  checkUnambiguous(value, prefix, queryStart, userinfo);
  const credentials = userinfo ? value.slice(userinfo.start, userinfo.userEnd) : '';
  const withoutSecrets = value.slice(0, prefix) + (credentials ? `${credentials}@` : '') +
    value.slice(userinfo ? userinfo.end + 1 : prefix, queryStart) + (kept.length > 0 ? `?${kept.join('&')}` : '');
  return { form: 'uri', params, withoutSecrets, ...(userinfo ? { userinfo } : {}) };
}

/**
 * A password with an unencoded '/' or '@' makes libpq read part of it as host, port or database
 * (`postgres://u:pa/ss@h/db` is host "u", port "pa"). Such a string could print a piece of the
 * password wherever we show "the rest", so refuse it: the last '@' before the query must be the
 * end of the credentials libpq found, unless nothing before it looks like `user:password`.
 */
function checkUnambiguous(value: string, prefix: number, queryStart: number,
  userinfo: ParsedConninfo['userinfo']): void {
  const lastAt = value.slice(0, queryStart).lastIndexOf('@');
  if (lastAt < prefix || lastAt === userinfo?.end) return;
  if (value.slice(prefix, lastAt).includes(':')) {
    throw new ConninfoSyntaxError('the user name or password seems to hold an unencoded "/", "@" or "?"', ENCODE_HINT);
  }
}

/** Quote a value for a key=value string the way libpq reads it back (our own serializer). */
export function quoteKeywordValue(value: string): string {
  return /^[^\s'\\]+$/.test(value) ? value : `'${value.replace(/(['\\])/g, '\\$1')}'`;
}
