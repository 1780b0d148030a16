/**
 * Every command that reads or records <dir>/state.json refuses a damaged or newer-version one the
 * same way — the README's exit 2, one message naming the fix — and does so before any work, so
 * nothing is half-written (issue #7 item 10: completion-point --until used to record T and exit 0,
 * status and resume exited 1).
 *
 * The databases hold a realistic setup (source rows, dual-written target rows, a T inside the
 * consistency range) so that each command would otherwise get on with its work.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let until: string;
const dirs: string[] = [];

beforeAll(async () => {
  dbs = await createDatabases('statefile');
  const table = 'CREATE TABLE metrics (time timestamptz NOT NULL, device int, value float8);';
  await sql(dbs.source, `${table}
    INSERT INTO metrics SELECT now() - i * interval '1 minute', i % 5, i FROM generate_series(0, 300) i;`);
  await sql(dbs.target, `${table}
    INSERT INTO metrics SELECT now() - i * interval '1 minute', i % 5, i FROM generate_series(0, 120) i;`);
  // Inside the consistency range: 30 minutes after the first dual-written row, an hour before now.
  const [row] = await sql<{ t: string }>(dbs.target,
    `SELECT to_char((min(time) + interval '30 minutes') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS t FROM metrics`);
  until = row?.t as string;
});

afterAll(async () => {
  await dbs?.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const STATES = {
  corrupt: { text: '{"version": 1, "steps": {', message: /The state file .*state\.json is damaged: it is not valid JSON/ },
  'newer-version': {
    text: `${JSON.stringify({ version: 2, createdAt: 'x', updatedAt: 'x', answers: {}, steps: {}, future: true })}\n`,
    message: /The state file .*state\.json was written by a newer migrate \(state version 2/,
  },
} as const;

const conn = (): string[] => ['--source', dbs.source, '--target', dbs.target];
const table = ['--table', 'public.metrics:time'];

/** Each command that reads or records state, with the flags that make it do real work. */
const COMMANDS: Record<string, () => string[]> = {
  status: () => ['status', '--target', dbs.target], // status reads the target only
  resume: () => ['resume', '--yes', ...conn()],
  wizard: () => ['wizard', '--yes', ...conn(), ...table],
  roles: () => ['roles', ...conn()],
  schema: () => ['schema', '--yes', ...conn(), ...table],
  hypertables: () => ['hypertables', ...conn(), ...table],
  'completion-point --until': () => ['completion-point', ...conn(), ...table, '--until', until],
  backfill: () => ['backfill', ...conn(), ...table, '--until', until],
  validate: () => ['validate', ...conn(), ...table, '--until', until],
};

describe.each(Object.entries(STATES))('a %s state.json', (_kind, state) => {
  it.each(Object.keys(COMMANDS))('migrate %s: exit 2, the same message, nothing done', async (name) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-state-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'state.json'), state.text);
    const r = await runCli([...(COMMANDS[name] as () => string[])(), '--dir', dir]);
    expect(r.stderr).toMatch(state.message);
    expect(r.stderr).toMatch(/next: (Restore it from a backup|Upgrade migrate)/);
    expect(r.code, r.stderr).toBe(2);
    // Nothing half-written: the directory holds the state file as it was, and nothing else.
    expect(readdirSync(dir)).toEqual(['state.json']);
    expect(readFileSync(path.join(dir, 'state.json'), 'utf8')).toBe(state.text);
    expect(existsSync(path.join(dir, 'completion-points.json'))).toBe(false);
    // …and the target saw no backfill.
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = '_migrate'")).toEqual([]);
  });
});

describe('control', () => {
  it('with no state file the same completion-point --until records T and the step', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-state-'));
    dirs.push(dir);
    const r = await runCli([...(COMMANDS['completion-point --until'] as () => string[])(), '--dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'completion-points.json'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')).steps['completion-point'].status).toBe('done');
  });
});
