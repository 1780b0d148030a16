/**
 * Rewrite pg_dump's plain output so each chosen partitioned or inheritance tree arrives as ONE
 * plain table (issue #10 item 2), statement by statement, keeping everything else byte for byte:
 *
 * - the parent's CREATE TABLE loses its PARTITION BY clause (views, functions and FKs over it are
 *   untouched, so they are created against the plain table exactly as pg_dump ordered them);
 * - every statement that names a partition/child, one of their indexes or identity sequences
 *   (CREATE TABLE, ATTACH PARTITION, ALTER INDEX … ATTACH PARTITION, constraints, triggers,
 *   comments, grants, owners, setval) is left out, with its `-- Name:` header when nothing is left;
 * - the routing trigger of an inheritance parent is left out;
 * - pg_partman's configuration rows for the tree are left out of its config tables' COPY data;
 * - a domain-typed time column gets its base type.
 *
 * pg_dump writes one TOC entry per object: a `-- Name: …; Type: …; Schema: …` header, then its
 * statements. The dump is read line by line (it may hold gigabytes of relational data, streamed
 * through untouched); entries other than data are small and split with the one splitter.
 * Views, functions and the like are never edited or dropped: if one names a partition directly,
 * the load fails with psql's message instead of silently losing it.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tempPathFor } from '../core/files.js';
import { displayName, quoteIdent, type QualifiedName } from '../core/identifiers.js';
import { bareWords, quotedNames, splitSegments } from '../core/sql-split.js';

export interface TreeRewrite {
  table: QualifiedName;
  /** Strip the parent's PARTITION BY. */
  partitioned: boolean;
  /** Relations whose statements are left out. */
  dropped: QualifiedName[];
  routingTriggers: string[];
  /** Statements appended at the end of the dump (indexes every partition had), once the table exists. */
  append?: string[];
}

export interface ColumnRetype {
  table: QualifiedName;
  column: string;
  domain: QualifiedName;
  baseType: string;
  notNull: boolean;
}

export interface DumpRewritePlan {
  trees: TreeRewrite[];
  retypes: ColumnRetype[];
  /** pg_partman config tables and their key column; rows whose key is in partmanKeys are left out. */
  partmanTables: { table: QualifiedName; column: string }[];
  partmanKeys: string[];
}

export interface RewriteCounts {
  /** Statements left out per tree (same order as plan.trees). */
  statementsLeftOut: number[];
  partmanRowsLeftOut: number;
  /** Parents whose PARTITION BY was removed, columns retyped: checked against the plan after the rewrite. */
  partitionByRemoved: string[];
  columnsRetyped: string[];
}

// Entries whose statements are never dropped or edited: they only reference the tree.
const NEVER_TOUCHED = new Set(['VIEW', 'MATERIALIZED VIEW', 'MATERIALIZED VIEW DATA', 'FUNCTION', 'PROCEDURE', 'AGGREGATE',
  'RULE', 'TYPE', 'DOMAIN', 'SCHEMA', 'EXTENSION']);
// Entries streamed through line by line: table data can be huge.
const STREAMED = new Set(['TABLE DATA', 'BLOBS', 'BLOB', 'LARGE OBJECT', 'BLOB DATA']);
const HEADER = /^-- (?:Data for )?Name: (.*); Type: ([^;]*); Schema: (.*?); Owner: (.*?)(?:; Tablespace: .*)?$/;
const COPY_START = /^COPY .* FROM stdin;$/;

interface Header { name: string; type: string; schema: string }

const key = (schema: string, table: string): string => `${schema}\u0000${table}`;
const nameKey = (n: QualifiedName): string => key(n.schema, n.table);

/** Feed lines (each with its '\n', the last one maybe without); collect what comes out. */
export class DumpRewriter {
  readonly counts: RewriteCounts;
  private readonly dropped = new Map<string, number>();
  private readonly roots = new Map<string, number>();
  private readonly retypes = new Map<string, ColumnRetype[]>();
  private readonly partman = new Map<string, string>();
  private readonly partmanKeys: Set<string>;
  private header: Header | undefined;
  private buffer: string[] = [];
  private streaming = false;
  /** Inside COPY data: the index of the partman key column, or -1 to pass every row. */
  private copyFilter: number | undefined;

  constructor(private readonly plan: DumpRewritePlan) {
    plan.trees.forEach((tree, i) => {
      this.roots.set(nameKey(tree.table), i);
      for (const name of tree.dropped) this.dropped.set(nameKey(name), i);
    });
    for (const retype of plan.retypes) {
      this.retypes.set(nameKey(retype.table), [...(this.retypes.get(nameKey(retype.table)) ?? []), retype]);
    }
    for (const t of plan.partmanTables) this.partman.set(nameKey(t.table), t.column);
    this.partmanKeys = new Set(plan.partmanKeys);
    this.counts = { statementsLeftOut: plan.trees.map(() => 0), partmanRowsLeftOut: 0, partitionByRemoved: [], columnsRetyped: [] };
  }

  line(line: string): string {
    const content = line.replace(/\r?\n$/, '');
    if (this.copyFilter !== undefined) {
      if (content === '\\.') { this.copyFilter = undefined; return line; }
      if (this.copyFilter >= 0 && this.partmanKeys.has(copyField(content.split('\t')[this.copyFilter] ?? '') ?? '')) {
        this.counts.partmanRowsLeftOut += 1;
        return '';
      }
      return line;
    }
    const header = HEADER.exec(content);
    if (header) {
      // The `--` line above a header belongs to it, not to the entry before.
      const carried = this.buffer.length > 0 && this.buffer[this.buffer.length - 1]?.replace(/\r?\n$/, '') === '--'
        ? this.buffer.pop() as string : '';
      const out = this.flush();
      this.header = { name: header[1] as string, type: header[2] as string, schema: header[3] as string };
      this.streaming = STREAMED.has(this.header.type);
      if (this.streaming) return out + carried + line;
      this.buffer = [carried, line].filter((l) => l !== '');
      return out;
    }
    if (this.streaming) {
      if (COPY_START.test(content)) this.copyFilter = this.partmanColumn(content);
      return line;
    }
    this.buffer.push(line);
    return '';
  }

  end(): string {
    const appended = this.plan.trees.flatMap((t) => t.append ?? []);
    const tail = appended.length > 0 ? `\n-- Added by migrate: indexes every partition or child had, on the one table\n${appended.join('\n')}\n` : '';
    return this.flush() + tail;
  }

  private flush(): string {
    const text = this.buffer.join('');
    this.buffer = [];
    const header = this.header;
    if (text === '' || header === undefined || this.streaming || NEVER_TOUCHED.has(header.type)) return text;
    let changed = false;
    let kept = 0;
    const out: string[] = [];
    for (const segment of splitSegments(text)) {
      if (!segment.statement) { out.push(segment.text); continue; }
      const decision = this.decide(segment.text, header);
      if (decision.drop !== undefined) {
        this.counts.statementsLeftOut[decision.drop] = (this.counts.statementsLeftOut[decision.drop] ?? 0) + 1;
        changed = true;
        continue;
      }
      kept += 1;
      if (decision.text !== segment.text) changed = true;
      out.push(decision.text);
    }
    if (!changed) return text;
    return kept === 0 ? '' : out.join('');
  }

  /** Drop (naming the tree it belongs to) or keep, maybe rewritten. */
  private decide(statement: string, header: Header): { drop?: number; text: string } {
    if (header.type === 'SEQUENCE SET') {
      // setval('"s"."seq"', …): the name is in a string; the header names it.
      const tree = this.dropped.get(key(header.schema, header.name));
      return tree === undefined ? { text: statement } : { drop: tree, text: statement };
    }
    const chains = quotedNames(statement);
    const words = bareWords(statement);
    const verb = words.slice(0, 2).map((w) => w.upper).join(' ');
    const first = chains.find((c) => c.length >= 2);
    const subject = first ? key(first[0] as string, first[1] as string) : undefined;
    if (verb === 'CREATE TRIGGER' && subject !== undefined && this.roots.has(subject)) {
      const tree = this.roots.get(subject) as number;
      const trigger = chains[0]?.length === 1 ? chains[0][0] : undefined;
      if (trigger !== undefined && this.plan.trees[tree]?.routingTriggers.includes(trigger)) return { drop: tree, text: statement };
    }
    for (const chain of chains) {
      if (chain.length < 2) continue;
      const tree = this.dropped.get(key(chain[0] as string, chain[1] as string));
      if (tree !== undefined) return { drop: tree, text: statement };
    }
    if (verb === 'CREATE TABLE' && subject !== undefined) return { text: this.rewriteTable(statement, subject, words) };
    return { text: statement };
  }

  private rewriteTable(statement: string, subject: string, words: ReturnType<typeof bareWords>): string {
    let text = statement;
    const tree = this.roots.get(subject);
    if (tree !== undefined && this.plan.trees[tree]?.partitioned) {
      // The last bare PARTITION BY is the table's clause: generated columns, defaults and CHECKs
      // cannot hold window functions, and quoted text is not among the bare words.
      const at = words.findLastIndex((w, i) => w.upper === 'PARTITION' && words[i + 1]?.upper === 'BY');
      const word = words[at];
      if (word) {
        text = `${text.slice(0, word.start).trimEnd()};`;
        this.counts.partitionByRemoved.push(subject);
      }
    }
    for (const retype of this.retypes.get(subject) ?? []) {
      // --quote-all-identifiers: the column's line is `    "col" "schema"."domain"…`.
      const declared = `\n    ${quoteIdent(retype.column)} ${quoteIdent(retype.domain.schema)}.${quoteIdent(retype.domain.table)}`;
      const at = text.indexOf(declared);
      if (at === -1) continue;
      const lineEnd = text.indexOf('\n', at + 1);
      const rest = text.slice(at + declared.length, lineEnd === -1 ? undefined : lineEnd);
      const notNull = retype.notNull && !/\bNOT NULL\b/.test(rest) ? ' NOT NULL' : '';
      text = `${text.slice(0, at)}\n    ${quoteIdent(retype.column)} ${retype.baseType}${notNull}${text.slice(at + declared.length)}`;
      this.counts.columnsRetyped.push(`${subject}\u0000${retype.column}`);
    }
    return text;
  }

  /** At a COPY line: the key column's index when it is a pg_partman config table, else -1. */
  private partmanColumn(copy: string): number {
    const [table, ...columns] = quotedNames(copy);
    if (!table || table.length < 2) return -1;
    const column = this.partman.get(key(table[0] as string, table[1] as string));
    return column === undefined ? -1 : columns.findIndex((c) => c.length === 1 && c[0] === column);
  }
}

/** What the plan asked for and the dump did not have (a parent without PARTITION BY, a column not typed by its domain). */
export function missingRewrites(plan: DumpRewritePlan, counts: RewriteCounts): string[] {
  const problems: string[] = [];
  for (const tree of plan.trees) {
    if (tree.partitioned && !counts.partitionByRemoved.includes(nameKey(tree.table))) {
      problems.push(`no CREATE TABLE … PARTITION BY for ${displayName(tree.table)}`);
    }
  }
  for (const retype of plan.retypes) {
    if (!counts.columnsRetyped.includes(`${nameKey(retype.table)}\u0000${retype.column}`)) {
      problems.push(`the column ${JSON.stringify(retype.column)} of ${displayName(retype.table)} was not found typed ${displayName(retype.domain)}`);
    }
  }
  return problems;
}

/** One field of COPY's text format: `\N` is NULL, backslash escapes decoded. */
export function copyField(raw: string): string | undefined {
  if (raw === '\\N') return undefined;
  const simple: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
  return raw.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, c: string) => {
    if (/^x/.test(c)) return String.fromCharCode(parseInt(c.slice(1), 16));
    if (/^[0-7]/.test(c)) return String.fromCharCode(parseInt(c, 8));
    return simple[c] ?? c;
  });
}

/** Rewrite a whole dump held in memory (tests, the small schema-only privileges dump). */
export function rewriteDumpText(text: string, plan: DumpRewritePlan): { text: string; counts: RewriteCounts } {
  const rewriter = new DumpRewriter(plan);
  let out = '';
  for (const line of text.split(/(?<=\n)/)) out += rewriter.line(line);
  out += rewriter.end();
  return { text: out, counts: rewriter.counts };
}

/**
 * Stream `from` through the rewriter into `to` (mode 0600, written to a temp file and renamed).
 * `encoding`: the dump's (the source's server encoding); latin1 round-trips any other byte for byte.
 */
export async function rewriteDumpFile(from: string, to: string, plan: DumpRewritePlan, encoding: BufferEncoding):
  Promise<RewriteCounts> {
  const rewriter = new DumpRewriter(plan);
  const temp = tempPathFor(to);
  const output = createWriteStream(temp, { mode: 0o600, encoding, flags: 'wx' });
  const write = async (text: string): Promise<void> => {
    if (text !== '' && !output.write(text)) await once(output, 'drain');
  };
  try {
    let rest = '';
    for await (const chunk of createReadStream(from, { encoding })) {
      rest += chunk as string;
      let start = 0;
      let out = '';
      for (let nl = rest.indexOf('\n'); nl !== -1; nl = rest.indexOf('\n', start)) {
        out += rewriter.line(rest.slice(start, nl + 1));
        start = nl + 1;
      }
      rest = rest.slice(start);
      await write(out);
    }
    await write(rest === '' ? rewriter.end() : rewriter.line(rest) + rewriter.end());
    output.end();
    await once(output, 'finish');
    await rename(temp, to);
  } catch (error) {
    output.destroy();
    await rm(temp, { force: true });
    throw error;
  }
  return rewriter.counts;
}
