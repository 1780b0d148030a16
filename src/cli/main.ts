/**
 * The CLI entry point and its one error boundary: the only place that decides the exit code.
 * Commands are registered thinly; each action lazy-imports its step so `migrate --help` is instant.
 */
import { Command, CommanderError } from 'commander';
import chalk from 'chalk';
import { readFileSync } from 'node:fs';
import { ExitCode, MigrateError, describeError } from '../core/errors.js';
import { registerCommands } from './commands/index.js';
import { finishOutput, outputModeFromArgv, setOutputMode } from './output.js';

/** package.json's version: this file is src/cli/main.ts, or dist/cli/main.js once built, two levels below it. */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

export function buildProgram(): Command {
  const program = new Command('migrate')
    .description('Move a PostgreSQL or TimescaleDB database to TimescaleDB with minutes of downtime (dual-write and backfill).')
    .version(packageVersion())
    .showHelpAfterError('(run `migrate --help` or `migrate <command> --help` for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  registerCommands(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message already; --help and --version exit 0.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof MigrateError) {
    process.stderr.write(`${chalk.red('error:')} ${error.message}\n`);
    const cause = error.cause;
    if (cause instanceof Error && !error.message.includes(cause.message) && (cause as { code?: string }).code) {
      process.stderr.write(`  cause: ${describeError(cause)}\n`);
    }
    if (error.hint) process.stderr.write(`${chalk.cyan('next:')} ${error.hint}\n`);
    return error.exitCode;
  }
  process.stderr.write(`${chalk.red('error:')} ${describeError(error)}\n`);
  if (process.env.MIGRATE_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.stderr.write(`${chalk.cyan('next:')} this is unexpected; rerun with MIGRATE_DEBUG=1 for a stack trace and report it.\n`);
  return ExitCode.failed;
}

/**
 * A reader that goes away (`migrate backfill --help | head -1`, `… --dry-run | head`) makes the
 * next write to stdout fail with EPIPE; unhandled, Node prints a stack trace and exits 1. What was
 * left to print has nobody to read it: drop it quietly and let the command end with its own code.
 */
function ignoreClosedStdout(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.stdout.write = (() => true) as typeof process.stdout.write;
  });
}

export async function main(argv: string[] = process.argv): Promise<number> {
  ignoreClosedStdout();
  // Guessed from the raw arguments so that even a parse error is a JSON document (output.ts).
  setOutputMode(outputModeFromArgv(argv.slice(2)));
  try {
    await buildProgram().parseAsync(argv);
    const code = typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
    finishOutput(code);
    return code;
  } catch (error) {
    const code = reportError(error);
    // --help and --version are text, whatever else was given.
    if (!(error instanceof CommanderError && error.exitCode === 0)) finishOutput(code, error);
    return code;
  }
}

// Let stdout drain (large JSON, SQL) before exiting with the code.
main().then((code) => { process.exitCode = code; });
