/**
 * describeError labels only what PostgreSQL sent as a SQLSTATE; Node's system errors (EPIPE,
 * ENOENT…) keep their own code (issue #7 item 13b: "(SQLSTATE EPIPE)"). Real errors on both sides:
 * one from the test cluster, system errors from a real pipe and file.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { MigrateError, describeError, isPgError } from '../../src/core/errors.js';
import { clusterUrl } from '../helpers/databases.js';

async function serverError(text: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: clusterUrl('source') });
  await client.connect();
  try {
    return await client.query(text).then(() => undefined, (error: unknown) => error);
  } finally {
    await client.end();
  }
}

/** Write into a pipe whose reader has closed it: a real EPIPE. */
async function epipe(): Promise<unknown> {
  const child = spawn('sh', ['-c', 'exec 0<&-; sleep 5'], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    return await new Promise((resolve) => {
      child.stdin.on('error', resolve);
      const write = (): void => { if (!child.stdin.destroyed) { child.stdin.write(Buffer.alloc(65536)); setTimeout(write, 10); } };
      write();
    });
  } finally {
    child.kill();
    await once(child, 'exit');
  }
}

describe('describeError', () => {
  it('shows SQLSTATE, detail and hint for an error the server sent', async () => {
    const error = await serverError('SELECT 1/0');
    expect(isPgError(error)).toBe(true);
    expect(describeError(error)).toBe('division by zero (SQLSTATE 22012)');
    const unique = await serverError(`CREATE TEMP TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1), (1)`);
    expect(describeError(unique)).toBe('duplicate key value violates unique constraint "u_pkey" (SQLSTATE 23505)\n' +
      '  detail: Key (id)=(1) already exists.');
  });

  it('never calls a system error code a SQLSTATE', async () => {
    const pipe = await epipe();
    expect((pipe as { code?: string }).code).toBe('EPIPE');
    expect(isPgError(pipe)).toBe(false);
    expect(describeError(pipe)).toBe('write EPIPE');

    const missing = await readFile('/nonexistent/migrate').catch((e: unknown) => e);
    expect(isPgError(missing)).toBe(false);
    expect(describeError(missing)).toBe((missing as Error).message); // it names ENOENT already

    // A system error whose message does not name its code gets it in parentheses, not as a SQLSTATE.
    const bare = Object.assign(new Error('socket hang up'), { code: 'EPERM' });
    expect(describeError(bare)).toBe('socket hang up (EPERM)');
    expect(describeError(new MigrateError('plain'))).toBe('plain');
  });
});
