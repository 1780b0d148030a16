/**
 * --dir, read in one place (src/core/files.ts resolveMigrationDir): an empty value or a regular file
 * is bad usage (exit 2) with a message that says which, and nothing is written anywhere (issue #7
 * item 11: `--dir ''` used to write into the current directory, a file was "permission denied").
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createDatabases, type TestDatabases } from '../helpers/databases.js';

let dbs: TestDatabases;
let cwd: string;
let file: string;

beforeAll(async () => {
  dbs = await createDatabases('diropt');
  cwd = mkdtempSync(path.join(os.tmpdir(), 'migrate-dir-'));
  file = path.join(mkdtempSync(path.join(os.tmpdir(), 'migrate-dirfile-')), 'notes.txt');
  writeFileSync(file, 'mine\n');
});
afterAll(async () => {
  await dbs?.drop();
  rmSync(cwd, { recursive: true, force: true });
  rmSync(path.dirname(file), { recursive: true, force: true });
});

const roles = (): string[] => ['roles', '--no-load', '--source', dbs.source, '--target', dbs.target];

describe('--dir', () => {
  it.each([
    ['roles --no-load', roles],
    ['status', () => ['status']],
  ])("'' is refused by %s (exit 2), nothing lands in the current directory", async (_name, args) => {
    const r = await runCli([...args(), '--dir', ''], { cwd });
    expect(r.stderr).toContain("error: --dir is empty: the migration's files would land in the current directory.");
    expect(r.stderr).toContain('next: Name the migration directory, e.g. --dir ./migration');
    expect(r.code).toBe(2);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it.each([
    ['roles --no-load', roles],
    ['status', () => ['status']],
    ['roles --dry-run', () => [...roles(), '--dry-run']],
  ])('naming a regular file is refused by %s (exit 2) as a file, not "permission denied"', async (_name, args) => {
    const r = await runCli([...args(), '--dir', file], { cwd });
    expect(r.stderr).toContain(`error: --dir ${file} is a file, not a directory.`);
    expect(r.stderr).toContain('next: Point --dir at a directory');
    expect(r.stderr).not.toMatch(/EACCES|permission/i);
    expect(r.code).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe('mine\n');
    expect(readdirSync(path.dirname(file))).toEqual(['notes.txt']);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
