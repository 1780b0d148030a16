/**
 * The one SQL splitter: text → statements, and the comments, blank space and psql meta-commands
 * between them. Used for pg_dump/pg_dumpall output (roles, owners and privileges) and for the
 * operator's read queries (`migrate readiness --queries`).
 *
 * A `;` ends a statement only outside quoted text, which in PostgreSQL's lexer is: '…' strings
 * (doubled quotes inside; backslash escapes in E'…'), "…" identifiers, $tag$…$tag$ dollar quotes
 * (function bodies), -- line comments and /* … *\/ block comments, which nest. Not a parser: it
 * only has to find where each statement ends.
 */

export interface Segment {
  text: string;
  /** 1-based line of the segment's first character. */
  line: number;
  /** A statement (ends with its `;`, or at the end of the text); false for space, comments and meta-commands. */
  statement: boolean;
}

/** Split SQL into statements and the comments, blank space and psql meta-commands between them. */
export function splitSegments(sql: string): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  let line = 1;
  const push = (end: number, statement: boolean): void => {
    const text = sql.slice(i, end);
    segments.push({ text, line, statement });
    line += text.split('\n').length - 1;
    i = end;
  };
  while (i < sql.length) {
    if (/\s/.test(sql[i] as string)) {
      let j = i;
      while (j < sql.length && /\s/.test(sql[j] as string)) j += 1;
      push(j, false);
    } else if (sql.startsWith('--', i) || sql[i] === '\\') {
      // Comments and psql meta-commands (\restrict, \connect) run to the end of the line.
      const newline = sql.indexOf('\n', i);
      push(newline === -1 ? sql.length : newline, false);
    } else if (sql.startsWith('/*', i)) {
      push(skipBlockComment(sql, i), false);
    } else {
      push(statementEnd(sql, i), true);
    }
  }
  return segments;
}

function statementEnd(sql: string, start: number): number {
  let i = start;
  while (i < sql.length) {
    const ch = sql[i];
    if (ch === ';') return i + 1;
    if (ch === '"') i = skipQuoted(sql, i, '"', false);
    else if (ch === "'") i = skipQuoted(sql, i, "'", /[eE]/.test(sql[i - 1] ?? '') && !/[\w$]/.test(sql[i - 2] ?? ''));
    else if (sql.startsWith('--', i)) { const nl = sql.indexOf('\n', i); i = nl === -1 ? sql.length : nl; }
    else if (sql.startsWith('/*', i)) i = skipBlockComment(sql, i);
    else if (ch === '$' && dollarTagAt(sql, i) !== undefined) i = skipDollarQuoted(sql, i, dollarTagAt(sql, i) as string);
    else i += 1;
  }
  return sql.length;
}

/** Index just after the closing quote; doubled quotes (and backslash escapes in E'') stay inside. */
export function skipQuoted(sql: string, open: number, quote: string, backslash: boolean): number {
  let j = open + 1;
  while (j < sql.length) {
    if (backslash && sql[j] === '\\') { j += 2; continue; }
    if (sql[j] === quote) {
      if (sql[j + 1] === quote) { j += 2; continue; }
      return j + 1;
    }
    j += 1;
  }
  return sql.length;
}

/** Index just after a block comment that starts at `open`; they nest, as in PostgreSQL. */
function skipBlockComment(sql: string, open: number): number {
  let depth = 0;
  let j = open;
  while (j < sql.length) {
    if (sql.startsWith('/*', j)) { depth += 1; j += 2; continue; }
    if (sql.startsWith('*/', j)) {
      depth -= 1;
      j += 2;
      if (depth === 0) return j;
      continue;
    }
    j += 1;
  }
  return sql.length;
}

/**
 * The tag of a dollar quote opening at `at` (`$$` → '', `$body$` → 'body'), or undefined when the
 * `$` opens none: a parameter ($1) or a `$` inside an identifier (a$b) is not a quote.
 */
export function dollarTagAt(sql: string, at: number): string | undefined {
  if (/[\w$]/.test(sql[at - 1] ?? '')) return undefined;
  const match = /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(sql.slice(at, at + 256));
  return match ? (match[1] ?? '') : undefined;
}

function skipDollarQuoted(sql: string, open: number, tag: string): number {
  const delimiter = `$${tag}$`;
  const close = sql.indexOf(delimiter, open + delimiter.length);
  return close === -1 ? sql.length : close + delimiter.length;
}

export interface Word { text: string; upper: string; start: number }

/**
 * The bare words of one statement (keywords and unquoted names, `$1`-style parameters too), in
 * order, skipping everything quoted or commented: what a caller needs to tell what kind of
 * statement it is.
 */
export function bareWords(statement: string): Word[] {
  const words: Word[] = [];
  let i = 0;
  while (i < statement.length) {
    const ch = statement[i] as string;
    if (ch === '"') i = skipQuoted(statement, i, '"', false);
    else if (ch === "'") i = skipQuoted(statement, i, "'", /[eE]/.test(statement[i - 1] ?? '') && !/[\w$]/.test(statement[i - 2] ?? ''));
    else if (statement.startsWith('--', i)) { const nl = statement.indexOf('\n', i); i = nl === -1 ? statement.length : nl; }
    else if (statement.startsWith('/*', i)) i = skipBlockComment(statement, i);
    else if (ch === '$' && dollarTagAt(statement, i) !== undefined) i = skipDollarQuoted(statement, i, dollarTagAt(statement, i) as string);
    else if (/[\w$]/.test(ch)) {
      const start = i;
      while (i < statement.length && /[\w$]/.test(statement[i] as string)) i += 1;
      // E'…', U&'…', B'…', X'…': the prefix letter belongs to the literal that follows.
      if (statement[i] === "'" && /^[eEbBxXnN]$/.test(statement.slice(start, i))) continue;
      const text = statement.slice(start, i);
      words.push({ text, upper: text.toUpperCase(), start });
    } else i += 1;
  }
  return words;
}

/**
 * The double-quoted names of one statement, as dot-joined chains in order: `"app"."t"."c"` →
 * ['app', 't', 'c'], `"idx"` → ['idx']; skipping strings, comments and dollar quotes. pg_dump's
 * --quote-all-identifiers output quotes every name, so this is how a rewrite tells which relations
 * a statement touches without trusting the `-- Name:` comment (names may hold `;` or spaces).
 */
export function quotedNames(statement: string): string[][] {
  const chains: string[][] = [];
  let i = 0;
  while (i < statement.length) {
    const ch = statement[i] as string;
    if (ch === '"') {
      const chain: string[] = [];
      let j = i;
      for (;;) {
        const end = skipQuoted(statement, j, '"', false);
        chain.push(statement.slice(j + 1, end - 1).replace(/""/g, '"'));
        if (statement[end] !== '.' || statement[end + 1] !== '"') { j = end; break; }
        j = end + 1;
      }
      chains.push(chain);
      i = j;
    } else if (ch === "'") i = skipQuoted(statement, i, "'", /[eE]/.test(statement[i - 1] ?? '') && !/[\w$]/.test(statement[i - 2] ?? ''));
    else if (statement.startsWith('--', i)) { const nl = statement.indexOf('\n', i); i = nl === -1 ? statement.length : nl; }
    else if (statement.startsWith('/*', i)) i = skipBlockComment(statement, i);
    else if (ch === '$' && dollarTagAt(statement, i) !== undefined) i = skipDollarQuoted(statement, i, dollarTagAt(statement, i) as string);
    else i += 1;
  }
  return chains;
}
