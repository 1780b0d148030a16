import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ensureWritableDir, removeStaleTempFiles, resolveMigrationDir, tempPathFor, writeFileAtomic } from '../../src/core/files.js';

const made: string[] = [];
afterEach(() => { for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true }); });

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-files-'));
  made.push(dir);
  return dir;
}

describe('ensureWritableDir', () => {
  it('creates missing parents, private to the user', async () => {
    const dir = path.join(tempDir(), 'a', 'b', 'c');
    expect(await ensureWritableDir(dir)).toBe(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it.skipIf(!existsSync('/proc/self'))('fails fast with a usage error where a directory cannot be made (Node 20 mkdir -p spins on /proc)', async () => {
    await expect(ensureWritableDir('/proc/migrate-no-such-dir/x')).rejects.toBeInstanceOf(UsageError);
  }, 5_000);

  it('rejects a path that is a file, saying so (not "permission denied")', async () => {
    const file = path.join(tempDir(), 'file');
    await writeFileAtomic(file, 'x');
    const error = await ensureWritableDir(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe(`--dir ${file} is a file, not a directory.`);
    expect((error as UsageError).hint).toMatch(/Point --dir at a directory/);
  });
});

describe('resolveMigrationDir (the one place --dir is read)', () => {
  it.each([[''], ['   ']])('refuses %j: it would mean the current directory', async (value) => {
    for (const create of [true, false]) {
      const error = await resolveMigrationDir(value, { create }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).exitCode).toBe(2);
      expect((error as UsageError).message).toMatch(/^--dir is (empty|blank): the migration's files would land in the current directory/);
      expect((error as UsageError).hint).toMatch(/--dir \.\/migration/);
    }
  });

  it('refuses a regular file, also when only reading (status, --dry-run)', async () => {
    const file = path.join(tempDir(), 'notes.txt');
    await writeFileAtomic(file, 'x');
    for (const create of [true, false]) {
      await expect(resolveMigrationDir(file, { create })).rejects.toThrow(`--dir ${file} is a file, not a directory.`);
    }
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('refuses a path through a regular file, naming the file', async () => {
    const file = path.join(tempDir(), 'notes.txt');
    await writeFileAtomic(file, 'x');
    await expect(resolveMigrationDir(path.join(file, 'sub', 'dir'), { create: true }))
      .rejects.toThrow(`cannot be a directory: ${file} is a file.`);
  });

  it('creates a missing directory, or only resolves it when not creating', async () => {
    const base = tempDir();
    expect(await resolveMigrationDir(path.join(base, 'new'), { create: false })).toBe(path.join(base, 'new'));
    expect(existsSync(path.join(base, 'new'))).toBe(false);
    expect(await resolveMigrationDir(path.join(base, 'new'), { create: true })).toBe(path.join(base, 'new'));
    expect(statSync(path.join(base, 'new')).isDirectory()).toBe(true);
  });
});

describe('writeFileAtomic', () => {
  it('writes the whole file with the requested mode and leaves no temp files', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'roles.sql');
    await writeFileAtomic(file, 'old');
    await writeFileAtomic(file, 'new content', { mode: 0o600 });
    expect(readFileSync(file, 'utf8')).toBe('new content');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['roles.sql']);
  });

  it('clears the temp files a killed run left for the same file, and only those', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'roles.sql');
    const deadPid = spawnSync('true').pid as number;
    const ofPid = (f: string, pid: number): string => path.basename(tempPathFor(f)).replace(`.${process.pid}-`, `.${pid}-`);
    const stale = [ofPid(file, deadPid), '.roles.sql.00112233aabb.tmp'];
    const kept = [ofPid(file, process.pid), ofPid(path.join(dir, 'state.json'), deadPid), 'roles.sql.tmp', '.roles.sql.x.tmp'];
    for (const name of [...stale, ...kept]) writeFileSync(path.join(dir, name), 'hash');
    await writeFileAtomic(file, 'new');
    expect(readdirSync(dir).sort()).toEqual(['roles.sql', ...kept].sort());
    expect(await removeStaleTempFiles(path.join(dir, 'state.json'))).toEqual([path.join(dir, kept[1] as string)]);
  });
});
