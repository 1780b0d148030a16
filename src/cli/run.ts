/**
 * Everything a command action needs before it calls its step: endpoints resolved from flags and
 * environment, the migration directory, a renderer for events, and an AbortSignal wired to Ctrl-C.
 * The first Ctrl-C asks the running step to stop at a safe point; a second exits at once.
 */
import { resolveEndpoint } from '../core/connection.js';
import type { StepContext } from '../core/context.js';
import { DEFAULT_DIR, resolveMigrationDir } from '../core/files.js';
import { InterruptedError } from '../core/errors.js';
import { finishOutput, setOutputMode, writeResult } from './output.js';
import { createRenderer, type Renderer } from './render.js';
import type { CommonFlags } from './options.js';

export interface CommandRuntime {
  ctx: StepContext;
  renderer: Renderer;
  json: boolean;
  /** Prompts are allowed: stdin and stdout are TTYs and neither --yes nor CI says otherwise. */
  interactive: boolean;
}

export interface RuntimeOptions {
  /** The command writes files into --dir (not under --dry-run). */
  writesDir?: boolean;
  /**
   * The command records its outcome in <dir>/state.json (not under --dry-run): a damaged or
   * newer-version state file is refused before any work, as by every command that reads it.
   */
  recordsState?: boolean;
  yes?: boolean;
}

export function isInteractive(yes?: boolean): boolean {
  const ci = process.env.CI;
  return Boolean(process.stdin.isTTY && process.stdout.isTTY) && !yes && !(ci && ci !== 'false' && ci !== '0');
}

let interruptHandlerInstalled = false;
const abortController = new AbortController();

function installInterruptHandler(renderer: Renderer): void {
  if (interruptHandlerInstalled) return;
  interruptHandlerInstalled = true;
  process.on('SIGINT', () => {
    if (abortController.signal.aborted) {
      renderer.pause();
      const message = 'Interrupted again: exiting now. `migrate resume` carries on from where this stopped.';
      process.stderr.write(`\n${message}\n`);
      // process.exit skips main's error boundary: a --json reader still gets its document.
      finishOutput(130, new InterruptedError(message));
      process.exit(130);
    }
    renderer.pause();
    process.stderr.write('\nStopping at the next safe point (press Ctrl-C again to exit at once)…\n');
    abortController.abort();
  });
  process.on('SIGTERM', () => abortController.abort());
}

export async function prepareRuntime(flags: Partial<CommonFlags>, options: RuntimeOptions = {}): Promise<CommandRuntime> {
  // --json-events implies --json. The parsed flags settle what main guessed from the raw arguments.
  const json = Boolean(flags.json || flags.jsonEvents);
  setOutputMode(flags.jsonEvents ? 'json-events' : json ? 'json' : 'text');
  const renderer = createRenderer({ json, tty: Boolean(process.stderr.isTTY) });
  const source = resolveEndpoint('source', flags.source);
  const target = resolveEndpoint('target', flags.target);
  const dir = await resolveMigrationDir(flags.dir ?? DEFAULT_DIR, { create: Boolean(options.writesDir && !flags.dryRun) });
  if (options.recordsState && !flags.dryRun) {
    // The same loader and error (exit 2) as status, resume and the wizard; nothing is done before it.
    const { readState } = await import('../core/state.js');
    await readState(dir);
  }
  installInterruptHandler(renderer);
  const ctx: StepContext = {
    source,
    target,
    dir,
    dryRun: Boolean(flags.dryRun),
    emit: (event) => renderer.emit(event),
    signal: abortController.signal,
    repeat: { source: flags.source, target: flags.target, dir: flags.dir },
  };
  return { ctx, renderer, json, interactive: isInteractive(options.yes) };
}

/** The command's result: the given text now, or (--json) the JSON document when the command ends (output.ts). */
export function printResult(runtime: Pick<CommandRuntime, 'renderer'>, data: unknown, text: () => string): void {
  runtime.renderer.pause();
  writeResult(data, text);
}

/**
 * Record a subcommand's outcome in <dir>/state.json so `migrate status` and `migrate resume` know
 * about work done from shell scripts. Never under --dry-run. Recording is bookkeeping: when it cannot
 * be done (the wizard holds the lock, the directory is read-only) the command's real work still
 * stands, so it warns instead of failing.
 */
export async function recordOutcome(runtime: Pick<CommandRuntime, 'ctx'>, stepIds: string[],
  outcome: { status: 'done' | 'failed' | 'skipped' | 'interrupted'; message: string; data?: unknown; startedAt?: string }): Promise<void> {
  const { ctx } = runtime;
  if (ctx.dryRun) return;
  try {
    const { recordStepOutcome } = await import('../core/state.js');
    const { ensureWritableDir } = await import('../core/files.js');
    await ensureWritableDir(ctx.dir);
    for (const stepId of stepIds) await recordStepOutcome(ctx.dir, stepId, outcome);
  } catch (error) {
    ctx.emit({ type: 'warn', message: `Could not record this step in ${ctx.dir}/state.json: ${(error as Error).message}`,
      detail: ['`migrate status` will not show it; the work itself is done.'] });
  }
}
