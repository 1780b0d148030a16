/**
 * Option groups shared by the commands, so every command spells a flag the same way, and the
 * conversion of raw flags into typed, validated step inputs.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_DIR } from '../core/files.js';
import { parseTableSpec, type TableSpec } from '../core/identifiers.js';
import { COMMAND_FLAGS } from '../core/suggest.js';

export interface ConnectionFlags { source?: string; target?: string }
export interface DirFlags { dir: string }
export interface DryRunFlags { dryRun?: boolean }
export interface JsonFlags { json?: boolean; jsonEvents?: boolean }
export interface TableFlags { table?: string[] }
export type CommonFlags = ConnectionFlags & DirFlags & DryRunFlags & JsonFlags;

/** Commander collector for repeatable flags: `--table a --table b` → ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function withDirOption(command: Command): Command {
  return command.addOption(new Option('--dir <path>', 'migration directory for dumps, plans and state').default(DEFAULT_DIR));
}

export function withDryRunOption(command: Command): Command {
  return command.option('--dry-run', 'print the SQL and shell commands that would run; change nothing');
}

export function withJsonOption(command: Command): Command {
  return command.option('--json', 'machine-readable output: one JSON document on stdout (the result or an error); NDJSON events on stderr')
    .option('--json-events', 'like --json, with the NDJSON events on stdout, the result as the last line');
}

/**
 * --user-triggers, for the commands that backfill (backfill; validate --repair). The choices are
 * user-triggers.ts's USER_TRIGGER_CHOICES, spelled out here so option parsing does not load pg.
 */
export function userTriggersOption(): Option {
  return new Option('--user-triggers <how>', 'what the tables\' user triggers do for copied rows: skip (default: they do not ' +
    'fire; needs the right to set session_replication_role), fire, or disable (also for dual-writes, until the backfill ends)')
    .choices(['skip', 'fire', 'disable']);
}

export function withTableOption(command: Command, description: string): Command {
  return command.option('-t, --table <schema.table[:column]>', description, collect);
}

/**
 * The shared flags this command uses (core/suggest.ts COMMAND_FLAGS), and no others: connections,
 * --dir, --dry-run, --json. --table is added with withTableOption (its description is the command's).
 */
export function withSharedOptions(command: Command): Command {
  const flags = COMMAND_FLAGS[command.name()];
  if (!flags) throw new Error(`No shared flags listed for command ${command.name()}.`);
  if (flags.includes('source')) {
    command.option('--source <connstr>', 'source database connection string (default: $SOURCE, then libpq PG* defaults)');
  }
  if (flags.includes('target')) {
    command.option('--target <connstr>', 'target database connection string (default: $TARGET, then libpq PG* defaults)');
  }
  if (flags.includes('dir')) withDirOption(command);
  if (flags.includes('dry-run')) withDryRunOption(command);
  if (flags.includes('json')) withJsonOption(command);
  return command;
}

/** Parse every --table flag, reporting all unreadable ones at once (parseTableSpec throws UsageErrors). */
export function parseTables(values: string[] | undefined): TableSpec[] {
  return (values ?? []).map((value) => parseTableSpec(value));
}
