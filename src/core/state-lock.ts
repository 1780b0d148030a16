/**
 * `<dir>/.lock`: one run per migration directory. The file is created exclusively (O_EXCL) and holds
 * the owner's pid, host, command and start time, so the message for a second run can say who holds
 * it. A lock whose process is gone on this host is stale and taken over; a lock from another host
 * cannot be checked, so the message says how to remove it by hand.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MigrateError } from './errors.js';
import { displayPath, formatCommandLine } from './shell.js';

export const LOCK_FILE = '.lock';

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

export interface Lock {
  file: string;
  /** A stale lock we replaced, for a warning. */
  replaced?: LockInfo;
  release(): Promise<void>;
}

export function lockFile(dir: string): string {
  return path.join(dir, LOCK_FILE);
}

export async function readLock(dir: string): Promise<LockInfo | undefined> {
  try {
    const data = JSON.parse(await readFile(lockFile(dir), 'utf8')) as Partial<LockInfo>;
    if (typeof data.pid !== 'number' || typeof data.host !== 'string') return undefined;
    return { pid: data.pid, host: data.host, command: String(data.command ?? '?'), startedAt: String(data.startedAt ?? '?') };
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stale: same host and the pid is gone, or the file is unreadable (a crash between create and write). */
function isStale(info: LockInfo | undefined): boolean {
  if (info === undefined) return true;
  return info.host === os.hostname() && info.pid !== process.pid && !processAlive(info.pid);
}

// Locks this process holds: released on exit, even on a second Ctrl-C's process.exit(130).
const held = new Set<string>();
process.on('exit', () => {
  for (const file of held) rmSync(file, { force: true });
});

export interface AcquireOptions {
  /** Keep trying this long while a live process holds the lock (for short record-and-go writers). */
  waitMs?: number;
}

export async function acquireLock(dir: string, command: string, options: AcquireOptions = {}): Promise<Lock> {
  const file = lockFile(dir);
  const deadline = Date.now() + (options.waitMs ?? 0);
  let replaced: LockInfo | undefined;
  for (;;) {
    const info: LockInfo = { pid: process.pid, host: os.hostname(), command, startedAt: new Date().toISOString() };
    try {
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(info)}\n`);
      } finally {
        await handle.close();
      }
      held.add(file);
      return {
        file,
        ...(replaced ? { replaced } : {}),
        async release() {
          held.delete(file);
          const current = await readLock(dir);
          if (current === undefined || (current.pid === info.pid && current.host === info.host)) await rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new MigrateError(`Cannot create the lock file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`, {
          hint: 'Check that the migration directory (--dir) is writable.',
          cause: error,
        });
      }
    }
    const owner = await readLock(dir);
    if (owner && owner.pid === process.pid && owner.host === os.hostname()) {
      // This process already holds it (a step recording its outcome inside the wizard): re-entrant.
      return { file, async release() { /* the outer holder releases */ } };
    }
    if (isStale(owner)) {
      replaced = owner;
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    const who = owner as LockInfo;
    const sameHost = who.host === os.hostname();
    throw new MigrateError(`The migration in ${dir} is in use by another run: \`migrate ${who.command}\` ` +
      `(pid ${who.pid} on ${who.host}, since ${who.startedAt}).`, {
      hint: sameHost
        ? `Wait for it to finish (or stop it with Ctrl-C), then run the command again; \`${formatCommandLine(['migrate', 'status', '--dir', displayPath(dir)])}\` shows where it stands.`
        : `Wait for it to finish. If that run is gone (host ${who.host} crashed), delete the lock (\`${formatCommandLine(['rm', file])}\`) and run the command again.`,
    });
  }
}
