/**
 * Rewrite `pg_dumpall --roles-only --quote-all-identifiers` output so it loads on the target.
 *
 * The reference procedure does this with GNU sed; we parse statements instead (a role name may hold
 * quotes, `$`, spaces or even a newline, and a COMMENT may span lines) and report every statement we
 * remove or change. Pure: no I/O, so it is tested on its own (test/unit/role-rewrite.test.ts).
 *
 * What changes:
 * - roles that are the target's own (postgres, the role we connect as, tsdbadmin on managed
 *   services) are never created, altered or commented on;
 * - CREATE ROLE becomes a DO block that skips a role which exists already, so a second run (or a
 *   target that has some of the roles) does not stop the load;
 * - for a non-superuser target: SUPERUSER, REPLICATION and BYPASSRLS attributes (and their NO forms,
 *   which PostgreSQL also refuses from a non-superuser), GRANTED BY, memberships involving the
 *   target's admin roles, and privileges on configuration parameters are removed.
 */
import { quoteIdent } from './identifiers.js';
import { skipQuoted, splitSegments } from './sql-split.js';

export interface RoleChange {
  /** Line in the pg_dumpall output where the statement starts (1-based). */
  line: number;
  action: 'removed' | 'changed';
  /** The statement, with any password masked as PASSWORD '***'. */
  before: string;
  after?: string;
  reason: string;
}

export interface TargetRole { name: string; superuser: boolean; replication?: boolean }

export interface RewriteOptions {
  targetIsSuperuser: boolean;
  /** Roles that belong to the target and are never created or altered: postgres, the role we connect as, tsdbadmin. */
  targetAdminRoles: string[];
  /** Roles on the target now: GRANTs must not name roles that will not exist, and a non-superuser cannot alter superuser or replication roles. */
  existingTargetRoles?: TargetRole[];
  /** Whether the target user may set CREATEDB (PostgreSQL 16+ requires having it). Default true. */
  targetCanGrantCreateDb?: boolean;
  /** The target's major version: membership options INHERIT/SET need 16+. Default: keep them. */
  targetMajor?: number;
  /** Parameters the (non-superuser) target user may not set, e.g. log_statement: `ALTER ROLE … SET` of them is dropped. */
  unsettableParameters?: string[];
}

export interface RewriteResult {
  sql: string;
  changes: RoleChange[];
  /** Roles the rewritten file creates (or finds), in dump order. */
  roles: string[];
  /** Of those, the ones with LOGIN: they need a password when the dump has none. */
  loginRoles: string[];
}

/** The reason given for every CREATE ROLE wrapped in a DO block; lets callers group those changes. */
export const CREATE_IF_MISSING_REASON = 'creates the role only if it does not exist yet, so an existing role does not stop the load';

/** Hide password hashes: PASSWORD '…' → PASSWORD '***', plus bare SCRAM/MD5 verifiers anywhere in the text. */
export function maskPasswords(text: string): string {
  return text
    .replace(/(PASSWORD\s+)[eE]?'(?:[^'\\]|''|\\.)*'/gi, "$1'***'")
    .replace(/SCRAM-SHA-256\$[^\s'"]+/g, '***')
    .replace(/\bmd5[0-9a-f]{32}\b/g, '***');
}

// The splitter is shared with the owners-and-privileges dump and readiness --queries (sql-split.ts).
export { splitSegments } from './sql-split.js';

interface Token { kind: 'word' | 'ident' | 'string' | 'punct'; text: string; upper: string; name: string; start: number; end: number }

function tokenize(statement: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < statement.length) {
    const ch = statement[i] as string;
    const start = i;
    if (/\s/.test(ch)) { i += 1; continue; }
    if (statement.startsWith('--', i)) { const nl = statement.indexOf('\n', i); i = nl === -1 ? statement.length : nl; continue; }
    let kind: Token['kind'];
    if (ch === '"') { i = skipQuoted(statement, i, '"', false); kind = 'ident'; }
    else if (ch === "'") { i = skipQuoted(statement, i, "'", false); kind = 'string'; }
    else if (/[eE]/.test(ch) && statement[i + 1] === "'") { i = skipQuoted(statement, i + 1, "'", true); kind = 'string'; }
    else if (/[\w$]/.test(ch)) { while (i < statement.length && /[\w$]/.test(statement[i] as string)) i += 1; kind = 'word'; }
    else { i += 1; kind = 'punct'; }
    const text = statement.slice(start, i);
    const name = kind === 'ident' ? text.slice(1, -1).replace(/""/g, '"') : text.toLowerCase();
    tokens.push({ kind, text, upper: text.toUpperCase(), name, start, end: i });
  }
  return tokens;
}

const isKeyword = (token: Token | undefined, ...words: string[]): boolean =>
  token !== undefined && token.kind === 'word' && words.includes(token.upper);

/** Role attributes only a superuser may set (or, for the NO forms, even mention). */
const SUPERUSER_ATTRIBUTES = ['SUPERUSER', 'NOSUPERUSER', 'REPLICATION', 'NOREPLICATION', 'BYPASSRLS', 'NOBYPASSRLS'];

type Decision =
  | { action: 'keep' }
  | { action: 'removed'; reason: string }
  | { action: 'changed'; text: string; reason: string };

export function rewriteRoles(sql: string, options: RewriteOptions): RewriteResult {
  const admin = new Set(options.targetAdminRoles);
  const adminList = [...admin].map(quoteIdent).join(', ');
  const superuser = options.targetIsSuperuser;
  const existing = options.existingTargetRoles;
  const targetSuperusers = new Set((existing ?? []).filter((r) => (r.superuser || r.replication) && !admin.has(r.name)).map((r) => r.name));
  const unsettable = new Set(options.unsettableParameters ?? []);
  const segments = splitSegments(sql);
  const parsed = segments.map((s) => (s.statement ? tokenize(s.text) : []));

  // First pass: which roles the file will create, and which of them can log in.
  const roles: string[] = [];
  const login = new Set<string>();
  for (const t of parsed) {
    const role = t[2];
    if (!role || !isKeyword(t[1], 'ROLE') || admin.has(role.name)) continue;
    if (isKeyword(t[0], 'CREATE') && !roles.includes(role.name)) roles.push(role.name);
    if (isKeyword(t[0], 'ALTER') && t.slice(3).some((x) => isKeyword(x, 'LOGIN'))) login.add(role.name);
    if (isKeyword(t[0], 'ALTER') && t.slice(3).some((x) => isKeyword(x, 'NOLOGIN'))) login.delete(role.name);
  }
  const created = new Set(roles);
  const willExist = (name: string): boolean =>
    created.has(name) || (existing ? existing.some((r) => r.name === name) : admin.has(name));
  const adminReason = (name: string): string =>
    `${quoteIdent(name)} is one of the target's own roles (${adminList}); migrate leaves it as it is there`;

  /** Strip attributes a non-superuser may not set from `CREATE|ALTER ROLE name [WITH] options`. */
  const stripAttributes = (t: Token[], text: string): { text: string; reason: string; empty: boolean } | undefined => {
    const role = t[2] as Token;
    if (superuser || isKeyword(t[3], 'SET', 'RESET', 'RENAME', 'IN')) return undefined;
    const attributes = t.slice(isKeyword(t[3], 'WITH') ? 4 : 3).filter((x) => x.text !== ';');
    const strip = options.targetCanGrantCreateDb === false ? [...SUPERUSER_ATTRIBUTES, 'CREATEDB', 'NOCREATEDB'] : SUPERUSER_ATTRIBUTES;
    const drop = attributes.filter((x) => x.kind === 'word' && strip.includes(x.upper));
    if (drop.length === 0) return undefined;
    const lost = drop.filter((x) => !x.upper.startsWith('NO')).map((x) => x.upper);
    const reason = `the target user is not a superuser, so ${drop.map((x) => x.upper).join(', ')} cannot be set` +
      (lost.length ? `; ${quoteIdent(role.name)} had ${lost.join(', ')} on the source and will not have it on the target` : '');
    return { text: removeTokens(text, drop), reason, empty: drop.length === attributes.length };
  };

  const decideAlter = (t: Token[], text: string): Decision => {
    const role = t[2] as Token;
    if (admin.has(role.name)) return { action: 'removed', reason: adminReason(role.name) };
    if (!superuser && targetSuperusers.has(role.name)) {
      return { action: 'removed', reason: `${quoteIdent(role.name)} is a superuser or replication role on the target; a non-superuser cannot alter it` };
    }
    const setAt = isKeyword(t[3], 'SET') ? 3 : isKeyword(t[3], 'IN') && isKeyword(t[6], 'SET') ? 6 : -1;
    const parameter = setAt === -1 ? undefined : t[setAt + 1]?.name;
    if (!superuser && parameter !== undefined && unsettable.has(parameter)) {
      return { action: 'removed', reason: `only a superuser can set ${parameter} for a role on the target` };
    }
    const stripped = stripAttributes(t, text);
    if (!stripped) return { action: 'keep' };
    // Nothing left after WITH: the statement would do nothing, so it goes.
    return stripped.empty ? { action: 'removed', reason: stripped.reason } : { action: 'changed', text: stripped.text, reason: stripped.reason };
  };

  const decideGrant = (t: Token[]): Decision => {
    const to = t.findIndex((x) => isKeyword(x, 'TO'));
    const on = t.findIndex((x) => isKeyword(x, 'ON'));
    if (to === -1) return { action: 'keep' };
    if (on !== -1 && on < to) {
      if (!superuser && isKeyword(t[on + 1], 'PARAMETER')) {
        return { action: 'removed', reason: 'privileges on configuration parameters can only be granted by a superuser' };
      }
      return { action: 'keep' };
    }
    // A membership: GRANT role[, …] TO member[, …] [WITH options] [GRANTED BY grantor]
    const withAt = t.findIndex((x, i) => i > to && isKeyword(x, 'WITH'));
    const byAt = t.findIndex((x, i) => i > to && isKeyword(x, 'GRANTED') && isKeyword(t[i + 1], 'BY'));
    const end = t[t.length - 1]?.text === ';' ? t.length - 1 : t.length;
    const granted = t.slice(1, to).filter((x) => x.text !== ',');
    const members = t.slice(to + 1, [withAt, byAt, end].find((i) => i !== -1)).filter((x) => x.text !== ',');
    const involved = [...granted, ...members].map((x) => x.name);
    const adminHit = involved.find((name) => admin.has(name));
    if (!superuser && adminHit !== undefined) return { action: 'removed', reason: `the membership involves ${adminReason(adminHit)}` };
    const missing = involved.find((name) => !willExist(name));
    if (missing !== undefined) return { action: 'removed', reason: `${quoteIdent(missing)} does not exist on the target and is not created by this file` };

    const reasons: string[] = [];
    let optionsText = withAt === -1 ? '' : t.slice(withAt + 1, byAt === -1 ? end : byAt).map((x) => x.text).join(' ').replace(/ ,/g, ',');
    if (optionsText && options.targetMajor !== undefined && options.targetMajor < 16) {
      const kept = optionsText.split(',').map((o) => o.trim()).filter((o) => /^ADMIN\b/i.test(o));
      if (kept.length !== optionsText.split(',').length) reasons.push(`INHERIT/SET membership options need PostgreSQL 16 (the target runs ${options.targetMajor})`);
      optionsText = kept.join(', ');
    }
    let grantor = byAt === -1 ? undefined : t[byAt + 2];
    if (grantor && (!superuser || !willExist(grantor.name))) {
      reasons.push(superuser ? `the grantor ${quoteIdent(grantor.name)} does not exist on the target`
        : 'only a superuser can record another role as the grantor (GRANTED BY)');
      grantor = undefined;
    }
    if (reasons.length === 0) return { action: 'keep' };
    const text = `GRANT ${granted.map((x) => x.text).join(', ')} TO ${members.map((x) => x.text).join(', ')}` +
      `${optionsText ? ` WITH ${optionsText}` : ''}${grantor ? ` GRANTED BY ${grantor.text}` : ''};`;
    return { action: 'changed', text, reason: `removed ${reasons.length > 1 ? 'options' : 'an option'}: ${reasons.join('; ')}` };
  };

  const decide = (t: Token[], text: string): Decision => {
    const onRole = isKeyword(t[1], 'ROLE') && t[2] !== undefined;
    if (isKeyword(t[0], 'CREATE') && onRole) {
      const role = t[2] as Token;
      if (admin.has(role.name)) return { action: 'removed', reason: adminReason(role.name) };
      const stripped = stripAttributes(t, text);
      return { action: 'changed', text: createIfMissing(stripped?.text ?? text, role.name),
        reason: stripped ? `${CREATE_IF_MISSING_REASON}; ${stripped.reason}` : CREATE_IF_MISSING_REASON };
    }
    if (isKeyword(t[0], 'ALTER') && onRole) return decideAlter(t, text);
    if (isKeyword(t[0], 'GRANT')) return decideGrant(t);
    // COMMENT ON ROLE "x" IS …; SECURITY LABEL [FOR provider] ON ROLE "x" IS …
    const roleAt = t.findIndex((x) => isKeyword(x, 'ROLE'));
    const commentOn = isKeyword(t[0], 'COMMENT', 'SECURITY') && roleAt !== -1 && isKeyword(t[roleAt - 1], 'ON') ? t[roleAt + 1] : undefined;
    if (commentOn) {
      if (admin.has(commentOn.name)) return { action: 'removed', reason: adminReason(commentOn.name) };
      if (!superuser && targetSuperusers.has(commentOn.name)) {
        return { action: 'removed', reason: `${quoteIdent(commentOn.name)} is a superuser or replication role on the target; a non-superuser cannot change it` };
      }
    }
    if (!superuser && isKeyword(t[1], 'SESSION') && isKeyword(t[2], 'AUTHORIZATION') && isKeyword(t[0], 'SET', 'RESET')) {
      return { action: 'removed', reason: 'SET SESSION AUTHORIZATION needs a superuser' };
    }
    return { action: 'keep' };
  };

  const changes: RoleChange[] = [];
  const out: string[] = [];
  segments.forEach((segment, index) => {
    const decision = segment.statement ? decide(parsed[index] ?? [], segment.text) : { action: 'keep' as const };
    if (decision.action === 'keep') { out.push(segment.text); return; }
    const before = maskPasswords(segment.text);
    if (decision.action === 'removed') {
      changes.push({ line: segment.line, action: 'removed', before, reason: decision.reason });
      // A comment in place of the statement; newlines in names must not end it early.
      out.push(`-- removed by migrate: ${decision.reason.replace(/[\r\n]+/g, ' ')}`);
    } else {
      changes.push({ line: segment.line, action: 'changed', before, after: maskPasswords(decision.text), reason: decision.reason });
      out.push(decision.text);
    }
  });
  return { sql: out.join(''), changes, roles, loginRoles: roles.filter((r) => login.has(r)) };
}

/** Remove tokens (with the space before each) from a statement, keeping everything else byte for byte. */
function removeTokens(text: string, drop: Token[]): string {
  let result = '';
  let at = 0;
  for (const token of [...drop].sort((a, b) => a.start - b.start)) {
    let from = token.start;
    while (from > at && /[ \t]/.test(text[from - 1] as string)) from -= 1;
    result += text.slice(at, from);
    at = token.end;
  }
  return result + text.slice(at);
}

/**
 * `CREATE ROLE "x";` → a DO block that skips an existing role with a NOTICE. The dollar-quote tag
 * is chosen so it does not occur in the body (role names may contain `$`).
 */
export function createIfMissing(statement: string, role: string): string {
  const create = statement.trimEnd().endsWith(';') ? statement.trimEnd() : `${statement.trimEnd()};`;
  const literal = `'${quoteIdent(role).replace(/'/g, "''")}'`;
  const body = ` BEGIN ${create} EXCEPTION WHEN duplicate_object THEN RAISE NOTICE 'role % already exists, skipping', ${literal}; END `;
  let tag = '$migrate$';
  for (let n = 1; body.includes(tag); n += 1) tag = `$migrate${n}$`;
  return `DO ${tag}${body}${tag};`;
}

/**
 * Lines describing a rewrite for people (the CLI and the wizard): every removed or changed
 * statement with its reason, while the many "create only if missing" wraps are counted, not listed.
 */
export function describeRoleChanges(changes: RoleChange[], maxListed = Infinity): string[] {
  const oneLine = (text: string): string => {
    const flat = text.replace(/\s*\n\s*/g, ' ');
    return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
  };
  const wrapped = changes.filter((c) => c.reason === CREATE_IF_MISSING_REASON).length;
  const listed = changes.filter((c) => c.reason !== CREATE_IF_MISSING_REASON);
  const lines: string[] = [];
  if (wrapped) lines.push(`${wrapped} CREATE ROLE statement(s) made conditional (an existing role is skipped)`);
  if (listed.length) {
    lines.push(`rewritten for the target (${listed.length}):`);
    for (const change of listed.slice(0, maxListed)) {
      lines.push(`  line ${change.line}: ${change.action} ${oneLine(change.before)}`);
      if (change.after !== undefined) lines.push(`    now: ${oneLine(change.after)}`);
      lines.push(`    why: ${change.reason}`);
    }
    if (listed.length > maxListed) lines.push(`  … and ${listed.length - maxListed} more (see roles.sql)`);
  }
  return lines;
}
