/**
 * Which shared flags each command takes, and the one builder of suggested command lines (`next:`
 * hints, "Next:" lines): a suggestion repeats the connection strings the operator gave (without
 * their passwords) and --dir unless it is the default, each only where the suggested command takes
 * it, so copying the line acts on the same databases and migration. Lines go through
 * formatCommandLine, the one shell-quoting helper.
 */
import path from 'node:path';
import { splitPassword } from './connection.js';
import { DEFAULT_DIR } from './files.js';
import { formatCommandLine } from './shell.js';

export type SharedFlag = 'source' | 'target' | 'dir' | 'dry-run' | 'json' | 'table';

const ALL: readonly SharedFlag[] = ['source', 'target', 'dir', 'dry-run', 'json', 'table'];

/** Every command and the shared flags it uses; it takes no other shared flag (commander refuses them, exit 2). */
export const COMMAND_FLAGS: Readonly<Record<string, readonly SharedFlag[]>> = {
  wizard: ['source', 'target', 'dir', 'table'],
  resume: ['source', 'target', 'dir', 'table'],
  status: ['target', 'dir', 'json'],
  preflight: ['source', 'target', 'dir', 'json'],
  roles: ['source', 'target', 'dir', 'dry-run', 'json'],
  candidates: ['source', 'dir', 'json', 'table'],
  schema: ALL,
  hypertables: ALL,
  'completion-point': ALL,
  backfill: ALL,
  validate: ALL,
  sequences: ['source', 'target', 'dir', 'dry-run', 'json'],
  readiness: ['source', 'target', 'dir', 'json', 'table'],
  clean: ['target', 'dir', 'dry-run', 'json'],
  demo: ['dir'],
};

export function takesFlag(command: string, flag: SharedFlag): boolean {
  return COMMAND_FLAGS[command]?.includes(flag) ?? false;
}

/** The shared flags a command was given, as a suggested command repeats them. */
export interface RepeatFlags {
  /** Connection strings as given on the command line (passwords are removed when a line is built). */
  source?: string | undefined;
  target?: string | undefined;
  /** The migration directory as given (left out of suggestions when it is the default). */
  dir?: string | undefined;
}

/**
 * The flags in `given` that the run repeats: --dir, then `after` (a command's own trailing flags,
 * e.g. --fix), then the connection strings without their passwords.
 */
export function repeatArgs(command: string, given: RepeatFlags | undefined, after: readonly string[] = []): string[] {
  const args: string[] = [];
  const strip = (value: string): string => splitPassword(value).connectionString;
  if (given?.dir !== undefined && takesFlag(command, 'dir') && path.resolve(given.dir) !== path.resolve(DEFAULT_DIR)) {
    args.push('--dir', given.dir);
  }
  args.push(...after);
  if (given?.source !== undefined && takesFlag(command, 'source')) args.push('--source', strip(given.source));
  if (given?.target !== undefined && takesFlag(command, 'target')) args.push('--target', strip(given.target));
  return args;
}

/**
 * `migrate COMMAND ARGS… [--dir D] AFTER… [--source S] [--target T]`, shell-quoted: `args` and
 * `after` are the command's own (tables, --until; --fix, --repair…), the shared flags come from
 * what this run was given.
 */
export function suggestCommand(given: RepeatFlags | undefined, command: string, args: readonly string[] = [],
  after: readonly string[] = []): string {
  return formatCommandLine(['migrate', command, ...args, ...repeatArgs(command, given, after)]);
}
