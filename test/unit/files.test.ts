import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ensureWritableDir, writeFileAtomic } from '../../src/core/files.js';

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

  it('rejects a path that is a file', async () => {
    const file = path.join(tempDir(), 'file');
    await writeFileAtomic(file, 'x');
    await expect(ensureWritableDir(file)).rejects.toThrow(/Cannot write to the migration directory/);
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
});
