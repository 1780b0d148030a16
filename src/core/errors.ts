/**
 * The error hierarchy. Every error that reaches the user is a MigrateError: it says what failed,
 * why, and what to do next (`hint`), and it carries the documented exit code. Only src/cli turns
 * these into a process exit.
 */

/** Documented exit codes (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  differences: 3,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface MigrateErrorOptions {
  /** What to do about it: the command to run next or the thing to fix. */
  hint?: string;
  cause?: unknown;
}

export class MigrateError extends Error {
  readonly exitCode: ExitCodeValue = ExitCode.failed;
  readonly hint: string | undefined;

  constructor(message: string, options: MigrateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** Bad usage or bad input: a flag, a table name, a time value, a plan file. Exit 2. */
export class UsageError extends MigrateError {
  override readonly exitCode = ExitCode.usage;
}

/** Validation found differences between source and target. Exit 3. */
export class DifferencesFoundError extends MigrateError {
  override readonly exitCode = ExitCode.differences;
}

/** The operator interrupted the run (Ctrl-C); work done so far is kept. Exit 130. */
export class InterruptedError extends MigrateError {
  override readonly exitCode = ExitCode.interrupted;
}

/** The subset of node-postgres' DatabaseError fields we show. */
export interface PgErrorFields {
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

/**
 * An error the PostgreSQL server sent (node-postgres' DatabaseError): a five-character SQLSTATE
 * and a severity. Node's system errors have codes too, and EPIPE, EPERM or ENOENT look like a
 * SQLSTATE; they have no severity. (Checked by shape, so this module does not load pg.)
 */
export function isPgError(error: unknown): error is Error & PgErrorFields {
  return error instanceof Error && typeof (error as PgErrorFields).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((error as PgErrorFields).code ?? '') && typeof (error as { severity?: unknown }).severity === 'string';
}

/**
 * "message (SQLSTATE 23505)\n  detail: …\n  hint: …" for a PostgreSQL error; "message (EPIPE)" for a
 * system error whose message does not name its code; the message otherwise.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (!isPgError(error)) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && code !== '' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  const lines = [`${error.message} (SQLSTATE ${error.code})`];
  if (error.detail) lines.push(`  detail: ${error.detail}`);
  if (error.hint) lines.push(`  hint: ${error.hint}`);
  if (error.where) lines.push(`  where: ${error.where}`);
  return lines.join('\n');
}

/** True for failures worth retrying: dropped connections, restarts, serialization failures. */
export function isTransientError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code ?? '';
  if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) return true;
  // 08xxx connection exceptions, 40001 serialization failure, 40P01 deadlock,
  // 57P01..57P03 admin shutdown / crash shutdown / cannot connect now, 57P05 idle-session timeout,
  // 53300 too many connections.
  if (/^08/.test(code) || ['40001', '40P01', '57P01', '57P02', '57P03', '57P05', '53300'].includes(code)) return true;
  return /Connection terminated|connection (was )?(closed|terminated)|Client has encountered a connection error/i
    .test(error.message);
}
