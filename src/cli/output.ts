/**
 * The --json output contract, in one place (README "Machine-readable output"):
 *
 * - text (default): results as text on stdout, human progress on stderr;
 * - json (--json): stdout holds exactly one JSON document, written once the command ends — its
 *   result, or an error document `{ "error": { code, message, hint, exitCode } }`. A command that
 *   fails after it has its result (preflight blockers, validate differences, readiness not ready)
 *   writes the result with `error` added. Events go to stderr as NDJSON;
 * - json-events (--json-events): the same, but the events go to stdout as NDJSON and the document
 *   is written on one line, last: stdout is NDJSON ending with the result.
 *
 * The document is held back until the end because a command can still fail after printing its
 * result, and a script must never see two documents.
 */
import { CommanderError } from 'commander';
import { ExitCode, MigrateError, describeError } from '../core/errors.js';

export type OutputMode = 'text' | 'json' | 'json-events';

export interface ErrorDocument {
  error: {
    /** usage | failed | differences | interrupted | unexpected: the exit code's name. */
    code: string;
    message: string;
    /** What to do next; null when there is nothing to suggest. */
    hint: string | null;
    exitCode: number;
    /** The underlying error (driver, system), when it adds something to the message. */
    cause?: string;
  };
}

let mode: OutputMode = 'text';
let held: { data: unknown } | undefined;
let written = false;

/**
 * The mode from the raw arguments, before Commander parses them, so that a parse error
 * (an unknown flag, a missing value) is reported as a JSON document too.
 */
export function outputModeFromArgv(argv: string[]): OutputMode {
  const end = argv.indexOf('--');
  const args = end < 0 ? argv : argv.slice(0, end);
  if (args.includes('--json-events')) return 'json-events';
  return args.includes('--json') ? 'json' : 'text';
}

export function setOutputMode(next: OutputMode): void { mode = next; }
export function outputMode(): OutputMode { return mode; }

/** One event as an NDJSON line: on stdout only with --json-events, otherwise on stderr. */
export function writeEvent(event: object): void {
  const line = `${JSON.stringify({ ...event, at: new Date().toISOString() })}\n`;
  (mode === 'json-events' ? process.stdout : process.stderr).write(line);
}

/** The command's result: text at once; in JSON modes held until finishOutput. */
export function writeResult(data: unknown, text: () => string): void {
  if (mode === 'text') process.stdout.write(`${text()}\n`);
  else held = { data };
}

const CODE_NAMES = new Map<number, string>(Object.entries(ExitCode).map(([name, code]) => [code, name]));

export function errorDocument(error: unknown, exitCode: number): ErrorDocument {
  const known = error instanceof MigrateError;
  // Commander's messages start with its own "error: ".
  const message = error instanceof CommanderError ? error.message.replace(/^error:\s*/, '')
    : known ? error.message : describeError(error);
  const cause = known && error.cause instanceof Error && !error.message.includes(error.cause.message)
    ? describeError(error.cause) : undefined;
  return {
    error: {
      code: known || error instanceof CommanderError ? CODE_NAMES.get(exitCode) ?? 'failed' : 'unexpected',
      message,
      hint: known ? error.hint ?? null : error instanceof CommanderError ? null
        : 'this is unexpected; rerun with MIGRATE_DEBUG=1 for a stack trace and report it.',
      exitCode,
      ...(cause !== undefined ? { cause } : {}),
    },
  };
}

/**
 * Write the one document (JSON modes only; once): the held result, the error document, or the
 * result with `error` added when the command failed after producing it. Synchronous writes
 * (stdout is a file or pipe), so it also works right before process.exit.
 */
export function finishOutput(exitCode: number, error?: unknown): void {
  if (mode === 'text' || written) return;
  let document: unknown;
  if (error === undefined) {
    if (!held) return;
    document = held.data;
  } else {
    const failure = errorDocument(error, exitCode);
    const result = held?.data;
    document = result === undefined ? failure
      : typeof result === 'object' && result !== null && !Array.isArray(result) ? { ...result, ...failure }
        : { ...failure, result };
  }
  written = true;
  process.stdout.write(mode === 'json-events' ? `${JSON.stringify(document)}\n` : `${JSON.stringify(document, null, 2)}\n`);
}
