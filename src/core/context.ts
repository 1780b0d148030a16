/**
 * What every step receives. Steps never print: they emit events, and the CLI decides how to show
 * them (spinner and live line on a TTY, plain lines otherwise, NDJSON with --json).
 */
import type { Endpoint } from './connection.js';
import type { RepeatFlags } from './suggest.js';

export type MigrateEvent =
  /** Something the operator should know; `detail` lines are indented under it. */
  | { type: 'info'; message: string; detail?: string[] }
  | { type: 'warn'; message: string; detail?: string[] }
  /** A phase starts (a spinner on a TTY); `done` ends it. */
  | { type: 'phase'; id: string; message: string }
  | { type: 'done'; id: string; message: string; ok?: boolean }
  /** With --dry-run: SQL that would run, against which side. */
  | { type: 'sql'; side: 'source' | 'target'; sql: string; params?: unknown[] }
  /** With --dry-run: a shell command that would run (passwords already redacted). */
  | { type: 'command'; command: string }
  /** Backfill-style progress, rendered as a live line. */
  | { type: 'progress'; id: string; table?: string; rowsDone: number; rowsTotal?: number; bytesDone?: number;
      unitsDone?: number; unitsTotal?: number; message?: string };

export type Emit = (event: MigrateEvent) => void;

export interface StepContext {
  source: Endpoint;
  target: Endpoint;
  /** The migration directory (files: roles.sql, dump.sql, state.json, …). */
  dir: string;
  /** Print what would run; change nothing. */
  dryRun: boolean;
  emit: Emit;
  /** Aborted on Ctrl-C: steps stop at the next safe point. */
  signal: AbortSignal;
  /** The shared flags the command was given, repeated by suggested command lines (suggestCommand). */
  repeat?: RepeatFlags;
}

/** A context for library use and tests: events are collected in `events`. */
export function collectingContext(base: Omit<StepContext, 'emit' | 'signal'> & { signal?: AbortSignal }):
  StepContext & { events: MigrateEvent[] } {
  const events: MigrateEvent[] = [];
  return { ...base, signal: base.signal ?? new AbortController().signal, emit: (e) => events.push(e), events };
}
