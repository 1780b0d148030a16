/**
 * Completion points (`T`) per table: recorded by `migrate completion-point --until`, read back by
 * backfill and validate. A table's rows with time < T come from the backfill, rows >= T are in the
 * target already from dual-writes, so every later step must agree on the same T.
 *
 * The file `<dir>/completion-points.json` is versioned and zod-checked; values are stored as
 * PostgreSQL's normalized text (UTC for timestamptz) so they mean the same thing on every machine.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { resolveTable, resolveTimeColumn, type TableInfo } from './catalog.js';
import type { Client } from './db.js';
import { MigrateError, UsageError } from './errors.js';
import { writeFileAtomic } from './files.js';
import { displayName, parseTableSpec, sameTable, type QualifiedName, type TableSpec } from './identifiers.js';
import {
  TIME_TYPES, isIntegerTimeType, normalizeTimeValue, parseTimeValue, shortTypeName, exampleFor, columnTimeType, type TimeType,
} from './time-values.js';

export const COMPLETION_POINTS_FILE = 'completion-points.json';

const recordedPointSchema = z.object({
  schema: z.string().min(1),
  table: z.string().min(1),
  column: z.string().min(1),
  type: z.enum(TIME_TYPES),
  until: z.string().min(1),
  /** min(time) on the target when T was checked: where dual-writes began (completion-point-guard.ts). */
  dualWritesFrom: z.string().min(1).optional(),
  /** The zone a zone-less column's values are in (--timezone when T was recorded). */
  timezone: z.string().min(1).optional(),
  recordedAt: z.string(),
});
const fileSchema = z.object({
  version: z.literal(1),
  tables: z.record(z.string(), recordedPointSchema),
});

export type RecordedPoint = z.infer<typeof recordedPointSchema>;
export type CompletionPointsFile = z.infer<typeof fileSchema>;

/** A table's resolved bound: its time column, the column's type and the normalized value. */
export interface ResolvedUntil { column: string; type: TimeType; until: string }
/** `from` undefined means "no lower bound" (-infinity, or everything for integer columns). */
export interface ResolvedFrom { column: string; type: TimeType; from?: string }

export function completionPointsPath(dir: string): string {
  return path.join(dir, COMPLETION_POINTS_FILE);
}

/** The recorded points; an empty set when nothing was recorded yet. */
export async function readCompletionPoints(dir: string): Promise<CompletionPointsFile> {
  const file = completionPointsPath(dir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, tables: {} };
    throw new MigrateError(`Cannot read ${file}: ${(error as Error).message}.`, { hint: 'Check its permissions.', cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MigrateError(`${file} is not valid JSON: ${(error as Error).message}.`, {
      hint: 'Delete it and record the completion points again with `migrate completion-point --until …`.', cause: error,
    });
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    throw new MigrateError(`${file} is not a completion-points file we understand: ${z.prettifyError(parsed.error)}`, {
      hint: 'Delete it and record the completion points again with `migrate completion-point --until …`.',
    });
  }
  return parsed.data;
}

/** Merge these points into the file (other tables' points stay) and write it atomically. */
export async function recordCompletionPoints(dir: string, points: Omit<RecordedPoint, 'recordedAt'>[],
  now: Date = new Date()): Promise<CompletionPointsFile> {
  const current = await readCompletionPoints(dir);
  for (const point of points) {
    current.tables[displayName(point)] = { ...point, recordedAt: now.toISOString() };
  }
  await writeFileAtomic(completionPointsPath(dir), `${JSON.stringify(current, null, 2)}\n`);
  return current;
}

/** The recorded point for a table, if any. */
export function recordedPointFor(file: CompletionPointsFile, table: QualifiedName): RecordedPoint | undefined {
  return Object.values(file.tables).find((point) => sameTable(point, table));
}

/** The tables that have recorded points, as specs with their time columns (for commands run without --table). */
export function recordedTables(file: CompletionPointsFile): TableSpec[] {
  return Object.values(file.tables).map((p) => ({ schema: p.schema, table: p.table, column: p.column }));
}

interface SplitFlags {
  /** A bare VALUE: applies to every table without its own. */
  all?: string;
  /** `schema.table=VALUE`, keyed by displayName. */
  perTable: Map<string, string>;
}

/**
 * Split `--until` / `--from` flags into "for all" and "for one table". A value never contains `=`
 * outside double quotes, so the first such `=` separates a table name from its value.
 */
export function splitValueFlags(flags: string[], tables: QualifiedName[], flag: string): SplitFlags {
  const result: SplitFlags = { perTable: new Map() };
  const problems: string[] = [];
  for (const raw of flags) {
    const eq = unquotedEquals(raw);
    if (eq === -1) {
      if (result.all !== undefined && result.all !== raw) {
        problems.push(`${flag} is given twice without a table (${JSON.stringify(result.all)} and ${JSON.stringify(raw)})`);
      }
      result.all = raw;
      continue;
    }
    let spec: TableSpec;
    try {
      spec = parseTableSpec(raw.slice(0, eq));
    } catch (error) {
      problems.push(`${flag} ${JSON.stringify(raw)}: ${(error as Error).message}`);
      continue;
    }
    const key = displayName(spec);
    if (!tables.some((t) => sameTable(t, spec))) {
      problems.push(`${flag} ${JSON.stringify(raw)} names ${key}, which is not one of the tables given with --table`);
    } else if (result.perTable.has(key)) {
      problems.push(`${flag} is given twice for ${key}`);
    }
    result.perTable.set(key, raw.slice(eq + 1));
  }
  if (problems.length > 0) {
    throw new UsageError(`Cannot read the ${flag} values:\n  - ${problems.join('\n  - ')}`, {
      hint: `Give ${flag} VALUE once for all tables, or ${flag} schema.table=VALUE per table.`,
    });
  }
  return result;
}

function unquotedEquals(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] === '"') quoted = !quoted;
    else if (text[i] === '=' && !quoted) return i;
  }
  return -1;
}

export interface ResolveInput {
  tables: TableSpec[];
  timezone?: string;
  dir: string;
  source: Client;
}

/**
 * Each table's completion point: its own `schema.table=VALUE`, else the bare `--until VALUE`, else
 * the recorded point. Every table without a usable value is reported in one UsageError.
 */
export async function resolveUntil(input: ResolveInput & { untilFlags: string[]; /** default true */ useRecorded?: boolean }):
  Promise<Map<string, ResolvedUntil>> {
  const flags = splitValueFlags(input.untilFlags, input.tables, '--until');
  const recorded = input.useRecorded === false ? { version: 1 as const, tables: {} } : await readCompletionPoints(input.dir);
  const result = new Map<string, ResolvedUntil>();
  const problems: string[] = [];
  for (const spec of input.tables) {
    const key = displayName(spec);
    const time = await resolveTimeColumn(input.source, await resolveTable(input.source, spec, 'source'), spec.column);
    const own = flags.perTable.get(key);
    const raw = own ?? flags.all;
    if (raw !== undefined) {
      const value = await checkValue(input.source, raw, time.type, {
        key, own: own !== undefined, flag: '--until', timezone: input.timezone, allowInfinite: false, problems, manyTables: input.tables.length > 1,
      });
      if (value !== undefined) result.set(key, { column: time.column, type: time.type, until: value });
      continue;
    }
    const point = recordedPointFor(recorded, spec);
    if (point === undefined) {
      problems.push(`${key}: no --until given${input.useRecorded === false ? '' : ' and no completion point recorded'}`);
    } else if (point.column !== time.column || point.type !== time.type) {
      problems.push(`${key}: the recorded completion point is for ${point.column} (${shortTypeName(point.type)}), ` +
        `but the time column is ${time.column} (${shortTypeName(time.type)}); record it again`);
    } else {
      result.set(key, { column: time.column, type: time.type, until: point.until });
    }
  }
  if (problems.length > 0) {
    throw new UsageError(`No usable completion point for ${problems.length === 1 ? 'one table' : `${problems.length} tables`}:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Record one with `migrate completion-point --table … --until T` (see `migrate completion-point --table …` ' +
        'for a suggestion), or pass --until T; tables with different time-column types need --until schema.table=VALUE.',
    });
  }
  return result;
}

/** Each table's lower bound: its own `schema.table=VALUE`, else the bare `--from VALUE`, else unbounded. */
export async function resolveFrom(input: ResolveInput & { fromFlags: string[] }): Promise<Map<string, ResolvedFrom>> {
  const flags = splitValueFlags(input.fromFlags, input.tables, '--from');
  const result = new Map<string, ResolvedFrom>();
  const problems: string[] = [];
  for (const spec of input.tables) {
    const key = displayName(spec);
    const time = await resolveTimeColumn(input.source, await resolveTable(input.source, spec, 'source'), spec.column);
    const own = flags.perTable.get(key);
    const raw = own ?? flags.all;
    // -infinity means "from the first row" for every type, including integer columns (which have no infinity).
    if (raw === undefined || raw.trim().toLowerCase() === '-infinity') {
      result.set(key, { column: time.column, type: time.type });
      continue;
    }
    const value = await checkValue(input.source, raw, time.type, {
      key, own: own !== undefined, flag: '--from', timezone: input.timezone, allowInfinite: false, problems, manyTables: input.tables.length > 1,
    });
    if (value !== undefined) result.set(key, { column: time.column, type: time.type, from: value });
  }
  if (problems.length > 0) {
    throw new UsageError(`Cannot use --from for ${problems.length === 1 ? 'one table' : `${problems.length} tables`}:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Give --from per table as schema.table=VALUE when time-column types differ; -infinity (the default) means from the first row.',
    });
  }
  return result;
}

interface CheckOptions {
  key: string;
  own: boolean;
  flag: string;
  timezone: string | undefined;
  allowInfinite: boolean;
  problems: string[];
  /** Several tables share a bare value: a misfit probably means they need their own. */
  manyTables: boolean;
}

/** Parse and normalize one value for one table; a misfit becomes a line in `problems`. */
async function checkValue(client: Client, raw: string, type: TimeType, options: CheckOptions): Promise<string | undefined> {
  const label = `${options.flag} for ${options.key}`;
  try {
    const parsed = parseTimeValue(raw, type, {
      label, allowInfinite: options.allowInfinite, ...(options.timezone ? { timezone: options.timezone } : {}),
    });
    return await normalizeTimeValue(client, parsed, label);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    let line = `${options.key} (${shortTypeName(type)}): ${error.message}${error.hint ? ` ${error.hint}` : ''}`;
    if (!options.own && options.manyTables) {
      // The bare value was meant for another table's type, most likely.
      line += ` Tables with different time-column types need their own value: ${options.flag} ${options.key}=` +
        `${isIntegerTimeType(type) ? exampleFor(type) : exampleFor(type).split(' or ')[0]}.`;
    }
    options.problems.push(line);
    return undefined;
  }
}

/** A table on both sides with its time column, as completion-point and validate need it. */
export interface TimeTablePair {
  /** The spec with its time column filled in. */
  spec: TableSpec & { column: string };
  key: string;
  column: string;
  type: TimeType;
  source: TableInfo;
  target: TableInfo;
}

/**
 * Find each table on both sides and settle its time column: the one named, else the target
 * hypertable's time dimension (that is what the backfill slices by), else the source's best guess.
 * The column must exist on both sides with the same time type.
 */
export async function resolveTimeTables(source: Client, target: Client, tables: TableSpec[]): Promise<TimeTablePair[]> {
  const pairs: TimeTablePair[] = [];
  for (const spec of tables) {
    const key = displayName(spec);
    const [sourceInfo, targetInfo] = [await resolveTable(source, spec, 'source'), await resolveTable(target, spec, 'target')];
    const chosen = spec.column ?? targetInfo.hypertable?.column;
    const time = await resolveTimeColumn(source, sourceInfo, chosen);
    const onTarget = targetInfo.columns.find((c) => c.name === time.column);
    const targetType = onTarget ? columnTimeType(onTarget) : undefined;
    if (!onTarget || targetType !== time.type) {
      throw new UsageError(`The time column ${time.column} of ${key} is ${shortTypeName(time.type)} on the source but ` +
        `${onTarget ? onTarget.type : 'missing'} on the target.`, {
        hint: 'Source and target tables must have the same time column; run `migrate schema` again or name the column with --table schema.table:column.',
      });
    }
    pairs.push({ spec: { ...spec, column: time.column }, key, column: time.column, type: time.type, source: sourceInfo, target: targetInfo });
  }
  return pairs;
}
