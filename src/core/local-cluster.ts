/**
 * Throwaway PostgreSQL clusters for the tests and `migrate demo`: initdb into a temp directory, a free port on
 * 127.0.0.1, pg_ctl start; stop and remove afterwards. When we run as root the server runs as the
 * `postgres` user (PostgreSQL refuses to run as root).
 *
 * Binaries: PG_BINDIR, else `pg_config --bindir`, else the newest Debian PostgreSQL.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const CLUSTER_PASSWORD = 'test-secret-pw';

export interface Cluster {
  port: number;
  dataDir: string;
  binDir: string;
  hasTimescale: boolean;
  /** postgres://postgres:…@127.0.0.1:port/db */
  url(database?: string, user?: string, password?: string): string;
  stop(): void;
}

export function findBinDir(): string {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const dir = pgConfig.status === 0 ? pgConfig.stdout.trim() : '';
  if (dir && existsSync(path.join(dir, 'initdb'))) return dir;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const candidate = path.join(root, version, 'bin');
    if (existsSync(path.join(candidate, 'initdb'))) return candidate;
  }
  throw new Error('No PostgreSQL server binaries found: install postgresql (apt-get install -y postgresql) or set PG_BINDIR.');
}

/** Whether timescaledb.so is installed for the PostgreSQL whose binaries are in binDir. */
export function timescaleInstalled(binDir: string): boolean {
  const pgConfig = path.join(binDir, 'pg_config');
  const tool = existsSync(pgConfig) ? pgConfig : 'pg_config';
  const result = spawnSync(tool, ['--pkglibdir'], { encoding: 'utf8' });
  const libDir = result.status === 0 ? result.stdout.trim() : path.join(binDir, '..', 'lib');
  return existsSync(path.join(libDir, 'timescaledb.so'));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function runAsServerUser(binary: string, args: string[]): void {
  const [command, commandArgs] = asRoot
    ? ['runuser', ['-u', 'postgres', '--', binary, ...args]]
    : [binary, args];
  const result = spawnSync(command, commandArgs as string[], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${path.basename(binary)} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

export interface StartOptions {
  name: string;
  /** Preload TimescaleDB when it is installed (the target). */
  timescale?: boolean;
  /**
   * Keep the cluster in this directory instead of a fresh temp dir: a cluster already initialised
   * there is started again (with its data), not re-created. Used by `npm run bench` to reuse data.
   */
  baseDir?: string;
  /** stop() shuts the server down but leaves the directory, so the next start reuses it. */
  keep?: boolean;
  /**
   * Only for a new cluster: files to write into the data directory (certificates, keys; mode 0600,
   * owned by the server's user), lines to append to postgresql.conf (`ssl = on`), and lines that
   * replace pg_hba.conf. Nothing changes when they are absent.
   */
  files?: Record<string, string | Buffer>;
  conf?: string[];
  hba?: string[];
}

export async function startCluster(options: StartOptions): Promise<Cluster> {
  const binDir = findBinDir();
  const hasTimescale = Boolean(options.timescale) && timescaleInstalled(binDir);
  const base = options.baseDir ?? mkdtempSync(path.join(os.tmpdir(), `migrate-${options.name}-`));
  const dataDir = path.join(base, 'data');
  const reuse = options.baseDir !== undefined && existsSync(path.join(dataDir, 'PG_VERSION'));
  if (!reuse) {
    initCluster(binDir, base, dataDir);
    configureCluster(dataDir, options);
  }
  // A kept cluster whose last run died without stopping it is still running: stop our own server
  // (it lives in our directory) so it can start again on a fresh port.
  if (reuse && existsSync(path.join(dataDir, 'postmaster.pid'))) {
    try { runAsServerUser(path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop']); } catch { /* not running */ }
  }
  const port = await freePort();
  const settings = [
    `-c listen_addresses=127.0.0.1`, `-c port=${port}`, `-c unix_socket_directories=${base}`,
    '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=60',
    '-c shared_buffers=128MB', '-c max_wal_size=2GB', '-c TimeZone=Europe/Berlin',
  ];
  if (hasTimescale) {
    settings.push('-c shared_preload_libraries=timescaledb', '-c timescaledb.telemetry_level=off',
      '-c max_worker_processes=16');
  }
  runAsServerUser(path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-l', path.join(base, 'server.log'), '-w', '-t', '60',
    '-o', settings.join(' '), 'start']);
  let stopped = false;
  return {
    port,
    dataDir,
    binDir,
    hasTimescale,
    url(database = 'postgres', user = 'postgres', password = CLUSTER_PASSWORD) {
      return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      // A kept cluster stops cleanly (-m fast) so its data is intact for the next start.
      try {
        runAsServerUser(path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', options.keep ? 'fast' : 'immediate', '-w', 'stop']);
      } finally {
        if (!options.keep) rmSync(base, { recursive: true, force: true });
      }
    },
  };
}

function serverUser(): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  };
}

function configureCluster(dataDir: string, options: StartOptions): void {
  const owner = asRoot ? serverUser() : undefined;
  const write = (name: string, content: string | Buffer): void => {
    const file = path.join(dataDir, name);
    writeFileSync(file, content, { mode: 0o600 });
    // The server refuses a key file that others can read or that it does not own.
    if (owner) chownSync(file, owner.uid, owner.gid);
  };
  for (const [name, content] of Object.entries(options.files ?? {})) write(name, content);
  if (options.hba) write('pg_hba.conf', `${options.hba.join('\n')}\n`);
  if (options.conf) appendFileSync(path.join(dataDir, 'postgresql.conf'), `\n${options.conf.join('\n')}\n`);
}

function initCluster(binDir: string, base: string, dataDir: string): void {
  mkdirSync(base, { recursive: true });
  const pwFile = path.join(base, 'pwfile');
  writeFileSync(pwFile, `${CLUSTER_PASSWORD}\n`);
  if (asRoot) {
    const { uid, gid } = serverUser();
    chmodSync(base, 0o755);
    chownSync(base, uid, gid);
    chownSync(pwFile, uid, gid);
  }
  runAsServerUser(path.join(binDir, 'initdb'), [
    '-D', dataDir, '-U', 'postgres', '--pwfile', pwFile, '--auth-local=trust', '--auth-host=scram-sha-256',
    '-E', 'UTF8', '--locale=C', '--no-sync',
  ]);
}
