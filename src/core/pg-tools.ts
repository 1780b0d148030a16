/**
 * Finding and running the PostgreSQL client tools (pg_dump, pg_dumpall, psql).
 *
 * pg_dump must be at least the source server's major version, so we look in every place a tool
 * may be (PG_BINDIR, `pg_config --bindir`, Debian's /usr/lib/postgresql/<major>/bin, PATH) and take
 * the newest. Passwords go to the child through PGPASSWORD, never through argv.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { SECRET_KEYWORDS } from './conninfo/keywords.js';
import { resolveEndpointConninfo, type Endpoint } from './connection.js';
import { InterruptedError, MigrateError, UsageError } from './errors.js';
import { removeStaleTempFiles, tempPathFor } from './files.js';
import { formatCommandLine, shellQuote } from './shell.js';

export type PgToolName = 'pg_dump' | 'pg_dumpall' | 'psql';

export interface PgTool {
  name: PgToolName;
  path: string;
  major: number;
  version: string;
}

function candidateDirs(env: NodeJS.ProcessEnv): string[] {
  if (env.PG_BINDIR) return [env.PG_BINDIR];
  const dirs: string[] = [];
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (pgConfig.status === 0 && pgConfig.stdout.trim()) dirs.push(pgConfig.stdout.trim());
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    for (const entry of readdirSync(debianRoot)) dirs.push(path.join(debianRoot, entry, 'bin'));
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) if (dir) dirs.push(dir);
  return [...new Set(dirs)];
}

/** `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → 15.18. */
export function readToolVersion(toolPath: string): { major: number; version: string } | undefined {
  const result = spawnSync(toolPath, ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(result.stdout);
  if (!match) return undefined;
  const major = Number(match[1]);
  return { major, version: match[2] === undefined ? String(major) : `${major}.${match[2]}` };
}

/** Every copy of the tool we can find, newest first. */
export function findPgTools(name: PgToolName, env: NodeJS.ProcessEnv = process.env): PgTool[] {
  const found: PgTool[] = [];
  const seen = new Set<string>();
  for (const dir of candidateDirs(env)) {
    const toolPath = path.join(dir, name);
    if (!existsSync(toolPath)) continue;
    const version = readToolVersion(toolPath);
    if (!version || seen.has(`${version.version}`)) continue;
    seen.add(version.version);
    found.push({ name, path: toolPath, ...version });
  }
  return found.sort((a, b) => b.major - a.major || compareVersions(b.version, a.version));
}

function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/**
 * The newest copy of `name`, which must be at least `minMajor` (the source server's major version
 * for pg_dump/pg_dumpall). Throws a MigrateError that says what to install.
 */
export function requirePgTool(name: PgToolName, minMajor?: number, env: NodeJS.ProcessEnv = process.env): PgTool {
  const tools = findPgTools(name, env);
  const newest = tools[0];
  const where = env.PG_BINDIR ? `in PG_BINDIR (${env.PG_BINDIR})` : 'in PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin or PATH';
  if (!newest) {
    throw new MigrateError(`${name} was not found ${where}.`, {
      hint: `Install the PostgreSQL client tools${minMajor ? ` for version ${minMajor} or newer` : ''} ` +
        `(Debian/Ubuntu: apt-get install postgresql-client${minMajor ? `-${minMajor}` : ''}), or point PG_BINDIR at their directory.`,
    });
  }
  if (minMajor !== undefined && newest.major < minMajor) {
    throw new MigrateError(
      `${name} ${newest.version} (${newest.path}) is older than the source server (PostgreSQL ${minMajor}); ` +
      `${name} must be at least the server's major version.`, {
        hint: `Install postgresql-client-${minMajor} or newer, or set PG_BINDIR to a directory with a newer ${name}.`,
      });
  }
  return newest;
}

/**
 * Arguments and environment that point a tool at an endpoint without exposing its password.
 *
 * The tool gets the string it was given minus its secrets (so its libpq reads it, the service
 * file and the PG* variables it inherits exactly as ours did), `--no-password` (so it never
 * stops to prompt on a terminal), and the password we resolved in PGPASSWORD, never in argv. A
 * password we found in the password file is handed over the same way rather than letting libpq
 * look again: one lookup, one answer, and the file's permission warning said once, by us.
 */
export function connectionArgs(endpoint: Endpoint, env: NodeJS.ProcessEnv = process.env): { args: string[]; env: Record<string, string> } {
  const info = resolveEndpointConninfo(endpoint, env);
  const otherSecrets = [...(info.parsed?.params.keys() ?? [])].filter((key) => SECRET_KEYWORDS.has(key) && key !== 'password');
  if (otherSecrets.length > 0) {
    throw new UsageError(`The ${endpoint.side} connection string holds ${otherSecrets.join(', ')}, which pg_dump and psql ` +
      'could only be given on their command line, where other users can read it.', {
      hint: 'Put it in a service file only you can read (service=NAME with PGSERVICEFILE, or ~/.pg_service.conf), ' +
        'or use a private key without a passphrase (chmod 600).',
    });
  }
  const args = info.parsed ? ['--dbname', info.parsed.withoutSecrets, '--no-password'] : ['--no-password'];
  return { args, env: info.password === undefined ? {} : { PGPASSWORD: info.password } };
}

/** A tool's command line as the operator can paste it (src/core/shell.ts quotes every argument). */
export function formatCommand(tool: string, args: string[], stdoutFile?: string): string {
  return formatCommandLine([tool, ...args]) + (stdoutFile ? ` > ${shellQuote(stdoutFile)}` : '');
}

export interface RunOptions {
  /** Write stdout to this file (atomically, with this mode); otherwise stdout is returned. */
  stdoutFile?: string;
  fileMode?: number;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Called with each stderr line as it arrives (psql --echo-errors, pg_dump warnings). */
  onStderrLine?: (line: string) => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Run a tool to completion. A non-zero exit becomes a MigrateError quoting the tool's stderr. */
export async function runPgTool(tool: PgTool, args: string[], options: RunOptions = {}): Promise<RunResult> {
  if (options.stdoutFile) await removeStaleTempFiles(options.stdoutFile); // a killed earlier run's
  const temp = options.stdoutFile ? tempPathFor(options.stdoutFile) : undefined;
  const child = spawn(tool.path, args, {
    // The user's PGAPPNAME wins, as it does for our own sessions.
    env: { ...process.env, ...options.env, PGAPPNAME: process.env.PGAPPNAME || 'migrate' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdoutChunks: Buffer[] = [];
  const fileStream = temp ? createWriteStream(temp, { mode: options.fileMode ?? 0o644 }) : undefined;
  if (fileStream) child.stdout.pipe(fileStream);
  else child.stdout.on('data', (chunk: Buffer) => stdoutChunks.push(chunk));

  let stderr = '';
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) options.onStderrLine?.(line);
  });

  const onAbort = (): void => { child.kill('SIGTERM'); };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const [code, signalName] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  options.signal?.removeEventListener('abort', onAbort);
  if (pending) options.onStderrLine?.(pending);
  if (fileStream && !fileStream.closed) await once(fileStream, 'close');

  if (code !== 0) {
    if (temp) await rm(temp, { force: true });
    if (options.signal?.aborted) throw new InterruptedError(`${tool.name} was interrupted.`);
    const tail = stderr.trim().split('\n').slice(-15).join('\n');
    throw new MigrateError(
      `${tool.name} failed (${signalName ? `killed by ${signalName}` : `exit ${code}`})${tail ? `:\n${tail}` : '.'}`);
  }
  if (temp && options.stdoutFile) await rename(temp, options.stdoutFile);
  return { stdout: Buffer.concat(stdoutChunks).toString('utf8'), stderr };
}
