import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, MigrateError } from '../../src/core/errors.js';
import {
  STATE_VERSION, StateStore, acquireLock, emptyState, readLock, readState, recordStepOutcome, stateFile, writeState,
} from '../../src/core/state.js';

let dir: string;
beforeEach(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'migrate-state-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

async function errorOf(promise: Promise<unknown>): Promise<MigrateError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MigrateError);
    return error as MigrateError;
  }
  throw new Error('expected an error');
}

describe('state file', () => {
  it('is missing: readState says undefined and a store starts empty', async () => {
    expect(await readState(dir)).toBeUndefined();
    const store = await StateStore.open(dir, 'wizard');
    expect(store.state.steps).toEqual({});
    expect(store.step('backfill').status).toBe('pending');
    await store.release();
  });

  it('round-trips answers and step outcomes, atomically, without passwords', async () => {
    const store = await StateStore.open(dir, 'wizard');
    await store.setAnswers({ source: 'postgres://app:s3cret@db:5432/prod', target: 'host=t user=x password=hunter2 dbname=y' });
    await store.markStep('preflight', 'running');
    await store.markStep('preflight', 'done', { message: 'all checks passed', outcome: { warnings: 1 } });
    await store.release();
    const text = await readFile(stateFile(dir), 'utf8');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('hunter2');
    const state = await readState(dir);
    expect(state?.version).toBe(STATE_VERSION);
    expect(state?.answers.source).toBe('postgres://app@db:5432/prod');
    expect(state?.answers.target).toBe('host=t user=x dbname=y');
    expect(state?.steps.preflight).toMatchObject({ status: 'done', message: 'all checks passed', outcome: { warnings: 1 } });
    expect(state?.steps.preflight?.startedAt).toBeTypeOf('string');
    expect(state?.steps.preflight?.finishedAt).toBeTypeOf('string');
    // Atomic writes leave no temp files behind; the lock is gone after release.
    expect((await readdir(dir)).sort()).toEqual(['state.json']);
  });

  it('is corrupt JSON: a clear MigrateError, never a crash', async () => {
    await writeFile(stateFile(dir), '{"version": 1, "steps": {');
    const error = await errorOf(readState(dir));
    expect(error.message).toMatch(/state file .* is damaged: it is not valid JSON/);
    expect(error.hint).toMatch(/move it aside/);
    expect(error.exitCode).toBe(ExitCode.usage); // README: a corrupt state file is bad input, exit 2
  });

  it('has wrong fields: every problem named with its path', async () => {
    await writeFile(stateFile(dir), JSON.stringify({ ...emptyState(), steps: { backfill: { status: 'flying' } },
      answers: { tables: [{ table: 42 }] } }));
    const error = await errorOf(readState(dir));
    expect(error.message).toContain('steps.backfill.status');
    expect(error.message).toContain('answers.tables[0].table');
  });

  it('comes from a newer version: says to upgrade', async () => {
    await writeFile(stateFile(dir), JSON.stringify({ ...emptyState(), version: STATE_VERSION + 1, future: true }));
    const error = await errorOf(readState(dir));
    expect(error.message).toMatch(/written by a newer migrate \(state version 2/);
    expect(error.hint).toMatch(/Upgrade migrate/);
    expect(error.exitCode).toBe(ExitCode.usage);
  });

  it('is locked by another live run: names the holder', async () => {
    // A live process that is not us holds the lock.
    const sleeper = spawn('sleep', ['30']);
    try {
      await writeFile(path.join(dir, '.lock'), JSON.stringify({ pid: sleeper.pid, host: os.hostname(),
        command: 'wizard', startedAt: '2024-01-01T00:00:00.000Z' }));
      const error = await errorOf(StateStore.open(dir, 'resume'));
      expect(error.message).toContain(`in use by another run: \`migrate wizard\` (pid ${sleeper.pid}`);
      expect(error.hint).toMatch(/Wait for it to finish/);
      await expect(recordStepOutcome(dir, 'schema', { status: 'done' })).rejects.toThrow(/in use by another run/);
    } finally {
      sleeper.kill();
    }
  });

  it('has a stale lock (dead pid on this host): takes it over', async () => {
    const dead = spawn('true');
    await new Promise((resolve) => dead.on('exit', resolve));
    await writeFile(path.join(dir, '.lock'), JSON.stringify({ pid: dead.pid, host: os.hostname(),
      command: 'wizard', startedAt: '2024-01-01T00:00:00.000Z' }));
    const lock = await acquireLock(dir, 'resume');
    expect(lock.replaced?.pid).toBe(dead.pid);
    expect((await readLock(dir))?.pid).toBe(process.pid);
    await lock.release();
    expect(await readLock(dir)).toBeUndefined();
  });

  it('refuses a lock from another host, with a hint to remove it by hand', async () => {
    await writeFile(path.join(dir, '.lock'), JSON.stringify({ pid: 1, host: 'elsewhere.example', command: 'wizard',
      startedAt: '2024-01-01T00:00:00.000Z' }));
    const error = await errorOf(acquireLock(dir, 'resume'));
    expect(error.hint).toMatch(/delete .*\.lock/);
  });

  it('recordStepOutcome creates or updates the file for subcommands', async () => {
    await recordStepOutcome(dir, 'schema', { status: 'done', message: 'loaded', data: { tables: 3 } });
    await recordStepOutcome(dir, 'backfill', { status: 'interrupted' });
    const state = await readState(dir);
    expect(state?.steps.schema).toMatchObject({ status: 'done', message: 'loaded', outcome: { tables: 3 } });
    expect(state?.steps.backfill?.status).toBe('interrupted');
    expect(await readLock(dir)).toBeUndefined();
  });

  it('writeState keeps the file readable by its owner only', async () => {
    await writeState(dir, emptyState());
    const { stat } = await import('node:fs/promises');
    expect((await stat(stateFile(dir))).mode & 0o777).toBe(0o600);
  });
});
