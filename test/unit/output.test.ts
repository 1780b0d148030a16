/** The --json contract's one writer (src/cli/output.ts): modes, error documents, one document at most. */
import { CommanderError } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { errorDocument, outputModeFromArgv } from '../../src/cli/output.js';
import type * as Output from '../../src/cli/output.js';
import { MigrateError, UsageError } from '../../src/core/errors.js';

describe('outputModeFromArgv', () => {
  it('reads --json and --json-events, not after --', () => {
    expect(outputModeFromArgv(['candidates'])).toBe('text');
    expect(outputModeFromArgv(['candidates', '--json'])).toBe('json');
    expect(outputModeFromArgv(['candidates', '--json-events'])).toBe('json-events');
    expect(outputModeFromArgv(['candidates', '--json', '--json-events'])).toBe('json-events');
    expect(outputModeFromArgv(['candidates', '--', '--json'])).toBe('text');
  });
});

describe('errorDocument', () => {
  it('names the exit code and keeps the hint', () => {
    expect(errorDocument(new UsageError('bad', { hint: 'do this' }), 2)).toEqual({
      error: { code: 'usage', message: 'bad', hint: 'do this', exitCode: 2 } });
    expect(errorDocument(new MigrateError('broke'), 1).error).toMatchObject({ code: 'failed', hint: null });
  });

  it('adds the cause when it says more', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(errorDocument(new MigrateError('Cannot reach the source.', { cause }), 1).error.cause).toContain('ECONNREFUSED');
  });

  it('strips Commander\'s prefix; marks anything else unexpected', () => {
    const parse = new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'");
    expect(errorDocument(parse, 2).error).toEqual({ code: 'usage', message: "unknown option '--x'", hint: null, exitCode: 2 });
    expect(errorDocument(new TypeError('oops'), 1).error).toMatchObject({ code: 'unexpected', message: 'oops' });
  });
});

describe('finishOutput', () => {
  afterEach(() => { vi.restoreAllMocks(); vi.resetModules(); });

  /**
   * A fresh module (its state is per process) with its own error classes (instanceof is per module
   * instance), and what it writes on stdout.
   */
  async function fresh(): Promise<{ out: typeof Output; Failure: typeof MigrateError; written: () => string }> {
    vi.resetModules();
    const out = await import('../../src/cli/output.js');
    const { MigrateError: Failure } = await import('../../src/core/errors.js');
    const chunks: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => { chunks.push(String(chunk)); return true; });
    return { out, Failure, written: () => chunks.join('') };
  }

  it('writes the held result once, or the error with the result beside it', async () => {
    const { out, Failure, written } = await fresh();
    out.setOutputMode('json');
    out.writeResult({ ok: false, checks: [] }, () => 'text');
    expect(written()).toBe('');
    out.finishOutput(1, new Failure('blocked'));
    out.finishOutput(1, new Failure('again'));
    expect(JSON.parse(written())).toEqual({ ok: false, checks: [], error: { code: 'failed', message: 'blocked', hint: null, exitCode: 1 } });
  });

  it('puts an array result under `result` next to the error; --json-events writes one line', async () => {
    const { out, Failure, written } = await fresh();
    out.setOutputMode('json-events');
    out.writeResult([1, 2], () => 'text');
    out.finishOutput(3, new Failure('differs'));
    expect(written().split('\n')).toHaveLength(2);
    expect(JSON.parse(written())).toMatchObject({ result: [1, 2], error: { message: 'differs' } });
  });
});
