/**
 * What `migrate hypertables` needs to know besides the table itself: whether the target has
 * TimescaleDB (and creating the extension when it is installed but not created), and the chunk
 * interval (flag, the source's data, the target's rows, or a default). An existing hypertable's
 * settings are read in hypertable-settings.ts.
 */
import { resolveTable, type TableInfo } from '../core/catalog.js';
import { DEFAULT_TIME_INTERVAL, checkChunkInterval, type SuggestedInterval } from '../core/chunk-interval.js';
import { countEdgeRows } from './time-edge-rows.js';
import type { StepContext } from '../core/context.js';
import { connect, type Client } from '../core/db.js';
import { MigrateError, UsageError, describeError, isPgError } from '../core/errors.js';
import { compareVersions } from '../core/hypertable-blockers.js';
import { suggestIntervalFromData } from './candidates.js';
import { displayName, type QualifiedName } from '../core/identifiers.js';
import { columnTimeType, isIntegerTimeType, shortTypeName, type TimeType } from '../core/time-values.js';

export interface TimescaleInfo {
  version: string;
  /** Schema of TimescaleDB's functions (usually public). */
  schema: string;
  /** by_range() exists (2.13+). */
  byRange: boolean;
  /** add_compression_policy(compress_created_before => …) exists (2.15+). */
  createdBefore: boolean;
}

const notPreloaded = (cause?: unknown): UsageError => new UsageError(
  'TimescaleDB is installed on the target server but not in shared_preload_libraries, so the timescaledb extension ' +
  'cannot be created.', {
    hint: "Add it in the target's postgresql.conf (shared_preload_libraries = 'timescaledb'), restart the server, " +
      'and run `migrate hypertables` again.',
    ...(cause === undefined ? {} : { cause }),
  });

/** The target's TimescaleDB; CREATE EXTENSION when it is available but not created in this database. */
export async function ensureTimescale(client: Client, ctx: StepContext): Promise<TimescaleInfo> {
  const { rows } = await client.query<{ default_version: string; installed_version: string | null }>(
    "SELECT default_version, installed_version FROM pg_available_extensions WHERE name = 'timescaledb'");
  const available = rows[0];
  if (!available) {
    throw new UsageError('The target has no TimescaleDB: the timescaledb extension is not available on that server.', {
      hint: 'Install TimescaleDB on the target server (https://docs.timescale.com/self-hosted/latest/install/) or use a ' +
        'Timescale service, check --target, and run `migrate hypertables` again.',
    });
  }
  if (available.installed_version === null) {
    const preload = await client.query<{ shared_preload_libraries: string }>('SHOW shared_preload_libraries')
      .then((r) => r.rows[0]?.shared_preload_libraries, () => undefined);
    if (preload !== undefined && !/timescaledb/.test(preload)) throw notPreloaded();
    const sql = 'CREATE EXTENSION IF NOT EXISTS timescaledb';
    if (ctx.dryRun) {
      ctx.emit({ type: 'sql', side: 'target', sql });
    } else {
      try {
        await client.query(sql);
        ctx.emit({ type: 'info', message: `Created the timescaledb extension (${available.default_version}) on the target.` });
      } catch (error) {
        // Without the preload the server ends the session with FATAL "must be preloaded".
        if (/must be preloaded|shared_preload_libraries/i.test(String((error as Error).message))) throw notPreloaded(error);
        throw new MigrateError(`Cannot create the timescaledb extension on the target: ${describeError(error)}`, {
          hint: 'Connect as a user allowed to create extensions (the database owner on TimescaleDB 2.x, or a superuser).',
          cause: error,
        });
      }
    }
  }
  const version = available.installed_version ?? available.default_version;
  const schemaRow = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'timescaledb'`);
  const schema = schemaRow.rows[0]?.schema ?? 'public';
  return {
    version, schema, byRange: compareVersions(version, '2.13.0') >= 0,
    createdBefore: compareVersions(version, '2.15.0') >= 0,
  };
}

export interface SourceSuggester {
  suggest(table: QualifiedName, column: string, type: TimeType): Promise<SuggestedInterval | undefined>;
  /**
   * Source rows with a NULL time: the target's copy is still empty, so only the source can tell that
   * the backfill would have rows no hypertable can hold. Undefined when the source cannot be read.
   */
  nullTimes(table: QualifiedName, column: string, type: TimeType): Promise<number | undefined>;
  close(): Promise<void>;
}

/**
 * Chunk-interval suggestions from the source's copy of a table (as `migrate candidates` makes them).
 * The source is optional here: when it cannot be reached we say so once and fall back.
 */
export function openSourceSuggester(ctx: StepContext): SourceSuggester {
  let client: Promise<Client | undefined> | undefined;
  const open = (): Promise<Client | undefined> => {
    client ??= connect(ctx.source, { applicationName: 'migrate hypertables' }).catch((error: unknown) => {
      ctx.emit({ type: 'warn', message: 'Cannot read the source to size chunks from its data; using defaults.',
        detail: [error instanceof Error ? error.message : String(error), 'Pass --source, or --chunk-interval.'] });
      return undefined;
    });
    return client;
  };
  return {
    async suggest(table, column, type) {
      const source = await open();
      if (!source) return undefined;
      try {
        const info = await resolveTable(source, table, 'source');
        const sourceColumn = info.columns.find((c) => c.name === column);
        if (!sourceColumn || columnTimeType(sourceColumn) !== type) return undefined;
        return await suggestIntervalFromData(source, info, column, type);
      } catch (error) {
        if (error instanceof UsageError) {
          ctx.emit({ type: 'info', message: `${displayName(table)} is not on the source; its chunk interval is not sized from data.` });
          return undefined;
        }
        throw error;
      }
    },
    async nullTimes(table, column, type) {
      const source = await open();
      if (!source) return undefined;
      const info = await resolveTable(source, table, 'source').catch((error: unknown) => {
        if (error instanceof UsageError) return undefined;
        throw error;
      });
      if (!info?.columns.some((c) => c.name === column)) return undefined;
      return (await countEdgeRows(source, info, column, type)).nulls;
    },
    async close() {
      const source = await client;
      await source?.end().catch(() => undefined);
    },
  };
}

/** Chunk interval: --chunk-interval, else the source's data, else the target's rows, else a default. */
export async function chooseInterval(client: Client, request: { chunkInterval?: string }, table: TableInfo,
  time: { column: string; type: TimeType }, hasRows: boolean, source: SourceSuggester, ctx: StepContext):
  Promise<{ value: string; reason: string }> {
  if (request.chunkInterval !== undefined) {
    const value = checkChunkInterval(request.chunkInterval, time.type, time.column);
    return { value: isIntegerTimeType(time.type) ? value : await normalizeInterval(client, value, '--chunk-interval'),
      reason: 'given with --chunk-interval' };
  }
  const fromSource = await source.suggest(table.name, time.column, time.type);
  if (fromSource) return { value: fromSource.value, reason: `from the source's data: ${fromSource.reason}` };
  if (hasRows) {
    const fromTarget = await suggestIntervalFromData(client, table, time.column, time.type);
    if (fromTarget) return { value: fromTarget.value, reason: `from the target's rows: ${fromTarget.reason}` };
  }
  if (!isIntegerTimeType(time.type)) return { value: DEFAULT_TIME_INTERVAL, reason: 'TimescaleDB\'s default' };
  // Documented defaults for integer columns: 7 days of epoch milliseconds (bigint) or seconds (integer).
  const value = time.type === 'bigint' ? '604800000' : time.type === 'integer' ? '604800' : '1000';
  const assumption = time.type === 'bigint' ? 'epoch milliseconds' : time.type === 'integer' ? 'epoch seconds' : 'small counters';
  ctx.emit({ type: 'warn', message: `No data to size the chunks of ${displayName(table.name)} from: using ${value}, ` +
    `which assumes ${time.column} holds ${assumption}.`, detail: ['Pass --chunk-interval to choose another.'] });
  return { value, reason: `default for ${shortTypeName(time.type)} columns, assuming ${assumption}` };
}

/** Let PostgreSQL parse an interval; a bad one is a usage error naming the flag. */
export async function normalizeInterval(client: Client, text: string, flag: string): Promise<string> {
  try {
    const { rows } = await client.query<{ v: string }>('SELECT $1::interval::text AS v', [text]);
    return rows[0]?.v ?? text;
  } catch (error) {
    if (isPgError(error) && /^22/.test(error.code ?? '')) {
      throw new UsageError(`${flag} ${JSON.stringify(text)} is not an interval: ${error.message}.`, {
        hint: `Write it like '1 day', '7 days' or '12 hours'.`, cause: error });
    }
    throw error;
  }
}
