/**
 * The operator's production read queries (`migrate readiness --queries FILE`, step 8 of the
 * reference procedure): split into statements and vetted before anything connects. Only reads are
 * accepted — a statement that could change production is refused up front with its line, and every
 * query also runs in a READ ONLY transaction (queries.ts), so a write the vetting missed fails there.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../core/errors.js';
import { bareWords, splitSegments, type Word } from '../../core/sql-split.js';

export interface ReadQuery {
  /** The comment line right above the query (`-- name: x` gives x), else its first line. */
  label: string;
  /** 1-based line in the file where the query starts. */
  line: number;
  /** The statement without its trailing `;`. */
  sql: string;
}

const READ_STARTS = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE']);
const WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);
const HINT = 'List only read queries (SELECT, WITH … SELECT, VALUES, TABLE), each ending with `;`. Name one with a ' +
  '`-- name: …` comment line right above it. They run on both databases, each in a READ ONLY transaction.';

export async function readQueryFile(file: string): Promise<ReadQuery[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(`Cannot read the --queries file ${file} (${code === 'ENOENT' ? 'no such file' : code}).`, {
      hint: 'Give the path of a file of read queries, e.g. --queries ./queries.sql.', cause: error,
    });
  }
  return parseQueryFile(text, file);
}

/** The queries of a file, or one UsageError naming every statement that is not a read. */
export function parseQueryFile(text: string, file: string): ReadQuery[] {
  const queries: ReadQuery[] = [];
  const problems: string[] = [];
  let comment: string | undefined;
  for (const segment of splitSegments(text)) {
    if (!segment.statement) {
      if (segment.text.startsWith('\\')) {
        problems.push(`line ${segment.line}: ${segment.text.split(/\s/)[0]} is a psql meta-command; write plain SQL`);
      } else if (segment.text.startsWith('--')) {
        comment = segment.text.slice(2).trim().replace(/^name:\s*/i, '') || comment;
      } else if (/\n[^\S\n]*\n/.test(segment.text) || segment.text.startsWith('/*')) {
        comment = undefined; // a blank line (or a block comment) parts a comment from the query below
      }
      continue;
    }
    const sql = segment.text.replace(/;\s*$/, '').trim();
    const label = comment ?? firstLine(sql);
    comment = undefined;
    if (sql === '') continue; // a lone `;`
    const problem = whyNotARead(bareWords(sql));
    if (problem) problems.push(`line ${segment.line} (${firstLine(sql)}): ${problem}`);
    else queries.push({ label, line: segment.line, sql });
  }
  if (problems.length > 0) {
    throw new UsageError(`The --queries file ${file} has statements that are not plain reads; nothing was run:\n  - ` +
      problems.join('\n  - '), { hint: HINT });
  }
  if (queries.length === 0) throw new UsageError(`The --queries file ${file} holds no query.`, { hint: HINT });
  return queries;
}

/** Why this statement is not a plain read, or undefined when it is one. */
export function whyNotARead(words: Word[]): string | undefined {
  const first = words[0];
  if (!first) return 'no SQL keyword found';
  if (!READ_STARTS.has(first.upper)) return `it starts with ${first.upper}: only reads are run`;
  for (const [i, word] of words.entries()) {
    const before = words[i - 1]?.upper;
    if ((word.upper === 'UPDATE' || word.upper === 'SHARE') && (before === 'FOR' || before === 'KEY')) {
      return `FOR ${word.upper} locks rows: leave the locking clause out`;
    }
    if (WRITES.has(word.upper)) return `it contains ${word.upper} (a data-modifying WITH): only reads are run`;
    if (word.upper === 'INTO') return 'SELECT … INTO creates a table: only reads are run';
    if (/^\$\d+$/.test(word.text)) return `it has a parameter (${word.text}): write the value into the query`;
  }
  return undefined;
}

function firstLine(sql: string): string {
  const line = (sql.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('--')) ?? sql).trim();
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}
