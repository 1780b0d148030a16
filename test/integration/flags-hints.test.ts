/**
 * Issue #11 items 3 and 9: every command takes the shared flags it uses and refuses the others
 * (exit 2); a `next:`/`Next:` line repeats the flags given (--dir, tables, connection strings
 * without their passwords) so that running it as printed works; `migrate --version` is
 * package.json's; and running commands from the checkout leaves nothing in it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_PASSWORD } from '../../src/core/local-cluster.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { createDatabases, sql, type TestDatabases } from '../helpers/databases.js';
import { readStateFile } from '../helpers/migration.js';

type Shared = '--source' | '--target' | '--dir' | '--dry-run' | '--json' | '--table';
const ALL: Shared[] = ['--source', '--target', '--dir', '--dry-run', '--json', '--table'];

/** The README's table of shared options, written out here on purpose (not read from the code under test). */
const TAKES: Record<string, Shared[]> = {
  wizard: ['--source', '--target', '--dir', '--table'],
  resume: ['--source', '--target', '--dir', '--table'],
  status: ['--target', '--dir', '--json'],
  demo: ['--dir'],
  preflight: ['--source', '--target', '--dir', '--json'],
  roles: ['--source', '--target', '--dir', '--dry-run', '--json'],
  candidates: ['--source', '--dir', '--json', '--table'],
  schema: ALL,
  hypertables: ALL,
  'completion-point': ALL,
  backfill: ALL,
  validate: ALL,
  sequences: ['--source', '--target', '--dir', '--dry-run', '--json'],
  readiness: ['--source', '--target', '--dir', '--json', '--table'],
  clean: ['--target', '--dir', '--dry-run', '--json'],
};

const withValue = (flag: Shared): string[] => (flag === '--dry-run' || flag === '--json' ? [flag] : [flag, 'x']);

const checkoutMigration = path.join(repoRoot, 'migration');
const hadCheckoutMigration = existsSync(checkoutMigration);
let tmp: string;
let dbs: TestDatabases;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'migrate-flags-hints-'));
  dbs = await createDatabases('flagshints');
  await sql(dbs.source, `
    CREATE TABLE metrics (time timestamptz NOT NULL, device_id int NOT NULL, value float8);
    INSERT INTO metrics SELECT '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute', g % 5, g FROM generate_series(1, 2000) g;
    CREATE TABLE devices (id int PRIMARY KEY, name text);
    INSERT INTO devices VALUES (1, 'one');
    ANALYZE;`);
});
afterAll(async () => {
  await dbs?.drop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('shared flags per command', () => {
  it('every command is listed (none added without deciding its shared flags)', async () => {
    const r = await runCli(['--help']);
    const listed = [...r.stdout.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(listed.sort()).toEqual(Object.keys(TAKES).sort());
  });

  // A known flag followed by an unknown one: commander names the first option it does not know, so
  // "unknown option '--no-such-flag'" means the shared flag before it was taken.
  it.each(Object.entries(TAKES).flatMap(([command, flags]) => flags.map((flag) => [command, flag] as const)))(
    '%s takes %s', async (command, flag) => {
      const r = await runCli([command, ...withValue(flag), '--no-such-flag']);
      expect(r.stderr).toContain("error: unknown option '--no-such-flag'");
      expect(r.code).toBe(2);
    });

  it.each(Object.entries(TAKES).flatMap(([command, flags]) => ALL.filter((f) => !flags.includes(f)).map((flag) => [command, flag] as const)))(
    '%s refuses %s (exit 2)', async (command, flag) => {
      const r = await runCli([command, ...withValue(flag)]);
      expect(r.stderr).toContain(`error: unknown option '${flag}'`);
      expect(r.code).toBe(2);
    });

  it('the README lists the same flags', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    for (const [command, flags] of Object.entries(TAKES)) {
      const row = readme.split('\n').find((line) => line.startsWith('| `') && line.split('|')[1]?.split(',').map((c) => c.trim())
        .includes(`\`${command}\``) && line.split('|').length === 9);
      expect(row, command).toBeDefined();
      const cells = (row as string).split('|').slice(2, 8).map((c) => c.trim() === '✓');
      expect(ALL.filter((_, i) => cells[i]), command).toEqual(flags);
    }
  });
});

describe('--version', () => {
  it("is package.json's version", async () => {
    const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(manifest.version);
    // The registry's `migrate` is another package; the command keeps its name.
    expect(manifest.name).not.toBe('migrate');
    expect(JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).bin).toEqual({ migrate: 'bin/migrate' });
  });
});

describe('a printed command runs as printed', () => {
  let bin: string;
  beforeAll(() => {
    // `migrate` on PATH: the sources through tsx, as runCli runs them.
    bin = mkdtempSync(path.join(tmp, 'bin-'));
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    writeFileSync(path.join(bin, 'migrate'), `#!/bin/sh\nexec "${process.execPath}" --import "${tsx}" "${path.join(repoRoot, 'src', 'cli', 'main.ts')}" "$@"\n`);
    chmodSync(path.join(bin, 'migrate'), 0o755);
  });

  /** Run `line` through /bin/sh -c in a scratch directory; passwords come from PGPASSWORD, as the hints say. */
  const follow = (line: string, env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } => {
    const cwd = mkdtempSync(path.join(tmp, 'cwd-'));
    const r = spawnSync('/bin/sh', ['-c', line], { cwd, encoding: 'utf8', timeout: 120_000,
      env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: cwd, CI: 'true', NO_COLOR: '1', PGPASSWORD: CLUSTER_PASSWORD, ...env } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it("candidates' Next: line (--dir, --table, --source without its password) loads the schema", async () => {
    const dir = path.join(tmp, 'my migration');
    const r = await runCli(['candidates', '--source', dbs.source, '--dir', dir, '--table', 'metrics', '--min-size', '0']);
    expect(r.code).toBe(0);
    const next = /^Next: (.*)$/m.exec(r.stdout)?.[1] as string;
    expect(next).toContain('migrate schema --table public.metrics:time');
    expect(next).toContain(`--dir '${dir}'`);
    expect(next).toContain('--source postgres://postgres@127.0.0.1:');
    expect(next).not.toContain(CLUSTER_PASSWORD);
    expect(next).not.toContain('--target'); // candidates takes none; TARGET gives it below
    const followed = follow(next, { TARGET: dbs.target });
    expect(followed.stderr).not.toContain('unknown option');
    expect(followed.code).toBe(0);
    const state = await readStateFile(dir) as { steps: Record<string, { status: string }> };
    expect(state.steps.schema?.status).toBe('done');
    // And the schema's own Next: line names the same directory and the --source it was given (TARGET stays in the environment).
    const hypertables = /^Next: (.*)$/m.exec(followed.stdout)?.[1] as string;
    expect(hypertables).toMatch(new RegExp(`^migrate hypertables --table public\\.metrics:time --dir '${dir}' --source postgres://\\S+$`));
  });

  it("an error's next: line repeats --dir, --table and the connections; followed, it fails the same way (not exit 2)", async () => {
    const dir = path.join(tmp, 'cp');
    // The target table is empty (nothing dual-written yet): no completion point can be suggested.
    const r = await runCli(['completion-point', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--table', 'metrics']);
    expect(r.code).toBe(1);
    const hint = /^next: .*`(migrate completion-point [^`]*)`/m.exec(r.stderr)?.[1] as string;
    expect(hint).toBeDefined();
    expect(hint).toContain(`--table public.metrics --dir ${dir} --source postgres://postgres@127.0.0.1:`);
    expect(hint).toContain(' --target postgres://postgres@127.0.0.1:');
    expect(hint).not.toContain(CLUSTER_PASSWORD);
    expect(hint).not.toMatch(/ {2}/);
    const followed = follow(hint);
    expect(followed.stderr).toContain('Dual-writes have not started for public.metrics');
    expect(followed.code).toBe(1);
  });

  it("preflight's Next: line names --dir and both connections", async () => {
    const dir = path.join(tmp, 'pre');
    const r = await runCli(['preflight', '--source', dbs.source, '--target', dbs.target, '--dir', dir, '--no-require-timescale']);
    expect(r.code).toBe(0);
    const next = /Next: (migrate roles.*)$/m.exec(r.stdout)?.[1];
    expect(next).toBe(`migrate roles --dir ${dir} --source ${dbs.source.replace(`:${CLUSTER_PASSWORD}@`, '@')} ` +
      `--target ${dbs.target.replace(`:${CLUSTER_PASSWORD}@`, '@')}`);
    const followed = follow(`${next} --no-load --dry-run`);
    expect(followed.code).toBe(0);
  });
});

describe('the checkout', () => {
  it('holds no ./migration after these runs (every test names a temp --dir)', () => {
    if (hadCheckoutMigration) return; // someone's own ./migration: nothing to tell
    expect(existsSync(checkoutMigration)).toBe(false);
    // It is in .gitignore, so ask git for ignored files too.
    const status = spawnSync('git', ['status', '--porcelain', '--ignored', '--untracked-files=all', '--', 'migration'],
      { cwd: repoRoot, encoding: 'utf8' });
    expect(status.stdout).toBe('');
  });
});
