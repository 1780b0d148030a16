import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { bareWords, splitSegments } from '../../src/core/sql-split.js';
import { parseQueryFile } from '../../src/steps/readiness/query-file.js';

const statements = (sql: string): string[] => splitSegments(sql).filter((s) => s.statement).map((s) => s.text);

describe('splitSegments', () => {
  it('ends a statement at a semicolon outside quotes, and keeps the last one without it', () => {
    expect(statements('SELECT 1; SELECT 2;\nSELECT 3')).toEqual(['SELECT 1;', 'SELECT 2;', 'SELECT 3']);
  });

  it('keeps semicolons inside strings, E-strings, quoted names and comments', () => {
    const sql = `SELECT 'a;b', 'it''s;', E'x\\';y' AS "c;d" -- not; the end
      , 1 /* nor; /* nested; */ this; */ FROM t;
      SELECT 2;`;
    const found = statements(sql);
    expect(found).toHaveLength(2);
    expect(found[0]).toContain('FROM t;');
    expect(found[1]).toBe('SELECT 2;');
  });

  it('keeps dollar-quoted bodies whole, with or without a tag, and tells them from parameters and names', () => {
    const body = `CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$ BEGIN GRANT SELECT ON t TO r; RETURN 1; END $fn$;`;
    expect(statements(`${body}\nSELECT $$a;b$$, $q$ $$; $q$;\nSELECT a$b, $1 FROM t;`)).toEqual([
      body, 'SELECT $$a;b$$, $q$ $$; $q$;', 'SELECT a$b, $1 FROM t;']);
  });

  it('leaves comments, block comments and meta-commands out of the statements, with their lines', () => {
    const segments = splitSegments('-- a\n/* b;\n c */\n\\restrict key\nSELECT 1;\n');
    expect(segments.filter((s) => !s.statement && s.text.trim()).map((s) => s.text)).toEqual(['-- a', '/* b;\n c */', '\\restrict key']);
    expect(segments.find((s) => s.statement)).toMatchObject({ text: 'SELECT 1;', line: 5 });
  });

  it('an unterminated quote or comment runs to the end (no statement is invented)', () => {
    expect(statements("SELECT 'open; SELECT 2;")).toEqual(["SELECT 'open; SELECT 2;"]);
    expect(statements('SELECT $x$ open; SELECT 2;')).toEqual(['SELECT $x$ open; SELECT 2;']);
  });
});

describe('bareWords', () => {
  it('lists keywords and names outside quotes and comments only', () => {
    expect(bareWords(`SELECT "DELETE", 'UPDATE', $$INSERT$$, E'\\'MERGE' /* INTO */ -- DROP\n FROM t`).map((w) => w.upper))
      .toEqual(['SELECT', 'FROM', 'T']);
  });
});

describe('parseQueryFile', () => {
  it('reads each query with its label: the comment right above it, else its first line', () => {
    const queries = parseQueryFile(`-- name: daily totals
SELECT day, sum(v)
  FROM t GROUP BY 1;

-- a comment followed by a blank line is no label

WITH x AS (SELECT 1) SELECT * FROM x;
VALUES (1);
TABLE t;
(SELECT 1);
;`, 'q.sql');
    expect(queries.map((q) => [q.label, q.line])).toEqual([
      ['daily totals', 2], ['WITH x AS (SELECT 1) SELECT * FROM x', 7], ['VALUES (1)', 8], ['TABLE t', 9], ['(SELECT 1)', 10]]);
    expect(queries[0]?.sql).toBe('SELECT day, sum(v)\n  FROM t GROUP BY 1');
  });

  it('refuses every statement that is not a plain read, naming each line, before anything runs', () => {
    let error: unknown;
    try {
      parseQueryFile(`SELECT 1;
DELETE FROM t;
WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone;
SELECT * FROM t FOR UPDATE;
SELECT * INTO copy FROM t;
SELECT * FROM t WHERE id = $1;
DROP TABLE t;
\\timing
SELECT 'DELETE' AS "UPDATE";`, 'q.sql');
    } catch (e) { error = e; }
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message.split('\n').slice(1)).toEqual([
      '  - line 2 (DELETE FROM t): it starts with DELETE: only reads are run',
      '  - line 3 (WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone): it contains DELETE (a data-modifying WITH): only reads are run',
      '  - line 4 (SELECT * FROM t FOR UPDATE): FOR UPDATE locks rows: leave the locking clause out',
      '  - line 5 (SELECT * INTO copy FROM t): SELECT … INTO creates a table: only reads are run',
      '  - line 6 (SELECT * FROM t WHERE id = $1): it has a parameter ($1): write the value into the query',
      '  - line 7 (DROP TABLE t): it starts with DROP: only reads are run',
      '  - line 8: \\timing is a psql meta-command; write plain SQL',
    ]);
  });

  it('refuses a file without a query', () => {
    expect(() => parseQueryFile('-- nothing here\n;\n', 'q.sql')).toThrow(/holds no query/);
  });
});
