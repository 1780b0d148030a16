/**
 * Shared by the wizard/resume tests: a source with the demo application, a dual-writing writer
 * that switches on once the hypertables step is recorded, and row-for-row table comparison.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { connect } from '../../src/core/db.js';
import { createDemoApp, demoSize } from '../../src/demo/app.js';
import { startWriter, type DemoWriter } from '../../src/demo/writer.js';
import { sql } from './databases.js';
import { runCli, type CliResult } from './cli.js';

export async function fillSource(url: string, scale: number): Promise<void> {
  const client = await connect({ side: 'source', connectionString: url });
  try {
    await createDemoApp(client, demoSize(scale));
  } finally {
    await client.end();
  }
}

export async function readStateFile(dir: string): Promise<{ steps: Record<string, { status: string }>; answers: Record<string, unknown> } | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The application: writes to the source now, and to both once `dir`'s state says the hypertables exist. */
export async function startApplication(source: string, target: string, dir: string): Promise<DemoWriter> {
  const writer = await startWriter({ source: { side: 'source', connectionString: source },
    target: { side: 'target', connectionString: target }, everyMs: 100, devices: 5 });
  let watching = true;
  void (async () => {
    while (watching) {
      const state = await readStateFile(dir);
      const status = state?.steps.hypertables?.status;
      if (status === 'done' || status === 'skipped') { writer.enableDualWrites(); return; }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    enableDualWrites: () => writer.enableDualWrites(),
    written: writer.written,
    async stop() { watching = false; await writer.stop(); },
  };
}

/** Every row of the table, in a stable order, as text: source and target must match exactly. */
export async function expectSameRows(source: string, target: string, table: string, order: string): Promise<number> {
  const query = `SELECT t::text AS r FROM ${table} t ORDER BY ${order}`;
  const [a, b] = await Promise.all([sql<{ r: string }>(source, query), sql<{ r: string }>(target, query)]);
  expect(b.length).toBe(a.length);
  expect(b.map((x) => x.r)).toEqual(a.map((x) => x.r));
  return a.length;
}

/**
 * An application that starts dual-writing once the wizard's hypertables step is done: `write` runs
 * every `everyMs` from then on, until `stop()` (which waits for the write in flight).
 */
export function dualWriteOnceHypertablesDone(dir: string, write: () => Promise<void>, everyMs = 200): { stop(): Promise<void> } {
  let writing = true;
  const loop = (async () => {
    while (writing) {
      const state = await readStateFile(dir);
      if (state?.steps.hypertables?.status === 'done') await write();
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return { async stop() { writing = false; await loop; } };
}

/**
 * `migrate wizard ARGS` while an application dual-writes with `write` once the hypertables exist
 * (dualWriteOnceHypertablesDone); the application stops when the wizard ends.
 */
export async function wizardWhileDualWriting(args: string[], dir: string, write: () => Promise<void>): Promise<CliResult> {
  const app = dualWriteOnceHypertablesDone(dir, write);
  try {
    return await runCli(['wizard', ...args, '--dir', dir]);
  } finally {
    await app.stop();
  }
}
