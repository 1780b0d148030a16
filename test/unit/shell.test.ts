import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { displayTableSpec } from '../../src/core/identifiers.js';
import { formatCommandLine, shellQuote } from '../../src/core/shell.js';
import { shellArgv } from '../helpers/shell.js';

const made: string[] = [];
afterEach(() => { for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true }); });

function emptyDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-shell-'));
  made.push(dir);
  return dir;
}

/** Names an adversary would give a table, column, directory or value; each must reach argv byte for byte. */
const HOSTILE = [
  "x'; touch owned; echo '",
  "'",
  "''",
  "it's",
  '$(touch owned)',
  '`touch owned`',
  '${HOME}',
  '$HOME',
  'a\nb; touch owned',
  '\n',
  'tab\there',
  '"Sales Data"."Orders":"Created At"',
  '"a""b"',
  'two  spaces',
  ' leading and trailing ',
  '',
  'ünïcødé.表',
  '!',
  '!!',
  'hist!ory',
  '*',
  '?',
  '[a-z]',
  '~',
  '~root',
  '=cmd',
  '--table=x',
  '-n',
  'a;b',
  'a&b',
  'a|b',
  'a>owned',
  '<owned',
  '(x)',
  '{a,b}',
  '#comment',
  'back\\slash',
  '\\',
  '\x1b[31mred',
  'public.metrics:time',
  '2024-01-10T12:00:00+01:00',
];

describe('shellQuote', () => {
  it('leaves plain words bare and quotes everything else', () => {
    expect(shellQuote('public.metrics:time')).toBe('public.metrics:time');
    expect(shellQuote('--until=1695036737000')).toBe('--until=1695036737000');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('=cmd')).toBe("'=cmd'");
    expect(shellQuote('a b')).toBe("'a b'");
  });

  it('refuses NUL, which no argv can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });

  it.each(HOSTILE.map((s) => [JSON.stringify(s), s]))('round-trips %s through /bin/sh and runs nothing', (_label, value) => {
    const cwd = emptyDir();
    const argv = ['migrate', 'schema', '--table', value, '--dir', value, value];
    expect(shellArgv(formatCommandLine(argv), cwd)).toEqual(argv);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('round-trips table specs built from hostile identifiers', () => {
    const cwd = emptyDir();
    for (const schema of ['public', 'Sales Data', "x'; touch owned; echo '"]) {
      for (const table of HOSTILE.filter((s) => s !== '')) {
        const spec = displayTableSpec({ schema, table, column: 'Created At' });
        const argv = ['migrate', 'hypertables', '--table', spec];
        expect(shellArgv(formatCommandLine(argv), cwd)).toEqual(argv);
      }
    }
    expect(existsSync(path.join(cwd, 'owned'))).toBe(false);
  });
});

/** The lines we print that start with a command, minus their label ("Next: ", "next: "…). */
function commandAfter(text: string, label: string): string {
  const line = text.split('\n').find((l) => l.startsWith(label));
  if (line === undefined) throw new Error(`no line starting with ${JSON.stringify(label)} in:\n${text}`);
  return line.slice(label.length);
}

describe('every command line we print goes through the one quoter', () => {
  const EVIL = "x'; touch owned; echo '";

  it('migrate candidates: the Next and Then lines', async () => {
    const { formatCandidates } = await import('../../src/cli/commands/candidates.js');
    const cwd = emptyDir();
    const text = formatCandidates([{
      table: { schema: 'public', table: EVIL }, totalBytes: 1, estimatedRows: 1, otherTimeColumns: [], blockers: [],
      warnings: [], notes: [], hypertable: false, timeColumn: { name: 'Created $(touch owned)', type: 'timestamptz', reason: '' },
    }], '0');
    const spec = displayTableSpec({ schema: 'public', table: EVIL, column: 'Created $(touch owned)' });
    expect(shellArgv(commandAfter(text, 'Next: '), cwd)).toEqual(['migrate', 'schema', '--table', spec]);
    expect(shellArgv(commandAfter(text, 'Then: '), cwd)).toEqual(['migrate', 'hypertables', '--table', spec]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('migrate schema: the Next line', async () => {
    const { formatResult } = await import('../../src/cli/commands/schema.js');
    const cwd = emptyDir();
    const spec = displayTableSpec({ schema: 'Sales Data', table: EVIL, column: '`touch owned`' });
    const text = formatResult({ dumpFile: '/x/dump.sql', dryRun: false, excludedTables: [], tablesLoaded: [], emptyTables: [],
      sourceIsTimescale: false, commands: { dump: '', load: '' }, trees: [], domainColumns: [], warnings: [] }, [spec, 'metrics']);
    expect(shellArgv(commandAfter(text, 'Next: '), cwd))
      .toEqual(['migrate', 'hypertables', '--table', spec, '--table', 'public.metrics']);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('resume and status hints carry a hostile --dir intact', async () => {
    const { resumeCommand } = await import('../../src/wizard/flow.js');
    const { buildStatus } = await import('../../src/wizard/overview.js');
    const cwd = emptyDir();
    for (const dir of [path.join(os.tmpdir(), EVIL), path.join(os.tmpdir(), '$(touch owned)\n"x"')]) {
      expect(shellArgv(resumeCommand(dir), cwd)).toEqual(['migrate', 'resume', '--dir', dir]);
      expect(shellArgv(buildStatus(dir, undefined, '').next, cwd)).toEqual(['migrate', 'wizard', '--dir', dir]);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('pg_dump/psql commands printed by --dry-run', async () => {
    const { formatCommand } = await import('../../src/core/pg-tools.js');
    const cwd = emptyDir();
    const args = ['--dbname', 'postgres://u@h/db', `--exclude-table-data="public"."${EVIL}"`, '-f', '/tmp/a b/$(touch owned)'];
    expect(shellArgv(formatCommand('/usr/bin/pg_dump', args), cwd)).toEqual(['/usr/bin/pg_dump', ...args]);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
