/** What `migrate readiness` takes and returns, and what every group of checks receives. */
import type { RecordedPoint, CompletionPointsFile, TimeTablePair } from '../../core/completion-points.js';
import type { Client } from '../../core/db.js';
import type { TableSpec } from '../../core/identifiers.js';
import type { MigrationState } from '../../core/state.js';
import type { LedgerPlan } from '../backfill/ledger.js';

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skipped';

export interface Check {
  id: string;
  title: string;
  /** fail: not ready; warn: ready, but look; skipped: does not apply here (detail says why). */
  status: CheckStatus;
  detail: string;
  /** What to do: a command line, or SQL to run on the target (one statement a line). */
  fix?: string;
}

export interface QueryRun {
  /** Median over the runs, in milliseconds; null when the query failed on this side. */
  medianMs: number | null;
  runsMs: number[];
  rows: number | null;
  /** PostgreSQL's error, when the query failed on this side. */
  error?: string;
}

export interface QueryComparison {
  label: string;
  /** Where it starts in the file. */
  line: number;
  /** Same column names and types, and the same rows (as a multiset: order aside). */
  match: boolean;
  /** With a match: the rows also came in the same order. */
  sameOrder?: boolean;
  /** Why not a match. */
  difference?: string;
  source: QueryRun;
  target: QueryRun;
  /** Target median / source median. */
  ratio: number | null;
}

export interface ReadinessResult {
  /** No check failed and every query gave the same result on both sides (warnings allowed). */
  ready: boolean;
  tables: { table: string; column: string; until: string | null }[];
  checks: Check[];
  /** Per table: the newest time of a row at or after T the source has and the target lacks (none: not listed). */
  sourceOnlyNewest: { table: string; time: string }[];
  queries?: QueryComparison[];
  /** Command lines for this migration: `migrate sequences` (again right before switching) and this check again. */
  commands: { sequences: string; again: string };
}

export interface ReadinessInput {
  /** Tables to check; empty: those with recorded completion points, else those in the backfill ledger. */
  tables: TableSpec[];
  /** Rows this close to now may be in flight: left out of the dual-write window (default as validate's). */
  lateness?: string;
  /** Production read queries to compare (`--queries FILE`). */
  queries?: { file: string; runs?: number; timeoutMs?: number };
  /**
   * What every suggested `migrate` command line repeats so it acts on the same migration: the
   * connection strings as given (without passwords) and --dir when it is not the default.
   */
  repeat?: { source?: string; target?: string; dir?: string };
}

/** A checked table: both sides, its T, the ledger's plan. */
export interface ReadyTable {
  pair: TimeTablePair;
  key: string;
  /** T: the recorded completion point, else the backfill plan's end; undefined when neither is known. */
  until?: string;
  /** The recorded completion point, when it is for this time column. */
  point?: RecordedPoint;
  plan?: LedgerPlan;
}

/** What each group of checks reads from: two read-only sessions and what is known about the migration. */
export interface Scope {
  source: Client;
  target: Client;
  dir: string;
  state: MigrationState | undefined;
  points: CompletionPointsFile;
  tables: ReadyTable[];
  /** The target holds the backfill ledger (schema _migrate). */
  ledger: boolean;
  /** The schema of each side's timescaledb extension (already quoted), or undefined without it. */
  timescale: { source?: string; target?: string };
  lateness: string;
  /** A pasteable `migrate …` command line for this migration (connection flags, --dir, and the tables where it takes them). */
  command(name: string, extra?: string[]): string;
}

/** A check's result for one table, gathered into one Check line. */
export function summarize(base: Pick<Check, 'id' | 'title'>, problems: string[], ok: string, fix: string): Check {
  return problems.length === 0 ? { ...base, status: 'ok', detail: ok } : { ...base, status: 'fail', detail: problems.join('; '), fix };
}

/** At most `limit` items, then "… and N more". */
export function capped(items: string[], limit = 8): string {
  return items.length <= limit ? items.join('; ') : `${items.slice(0, limit).join('; ')}; … and ${items.length - limit} more`;
}
