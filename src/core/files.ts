/**
 * The migration directory and atomic writes. A file we write is either the old one or the whole new
 * one: content goes to a temp file in the same directory, is fsynced, then renamed over.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './errors.js';

/** Create the directory if needed and make sure we can write into it. */
export async function ensureWritableDir(dir: string): Promise<string> {
  const absolute = path.resolve(dir);
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
