/**
 * The CLI entry point and its one error boundary: the only place that decides the exit code.
 * Commands are registered thinly; each action lazy-imports its step so `migrate --help` is instant.
 */
import { Command, CommanderError } from 'commander';
import chalk from 'chalk';
import { readFileSync } from 'node:fs';
import { ExitCode, MigrateError, describeError } from '../core/errors.js';
import { registerCommands } from './commands/index.js';

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

export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (error) {
    return reportError(error);
  }
}

// Let stdout drain (large JSON, SQL) before exiting with the code.
main().then((code) => { process.exitCode = code; });
