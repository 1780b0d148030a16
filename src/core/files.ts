/**
 * The migration directory and atomic writes. A file we write is either the old one or the whole new
 * one: content goes to a temp file in the same directory, is fsynced, then renamed over.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
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
  await removeStaleTempFiles(file);
  const temp = tempPathFor(file);
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

/**
 * Temp files are `.<name>.<pid>-<host>-<random>.tmp` next to the file they become: the writer's pid
 * and a tag of its host name say whether the run that wrote one is still alive, so a later run can
 * clear what a `kill -9` left behind without touching a live run's file.
 */
const HOST_TAG = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const OWNED_TEMP = /^(\d+)-([0-9a-f]{8})-[0-9a-f]{8}$/;
/** Before pids were recorded (kept so those leftovers are cleared too). */
const UNOWNED_TEMP = /^[0-9a-f]{12}$/;

/** A temp path next to `file` for a tool to write into before we rename it in place. */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${HOST_TAG}-${randomBytes(4).toString('hex')}.tmp`);
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Remove the temp files of `file` (only those, only in its directory) whose writer is gone: a run
 * killed mid-write (kill -9 during pg_dump) never renamed or removed its temp file, which may hold
 * a whole dump or role password hashes. Files of live runs and of other hosts are left alone.
 * Returns the paths removed.
 */
export async function removeStaleTempFiles(file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const middle = name.slice(prefix.length, -'.tmp'.length);
    const owned = OWNED_TEMP.exec(middle);
    const stale = owned
      ? owned[2] === HOST_TAG && Number(owned[1]) !== process.pid && processGone(Number(owned[1]))
      : UNOWNED_TEMP.test(middle);
    if (!stale) continue;
    await rm(path.join(dir, name), { force: true });
    removed.push(path.join(dir, name));
  }
  return removed;
}
