/**
 * The --json contract (README "Machine-readable output"): for every subcommand, stdout is exactly
 * one JSON document — the result, or `{ "error": { code, message, hint, exitCode } }` with the exit
 * code the process ends with; events are NDJSON on stderr, or on stdout with --json-events.
 * Each command runs in its cheapest configuration: some succeed, some fail on bad input, which
 * exercises the error document just as well.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/core/local-cluster.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

interface ErrorDocument { error: { code: string; message: string; hint: string | null; exitCode: number } }

type Document = Record<string, unknown> & Partial<ErrorDocument>;

/** The whole of stdout must parse; a non-zero exit must come with its error document. */
function documentOf(r: CliResult): Document {
  const doc = JSON.parse(r.stdout) as Document;
  if (r.code !== 0) {
    expect(doc.error, r.stdout).toMatchObject({ code: expect.any(String), message: expect.any(String), exitCode: r.code });
    expect(doc.error?.hint === null || typeof doc.error?.hint === 'string').toBe(true);
  } else {
    expect(doc.error, r.stdout).toBeUndefined();
  }
  return doc;
}

function errorOf(r: CliResult): ErrorDocument['error'] {
  const { error } = documentOf(r);
  if (!error) throw new Error(`no error document: ${r.stdout}`);
  return error;
}

/** Every line of stderr that looks like JSON is one NDJSON event. */
function eventsOn(stream: string): { type: string; at: string }[] {
  return stream.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { type: string; at: string });
}

describe('--json: one document on stdout', () => {
  let dbs: TestDatabases;
  let tmp: string;
  const dir = (): string => path.join(tmp, 'migration');

  beforeAll(async () => {
    dbs = await createDatabases('json_contract');
    tmp = mkdtempSync(path.join(os.tmpdir(), 'migrate-json-contract-'));
    await sql(dbs.source, `CREATE TABLE public.metrics (time timestamptz NOT NULL, value float8);
      INSERT INTO public.metrics SELECT '2024-01-01'::timestamptz + g * interval '1 minute', g FROM generate_series(1, 100) g;`);
  });

  afterAll(async () => {
    await dbs.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const conn = (): string[] => ['--source', dbs.source, '--target', dbs.target];
  /** Each subcommand with --json, as cheap as it gets, and the exit codes it may end with. */
  const cases: Record<string, { args: () => string[]; codes: number[] }> = {
    wizard: { args: () => ['wizard', '--json'], codes: [2] }, // takes no --json: a usage error document
    resume: { args: () => ['resume', '--json'], codes: [2] },
    demo: { args: () => ['demo', '--json'], codes: [2] },
    status: { args: () => ['status', '--json', '--dir', dir()], codes: [0] },
    preflight: { args: () => ['preflight', '--json', ...conn(), ...(hasTimescale ? [] : ['--no-require-timescale'])], codes: [0] },
    roles: { args: () => ['roles', '--json', '--dry-run', ...conn(), '--dir', dir()], codes: [0] },
    candidates: { args: () => ['candidates', '--json', '--min-size', '0', '--source', dbs.source], codes: [0] },
    schema: { args: () => ['schema', '--json', '--dry-run', ...conn(), '--dir', dir(), '--table', 'metrics:time'], codes: [0] },
    hypertables: { args: () => ['hypertables', '--json', ...conn()], codes: [2] }, // no --table
    'completion-point': { args: () => ['completion-point', '--json', ...conn(), '--table', 'public.no_such_table'], codes: [2] },
    backfill: { args: () => ['backfill', '--json', ...conn(), '--dir', dir()], codes: [2] }, // nothing to backfill
    validate: { args: () => ['validate', '--json', '--user-triggers', 'skip', ...conn()], codes: [2] }, // without --repair
    sequences: { args: () => ['sequences', '--json', '--dry-run', ...conn()], codes: [0] },
    readiness: { args: () => ['readiness', '--json', '--runs', '2', ...conn()], codes: [2] }, // without --queries
    clean: { args: () => ['clean', '--json', '--dry-run', '--target', dbs.target], codes: [0] }, // clean takes no --source
  };

  it('covers every subcommand the CLI has', async () => {
    const help = await runCli(['--help']);
    const commands = help.stdout.slice(help.stdout.indexOf('Commands:')).split('\n').slice(1)
      .map((line) => /^ {2}([a-z-]+)/.exec(line)?.[1]).filter((name): name is string => name !== undefined && name !== 'help');
    expect(commands.sort()).toEqual(Object.keys(cases).sort());
  });

  for (const [name, { args, codes }] of Object.entries(cases)) {
    it(`${name} --json`, async () => {
      const r = await runCli(args());
      expect(codes, `exit ${r.code}\n${r.stdout}\n${r.stderr}`).toContain(r.code);
      documentOf(r);
      // Whatever went to stderr as JSON is an event, each on its own line.
      for (const event of eventsOn(r.stderr)) expect(event.type).toEqual(expect.any(String));
    });
  }

  it('a success: the result alone on stdout, its events as NDJSON on stderr', async () => {
    const r = await runCli(['roles', '--json', '--dry-run', ...conn(), '--dir', dir()]);
    expect(r.code, r.stderr).toBe(0);
    expect(documentOf(r)).toMatchObject({ dryRun: true });
    const commands = eventsOn(r.stderr).filter((e) => e.type === 'command');
    expect(commands.map((e) => (e as unknown as { command: string }).command).join('\n')).toMatch(/pg_dumpall --roles-only/);
    expect(commands.every((e) => !Number.isNaN(Date.parse(e.at)))).toBe(true);
  });

  it('a failure: an unreachable server gives the error document with the exit code', async () => {
    const port = await freePort();
    const r = await runCli(['candidates', '--json', '--source', `postgres://postgres@127.0.0.1:${port}/postgres`]);
    expect(r.code).toBe(1);
    const error = errorOf(r);
    expect(error).toMatchObject({ code: 'failed', exitCode: 1 });
    expect(error.message).toContain('Cannot reach the source');
    expect(error.hint).toContain('--source');
  });

  it('a parse error is a document too', async () => {
    const r = await runCli(['candidates', '--json', '--min-size']);
    expect(r.code).toBe(2);
    expect(errorOf(r)).toMatchObject({ code: 'usage', exitCode: 2, hint: null });
  });

  it('a result that fails afterwards carries `error` beside its members', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'migrate-empty-bin-'));
    try {
      // No client tools on PATH: preflight blocks (exit 1) after building its report.
      const r = await runCli(['preflight', '--json', ...conn(), '--no-require-timescale'],
        { env: { PATH: empty, PG_BINDIR: empty } });
      expect(r.code, r.stderr).toBe(1);
      const doc = documentOf(r);
      expect(doc.checks).toEqual(expect.any(Array));
      expect(errorOf(r).message).toContain('block');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('--json-events: stdout is NDJSON, the result its last line', async () => {
    const r = await runCli(['roles', '--json-events', '--dry-run', ...conn(), '--dir', dir()]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.slice(0, -1).every((e) => typeof e.type === 'string')).toBe(true);
    expect(lines.at(-1)).toMatchObject({ dryRun: true });
    expect(eventsOn(r.stderr)).toEqual([]);
  });

  it('Ctrl-C twice still writes the error document (exit 130)', async () => {
    // A server that accepts and never answers: the command waits in connect until interrupted.
    const sockets: net.Socket[] = [];
    let connected!: () => void;
    const reached = new Promise<void>((resolve) => { connected = resolve; });
    const server = net.createServer((socket) => { sockets.push(socket); connected(); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const r = await runCli(['candidates', '--json', '--source', `postgres://postgres@127.0.0.1:${port}/postgres`], {
        onSpawn: (child) => {
          void reached.then(async () => {
            child.kill('SIGINT');
            await new Promise((resolve) => setTimeout(resolve, 300));
            child.kill('SIGINT');
          });
        },
        timeoutMs: 60_000,
      });
      expect(r.code, r.stderr).toBe(130);
      expect(errorOf(r)).toMatchObject({ code: 'interrupted', exitCode: 130 });
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });
});
