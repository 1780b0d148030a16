import { describe, expect, it } from 'vitest';
import { inlineParams, sqlLiteral } from '../../src/core/sql-literal.js';

describe('inlineParams: a dry run\'s SQL that pastes into psql', () => {
  it('quotes each kind of value', () => {
    expect(sqlLiteral(null)).toBe('NULL');
    expect(sqlLiteral(42)).toBe('42');
    expect(sqlLiteral(false)).toBe('false');
    expect(sqlLiteral("it's")).toBe("'it''s'");
    expect(sqlLiteral('a\\b')).toBe("E'a\\\\b'");
    expect(sqlLiteral(['x', 1])).toBe("ARRAY['x', 1]");
    expect(sqlLiteral([])).toBe("'{}'");
  });

  it('replaces placeholders, not what looks like one inside literals, identifiers, dollar quotes or comments', () => {
    const sql = `SELECT $1::regclass, '$1', "$2", $$ $1 $$, $fn$ $2 $fn$ -- $1\n, $2, $10 /* $1 */ FROM t WHERE a$1 = $2`;
    expect(inlineParams(sql, ['"public"."t"', 5])).toBe(
      `SELECT '"public"."t"'::regclass, '$1', "$2", $$ $1 $$, $fn$ $2 $fn$ -- $1\n, 5, $10 /* $1 */ FROM t WHERE a$1 = 5`);
  });
});
