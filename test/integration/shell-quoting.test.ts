/**
 * The command lines migrate prints are pasted into shells: a table an adversary named
 * `x'; touch owned; echo '` must come out as one quoted argument, never as a command (issue #7).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTableSpec, quoteIdent } from '../../src/core/identifiers.js';
import { splitPassword } from '../../src/core/connection.js';
import { runCli } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';
import { shellArgv } from '../helpers/shell.js';

const EVIL = "x'; touch owned; echo '";
let dbs: TestDatabases;
let cwd: string;

beforeAll(async () => {
  dbs = await createDatabases('shellquote');
  await sql(dbs.source, `CREATE TABLE public.${quoteIdent(EVIL)} (time timestamptz NOT NULL, v int);
    INSERT INTO public.${quoteIdent(EVIL)} SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute', g
      FROM generate_series(1, 1000) g;
    ANALYZE public.${quoteIdent(EVIL)};`);
  cwd = mkdtempSync(path.join(os.tmpdir(), 'migrate-paste-'));
});
afterAll(async () => {
  await dbs?.drop();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

describe('printed commands are safe to paste', () => {
  it("migrate candidates' Next: line names the hostile table as one argument and runs nothing", async () => {
    const r = await runCli(['candidates', '--source', dbs.source, '--min-size', '0']);
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    const next = r.stdout.split('\n').find((l) => l.startsWith('Next: '));
    expect(next, r.stdout).toBeDefined();
    const argv = shellArgv((next as string).slice('Next: '.length), cwd);
    expect(existsSync(path.join(cwd, 'owned'))).toBe(false);
    expect(readdirSync(cwd)).toEqual([]);
    expect(argv.slice(0, 3)).toEqual(['migrate', 'schema', '--table']);
    expect(parseTableSpec(argv[3] as string)).toEqual({ schema: 'public', table: EVIL, column: 'time' });
    // The --source given comes along, without its password.
    expect(argv.slice(4)).toEqual(['--source', splitPassword(dbs.source).connectionString]);
  });
});
