/**
 * The migration directory and atomic writes. A file we write is either the old one or the whole new
 * one: content goes to a temp file in the same directory, is fsynced, then renamed over.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './errors.js';

export const DEFAULT_DIR = './migration';

/**
 * The one place that turns a --dir flag into the migration directory: refuse an empty value (it
 * would silently mean the current directory) and a path that is, or runs through, a regular file;
 * with `create`, make the directory and check it is writable.
 */
export async function resolveMigrationDir(dir: string, options: { create: boolean }): Promise<string> {
  if (dir.trim() === '') {
    throw new UsageError(`--dir is ${dir === '' ? 'empty' : 'blank'}: the migration's files would land in the current directory.`, {
      hint: `Name the migration directory, e.g. --dir ${DEFAULT_DIR} (the default when --dir is left out), or --dir . on purpose.`,
    });
  }
  const absolute = path.resolve(dir);
  if (options.create) return ensureWritableDir(absolute);
  await refuseNonDirectory(absolute);
  return absolute;
}

/** A --dir that is a file, or whose parent is one, gets a message that says so (not "permission denied"). */
async function refuseNonDirectory(absolute: string): Promise<void> {
  for (let current = absolute; ; current = path.dirname(current)) {
    const info = await stat(current).catch(() => undefined);
    if (info?.isDirectory()) return;
    if (info) {
      throw new UsageError(current === absolute
        ? `--dir ${absolute} is a file, not a directory.`
        : `--dir ${absolute} cannot be a directory: ${current} is a file.`, {
        hint: 'Point --dir at a directory (it is created when missing), or move the file out of the way.',
      });
    }
    if (path.dirname(current) === current) return;
  }
}

/** Create the directory if needed and make sure we can write into it. */
export async function ensureWritableDir(dir: string): Promise<string> {
  const absolute = path.resolve(dir);
  await refuseNonDirectory(absolute);
  try {
    await makeDirectory(absolute);
    await access(absolute, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(`Cannot write to the migration directory ${absolute} (${code}).`, {
      hint: 'Choose a writable directory with --dir, or fix its permissions.',
      cause: error,
    });
  }
  return absolute;
}

/**
 * mkdir -p, one level at a time. Node 20's `mkdir(…, { recursive: true })` never returns for some
 * paths (e.g. /proc/x: it retries ENOENT forever), which would hang the CLI on a bad --dir.
 */
async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    await makeDirectory(parent);
    await mkdir(dir, { mode: 0o700 }).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
    });
  }
}

export interface WriteOptions {
  /** File mode; role dumps use 0o600 because they may hold password hashes. */
  mode?: number;
}

export async function writeFileAtomic(file: string, content: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o644;
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode); // the umask may have narrowed or widened what open() set
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** A temp path next to `file` for a tool to write into before we rename it in place. */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
}
