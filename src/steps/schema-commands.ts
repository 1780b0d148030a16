/**
 * The exact pg_dump and psql invocations of `migrate schema`, and how TimescaleDB is handled on
 * the target. Pure: the step and its --dry-run print the same arguments, and the unit tests pin them.
 */
import { timescaleVersionProblem } from '../core/compat.js';
import { MigrateError } from '../core/errors.js';
import { pgDumpPattern, quoteIdent, type QualifiedName } from '../core/identifiers.js';
import type { SourceTimescale } from './schema-catalog.js';

/** The reference procedure's pg_dump flags (DESIGN §2). */
export const DUMP_FLAGS = ['--format=plain', '--quote-all-identifiers', '--no-tablespaces', '--no-owner', '--no-privileges'];

/** pg_dump arguments (after the connection arguments): one --exclude-table-data per table, plus chunk schemas. */
export function dumpArgs(excluded: QualifiedName[], chunkSchemas: string[] = []): string[] {
  return [
    ...DUMP_FLAGS,
    ...excluded.map((table) => `--exclude-table-data=${pgDumpPattern(table)}`),
    // A TimescaleDB source keeps hypertable rows in chunks: leave out all of them (reference procedure).
    ...chunkSchemas.map((schema) => `--exclude-table-data=${quoteIdent(schema)}.*`),
  ];
}

export interface TimescalePlan {
  /** CREATE EXTENSION run inside the load's transaction, before the dump. */
  createSql?: string;
  /** Schema of the extension's functions, when the load is wrapped in pre/post_restore. */
  restoreSchema?: string;
  warnings: string[];
}

/** A psql script run in the load's transaction after the dump (before post_restore), and the psql variables it reads. */
export interface AfterLoad {
  file: string;
  variables: Record<string, string>;
}

/** psql arguments (after the connection arguments) that load the dump in one transaction. */
export function loadArgs(dumpFile: string, timescale: TimescalePlan, afterLoad?: AfterLoad): string[] {
  const before: string[] = [];
  const after: string[] = [];
  const variables = Object.entries(afterLoad?.variables ?? {}).flatMap(([name, value]) => ['-v', `${name}=${value}`]);
  if (timescale.createSql) before.push('-c', timescale.createSql);
  if (timescale.restoreSchema !== undefined) {
    // Qualified: the dump sets search_path to '' before post_restore runs.
    const schema = quoteIdent(timescale.restoreSchema);
    before.push('-c', `SELECT ${schema}.timescaledb_pre_restore()`);
    after.push('-c', `SELECT ${schema}.timescaledb_post_restore()`);
  }
  // --single-transaction wraps every -c and -f in one BEGIN/COMMIT, and with ON_ERROR_STOP a failure
  // rolls all of it back: a failed load leaves the target as it was. -q keeps stdout to query results.
  // The script runs before post_restore: while the job scheduler is still stopped (schema-jobs.ts).
  const script = afterLoad ? ['-f', afterLoad.file] : [];
  return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--echo-errors', '--single-transaction', ...variables, ...before, '-f', dumpFile,
    ...script, ...after];
}

export interface TargetTimescaleFacts {
  /** pg_available_extensions.default_version, undefined when the server has no TimescaleDB. */
  defaultVersion?: string;
  installable: string[];
  installed?: { version: string; schema: string };
  /** undefined: this user cannot read shared_preload_libraries. */
  preloaded: boolean | undefined;
}

const HYPERTABLES_NEED_IT = '`migrate hypertables` needs TimescaleDB in the target: install it there before that step.';

/**
 * What to do about TimescaleDB on the target. Throws (exit 1) when a TimescaleDB source cannot be
 * restored there; warns when a plain source goes to a target without TimescaleDB.
 */
export function planTimescale(source: SourceTimescale | undefined, target: TargetTimescaleFacts): TimescalePlan {
  if (source) {
    const problem = timescaleVersionProblem(source.version, {
      installable: target.installable, ...(target.installed ? { installed: target.installed.version } : {}) });
    if (problem) throw new MigrateError(`Cannot restore a TimescaleDB source into this target: ${problem.detail}.`, { hint: problem.fix });
    if (target.installed) return { restoreSchema: target.installed.schema, warnings: [] };
    if (target.preloaded === false) {
      throw new MigrateError('TimescaleDB is available on the target but not in shared_preload_libraries, so it cannot be created.', {
        hint: "Add timescaledb to shared_preload_libraries on the target and restart it, then run `migrate schema` again.",
      });
    }
    if (source.schema !== 'public') {
      // The dump creates that schema itself, after which pre_restore would be too late.
      throw new MigrateError(`TimescaleDB lives in schema ${JSON.stringify(source.schema)} on the source; ` +
        'migrate only restores TimescaleDB installed in public unless it already exists in the target.', {
        hint: 'Restore this database by hand (TimescaleDB docs: "Backup and restore" with timescaledb_pre_restore), ' +
          'or move the source to a TimescaleDB installed in public.',
      });
    }
    return {
      createSql: `CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA ${quoteIdent(source.schema)} VERSION ${quoteIdent(source.version)}`,
      restoreSchema: source.schema,
      warnings: [],
    };
  }
  if (target.installed) return { warnings: [] };
  if (target.defaultVersion === undefined) {
    return { warnings: [`The target has no TimescaleDB: the schema loads as plain PostgreSQL. ${HYPERTABLES_NEED_IT}`] };
  }
  if (target.preloaded === false) {
    return { warnings: [`TimescaleDB ${target.defaultVersion} is available on the target but not in shared_preload_libraries, ` +
      `so it was not created. ${HYPERTABLES_NEED_IT}`] };
  }
  return { createSql: 'CREATE EXTENSION IF NOT EXISTS timescaledb', warnings: [] };
}

/** Keep psql's error lines (and their STATEMENT/DETAIL/HINT/LINE context), drop NOTICE chatter. */
export function errorLines(stderr: string[], max = 20): string[] {
  const first = stderr.findIndex((line) => /\b(ERROR|FATAL|PANIC):|^psql: error:|invalid command/.test(line));
  const lines = first === -1 ? stderr.slice(-15) : stderr.slice(first);
  const kept = lines.filter((line) => line.trim() !== '');
  return kept.length > max ? [...kept.slice(0, max), `… (${kept.length - max} more lines)`] : kept;
}

/** TimescaleDB's own catalog tables, whose circular foreign keys make pg_dump warn on every dump. */
const TIMESCALE_CATALOG_TABLES = new Set(['continuous_agg', 'hypertable', 'chunk', 'dimension', 'chunk_constraint',
  'compression_settings', 'hypertable_compression', 'continuous_aggs_materialization_invalidation_log']);

/**
 * pg_dump's stderr without the circular-foreign-key warning about TimescaleDB's catalog, which it
 * prints for every TimescaleDB source and which the full (not data-only) dump we take handles.
 */
export function quietDumpMessages(lines: string[]): string[] {
  const kept: string[] = [];
  let dropping = false;
  lines.forEach((line, index) => {
    if (/^pg_dump: warning:/.test(line)) {
      const detail = /^pg_dump: detail: (.*)$/.exec(lines[index + 1] ?? '')?.[1];
      dropping = /circular foreign-key constraints/.test(line) && detail !== undefined &&
        detail.trim().split(/\s+/).every((name) => TIMESCALE_CATALOG_TABLES.has(name));
    } else if (!/^pg_dump: (detail|hint):/.test(line)) {
      dropping = false;
    }
    if (!dropping) kept.push(line);
  });
  return kept;
}
