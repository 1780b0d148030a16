/**
 * `migrate schema`: dump the source's schema and relational data, leaving out the data of the
 * given tables (the hypertable candidates), and load it into the target in ONE transaction.
 *
 * Order matters for "bad input changes nothing": every check (tables, tools, target empty,
 * TimescaleDB versions) runs before pg_dump writes a file, and pg_dump finishes before the target
 * is touched. The load is `psql --single-transaction`: a failure rolls back everything, including
 * the CREATE EXTENSION and TimescaleDB's pre_restore (its ALTER DATABASE SET is transactional too).
 * From a TimescaleDB source the same transaction pauses every background job before post_restore
 * restarts the scheduler, and records them for the backfill to bring back (schema-jobs.ts).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { dumpLoadCompatibility } from '../core/compat.js';
import { scrubSecrets, type Endpoint } from '../core/connection.js';
import type { StepContext } from '../core/context.js';
import { suggestCommand } from '../core/suggest.js';
import { timescaleVersion, withClient, type Client } from '../core/db.js';
import { InterruptedError, MigrateError, UsageError } from '../core/errors.js';
import { writeFileAtomic } from '../core/files.js';
import { displayTableSpec, quoteIdent, type QualifiedName, type TableSpec } from '../core/identifiers.js';
import { connectionArgs, formatCommand, requirePgTool, runPgTool } from '../core/pg-tools.js';
import { readTimescalePreloaded } from './preflight-facts.js';
import { listTargetUserTables } from './schema-catalog.js';
import { dumpArgs, errorLines, loadArgs, planTimescale, quietDumpMessages, type TargetTimescaleFacts, type TimescalePlan } from './schema-commands.js';
import { PAUSE_JOBS_FILE, describeJobPause, pauseJobsLoad, pauseJobsScript, previewJobPause, recordedJobPause, type SchemaJobPause } from './schema-jobs.js';
import { listNames, readSourcePlan, rewritePlan, type SourcePlan } from './schema-source.js';
import { missingRewrites, rewriteDumpFile, rewriteDumpText, type DumpRewritePlan } from './schema-tree-rewrite.js';
import { describeDomainColumn, describeTree, type DomainColumn, type SchemaTree } from './schema-trees.js';
import { PRIVILEGE_DUMP_FLAGS, carryPrivileges, type CarriedPrivileges } from './schema-privileges.js';

export { listTargetUserTables } from './schema-catalog.js';

export interface SchemaInput {
  /** The hypertable candidates: their schema comes across, their data does not. */
  tables: TableSpec[];
  /** Load even though the target already holds user tables (--yes). */
  allowNonEmptyTarget?: boolean;
  /** Carry ownership (default true; --no-owner). */
  owners?: boolean;
  /** Carry GRANT/REVOKE and default privileges (default true; --no-privileges). */
  privileges?: boolean;
}

export interface SchemaResult {
  /** Where the dump is (under --dry-run: where it would be; nothing is written). */
  dumpFile: string;
  dryRun: boolean;
  /** Tables whose data was left out: the given ones, their partitions/children, a TimescaleDB source's hypertables. */
  excludedTables: QualifiedName[];
  /** Tables that arrived with their rows. */
  tablesLoaded: QualifiedName[];
  /** Tables that arrived empty and need the backfill. */
  emptyTables: QualifiedName[];
  sourceIsTimescale: boolean;
  sourceTimescaleVersion?: string;
  /** TimescaleDB version in the target database after the load; undefined without TimescaleDB. */
  timescaleVersion?: string;
  /** The commands, as printed (no passwords). */
  commands: { dump: string; load: string; privileges?: string };
  /** Owners and privileges applied after the load (absent with --no-owner --no-privileges, or --dry-run). */
  privileges?: CarriedPrivileges;
  /** TimescaleDB source: the background jobs paused in the load's transaction until the backfill is complete (schema-jobs.ts). */
  jobPause?: SchemaJobPause;
  /** Given tables that were partitioned or inheritance trees: each arrived as one plain table; what was left out. */
  trees: SchemaTree[];
  /** Given time columns typed by a domain: they have the base type on the target. */
  domainColumns: DomainColumn[];
  /** pg_dump's own output, when the dump was rewritten for trees or domain columns (dumpFile is what was loaded). */
  sourceDumpFile?: string;
  warnings: string[];
}

export async function runSchema(input: SchemaInput, ctx: StepContext): Promise<SchemaResult> {
  ctx.emit({ type: 'phase', id: 'schema-check', message: 'Checking the source, the target and the client tools…' });
  const { source, pgDump, psql, timescale } = await checkEverything(input, ctx).catch((error: unknown) => {
    ctx.emit({ type: 'done', id: 'schema-check', message: 'Nothing was changed', ok: false });
    throw error;
  });
  const warnings = [...timescale.warnings];
  if (source.extraHypertables.length > 0) {
    warnings.push(`The source is TimescaleDB: the data of every hypertable stays out of the dump (reference procedure), ` +
      `so these hypertables that were not given with --table arrive empty too and need a backfill: ${listNames(source.extraHypertables)}.`);
  }
  ctx.emit({ type: 'done', id: 'schema-check', message: `Source: PostgreSQL ${source.major}` +
    `${source.timescale ? ` with TimescaleDB ${source.timescale.version}` : ''}; ${source.withData.length} ` +
    `table${source.withData.length === 1 ? '' : 's'} to copy with their data, ${source.empty.length} to create empty` });
  for (const message of warnings) ctx.emit({ type: 'warn', message });

  const dumpFile = path.join(ctx.dir, 'dump.sql');
  const rewrite = rewritePlan(source);
  // With a rewrite, pg_dump's own output is kept next to what is loaded, for the operator to compare.
  const pgDumpFile = rewrite ? path.join(ctx.dir, 'pg_dump.sql') : dumpFile;
  const sourceConn = connectionArgs(ctx.source);
  const targetConn = connectionArgs(ctx.target);
  const dump = [...sourceConn.args, ...dumpArgs(source.excluded, source.timescale?.chunkSchemas)];
  const restoreSchema = source.timescale ? timescale.restoreSchema : undefined;
  const afterLoad = restoreSchema === undefined ? undefined : pauseJobsLoad(path.join(ctx.dir, PAUSE_JOBS_FILE), source.empty);
  const load = [...targetConn.args, ...loadArgs(dumpFile, timescale, afterLoad)];
  const result: SchemaResult = {
    dumpFile, dryRun: ctx.dryRun, excludedTables: source.excluded, tablesLoaded: source.withData, emptyTables: source.empty,
    sourceIsTimescale: source.timescale !== undefined,
    commands: { dump: formatCommand(pgDump.path, dump, pgDumpFile), load: formatCommand(psql.path, load) },
    trees: source.trees.map(({ dropped: _dropped, ...tree }) => tree),
    domainColumns: source.domainColumns,
    warnings,
  };
  if (rewrite) result.sourceDumpFile = pgDumpFile;
  const wanted = { owners: input.owners ?? true, privileges: input.privileges ?? true };
  const privilegesFile = path.join(ctx.dir, 'privileges.sql');
  const privilegeDump = [...sourceConn.args, ...PRIVILEGE_DUMP_FLAGS];
  if (wanted.owners || wanted.privileges) result.commands.privileges = formatCommand(pgDump.path, privilegeDump, privilegesFile);
  if (source.timescale) result.sourceTimescaleVersion = source.timescale.version;

  if (ctx.dryRun) {
    ctx.emit({ type: 'command', command: result.commands.dump });
    if (rewrite) ctx.emit({ type: 'info', ...describeRewrite(source, pgDumpFile, dumpFile, true) });
    ctx.emit({ type: 'command', command: result.commands.load });
    if (restoreSchema !== undefined) {
      ctx.emit({ type: 'sql', side: 'target', sql: pauseJobsScript(restoreSchema) });
      const pause = await withClient(ctx.source, (s) => withClient(ctx.target, (t) => previewJobPause(s, t, source.empty)));
      result.jobPause = pause;
      ctx.emit({ type: 'info', ...describeJobPause(pause, true) });
    }
    if (result.commands.privileges) {
      ctx.emit({ type: 'command', command: result.commands.privileges });
      ctx.emit({ type: 'info', message: 'Then each ownership and privilege statement of that schema-only dump is applied on its own; ' +
        'those the target refuses are reported and written to privileges-refused.sql.' });
      const { forecastPrivileges, describeForecast } = await import('./privileges-preview.js');
      const forecast = await withClient(ctx.source, (s) => withClient(ctx.target, (t) => forecastPrivileges(s, t)));
      const [headline = '', ...detail] = describeForecast(forecast);
      ctx.emit({ type: 'info', message: headline, detail: detail.map((l) => l.trim()) });
    }
    ctx.emit({ type: 'info', message: 'Passwords in --source/--target go to pg_dump and psql as PGPASSWORD, not on the command line. ' +
      'Dry run: nothing was written and nothing was changed.' });
    return result;
  }

  ctx.emit({ type: 'phase', id: 'schema-dump', message: `Dumping the source schema and relational data to ${dumpFile}…` });
  const dumpMessages: string[] = [];
  try {
    await runPgTool(pgDump, dump, { stdoutFile: pgDumpFile, fileMode: 0o600, env: sourceConn.env, signal: ctx.signal,
      onStderrLine: (line) => { if (line.trim()) dumpMessages.push(scrub(line, ctx.source)); } });
  } catch (error) {
    ctx.emit({ type: 'done', id: 'schema-dump', message: 'pg_dump failed', ok: false });
    if (error instanceof InterruptedError) throw error;
    throw new MigrateError(`pg_dump failed; the target was not touched:\n${errorLines(dumpMessages).join('\n')}`, {
      hint: `Fix the cause above (often a table the source user cannot read: run \`${suggestCommand(ctx.repeat, 'preflight')}\`), then run ` +
        `\`${suggestCommand(ctx.repeat, 'schema', input.tables.flatMap((t) => ['--table', displayTableSpec(t)]))}\` again.`,
      cause: error,
    });
  }
  const size = (await stat(pgDumpFile)).size;
  ctx.emit({ type: 'done', id: 'schema-dump', message: `Wrote ${pgDumpFile} (${size < 1048576 ? `${Math.ceil(size / 1024)} kB` : `${(size / 1048576).toFixed(1)} MB`})` });
  const said = quietDumpMessages(dumpMessages);
  if (said.length > 0) ctx.emit({ type: 'info', message: 'pg_dump said:', detail: said.slice(0, 20) });
  if (rewrite) await rewriteDump(ctx, source, rewrite, pgDumpFile, dumpFile);

  if (afterLoad && restoreSchema !== undefined) await writeFileAtomic(afterLoad.file, pauseJobsScript(restoreSchema));
  await loadDump(ctx, psql, load, targetConn.env, timescale, dumpFile);

  if (wanted.owners || wanted.privileges) {
    result.privileges = await carryPrivileges(ctx, { pgDump, args: privilegeDump, env: sourceConn.env, file: privilegesFile, wanted,
      // The partitions' and children's owners and grants have no table to go to.
      ...(rewrite ? { rewrite: (text: string) => rewriteDumpText(text, rewrite).text } : {}) });
  }

  const after = await withClient(ctx.target, async (client) => ({
    version: await timescaleVersion(client),
    missing: await missingTables(client, [...source.withData, ...source.empty]),
    pause: afterLoad ? await recordedJobPause(client, source.empty) : undefined,
  }), { applicationName: 'migrate schema' });
  if (after.version) result.timescaleVersion = after.version;
  if (after.pause) {
    result.jobPause = after.pause;
    ctx.emit({ type: 'info', ...describeJobPause(after.pause, false) });
  }
  if (after.missing.length > 0) {
    const message = `These source tables are not in the target after the load: ${listNames(after.missing)}.`;
    warnings.push(message);
    ctx.emit({ type: 'warn', message });
  }
  return result;
}

/**
 * pg_dump's output → the dump that is loaded: each tree one plain table (schema-tree-rewrite.ts).
 * Checked before the target is touched: a parent whose PARTITION BY was not found, or a domain
 * column not retyped, would load as it is on the source, so the step stops instead.
 */
async function rewriteDump(ctx: StepContext, source: SourcePlan, plan: DumpRewritePlan, from: string, to: string): Promise<void> {
  ctx.emit({ type: 'phase', id: 'schema-rewrite', message: `Rewriting the dump: ${plan.trees.length} tree(s) become plain tables…` });
  const counts = await rewriteDumpFile(from, to, plan, source.dumpEncoding);
  const missing = missingRewrites(plan, counts);
  if (missing.length > 0) {
    ctx.emit({ type: 'done', id: 'schema-rewrite', message: 'The dump could not be rewritten; the target was not touched', ok: false });
    throw new MigrateError(`The dump could not be rewritten as planned; the target was not touched: ${missing.join('; ')}.`, {
      hint: `Compare ${from} (pg_dump's output) with the tables given; please report this with the table's definition.`,
    });
  }
  const { message, detail } = describeRewrite(source, from, to, false);
  ctx.emit({ type: 'done', id: 'schema-rewrite', message });
  ctx.emit({ type: 'info', message: 'Left out of the target, per tree:', detail: [...detail,
    ...plan.trees.map((t, i) => `${listNames([t.table])}: ${counts.statementsLeftOut[i] ?? 0} statement(s) left out of the dump`),
    ...(counts.partmanRowsLeftOut > 0 ? [`${counts.partmanRowsLeftOut} pg_partman configuration row(s) left out of the dump`] : [])] });
}

/** The report's lines about the rewrite: one block per tree, one line per domain column. */
function describeRewrite(source: SourcePlan, from: string, to: string, dryRun: boolean): { message: string; detail: string[] } {
  return {
    message: `${dryRun ? 'Then' : 'Rewrote'} ${from} ${dryRun ? 'is rewritten ' : ''}into ${to}: ` +
      `${source.trees.length} partitioned/inheritance tree(s) ${dryRun ? 'become' : 'became'} one plain table each`,
    detail: [...source.trees.flatMap(describeTree), ...source.domainColumns.map(describeDomainColumn)],
  };
}

/** Every check that can refuse, before any file is written or the target is touched. */
async function checkEverything(input: SchemaInput, ctx: StepContext) {
  const source = await withClient(ctx.source, (client) => readSourcePlan(client, input.tables),
    { applicationName: 'migrate schema' });
  const pgDump = requirePgTool('pg_dump', source.major);
  const psql = requirePgTool('psql');
  const compatibility = dumpLoadCompatibility(pgDump, psql);
  if (compatibility.status === 'block') throw new MigrateError(`Cannot load the dump: ${compatibility.detail}.`, { hint: compatibility.fix });
  const timescale = await withClient(ctx.target, async (client) => {
    await refuseNonEmptyTarget(client, input.allowNonEmptyTarget ?? false);
    return planTimescale(source.timescale, await readTargetTimescale(client));
  }, { applicationName: 'migrate schema' });
  return { source, pgDump, psql, timescale };
}

async function loadDump(ctx: StepContext, psql: ReturnType<typeof requirePgTool>, args: string[], env: Record<string, string>,
  timescale: TimescalePlan, dumpFile: string): Promise<void> {
  ctx.emit({ type: 'phase', id: 'schema-load', message: 'Loading the dump into the target in one transaction…' });
  const stderr: string[] = [];
  try {
    await runPgTool(psql, args, { env, signal: ctx.signal, onStderrLine: (line) => stderr.push(scrub(line, ctx.target)) });
  } catch (error) {
    ctx.emit({ type: 'done', id: 'schema-load', message: 'Loading the schema failed; the target is unchanged', ok: false });
    await restartTimescaleJobs(ctx.target, timescale);
    if (error instanceof InterruptedError) {
      throw new InterruptedError('Interrupted while loading the schema; the transaction was rolled back, so the target is unchanged.', {
        hint: 'Run `migrate schema` again with the same --table flags.',
      });
    }
    throw new MigrateError('Loading the schema into the target failed. The load runs in a single transaction, which was rolled back: ' +
      `the target is unchanged. psql said:\n${errorLines(stderr).map((l) => `  ${l}`).join('\n')}`, {
      hint: `Fix the cause above (the dump is ${dumpFile}), then run \`migrate schema\` again with the same --table flags.`,
      cause: error,
    });
  }
  const warnings = stderr.filter((l) => /WARNING:/.test(l));
  ctx.emit({ type: 'done', id: 'schema-load', message: 'Loaded the schema and relational data into the target' });
  if (warnings.length > 0) ctx.emit({ type: 'warn', message: 'psql reported warnings during the load:', detail: warnings.slice(0, 20) });
}

/**
 * timescaledb_pre_restore() also stops the database's background workers, which a rollback does not
 * undo. When TimescaleDB was already installed in the target (so the rollback did not remove it),
 * post_restore starts them again. Best effort: the load's error is what the operator needs to see.
 */
async function restartTimescaleJobs(target: Endpoint, timescale: TimescalePlan): Promise<void> {
  if (timescale.restoreSchema === undefined || timescale.createSql !== undefined) return;
  const schema = quoteIdent(timescale.restoreSchema);
  await withClient(target, (client) => client.query(`SELECT ${schema}.timescaledb_post_restore()`)).catch(() => undefined);
}

async function refuseNonEmptyTarget(client: Client, allowed: boolean): Promise<void> {
  const tables = await listTargetUserTables(client);
  if (tables.length === 0 || allowed) return;
  const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
  throw new UsageError(`The target database ${rows[0]?.db ?? ''} already holds ${tables.length} table${tables.length === 1 ? '' : 's'}: ` +
    `${listNames(tables)}. Nothing was changed.`, {
    hint: 'Load into an empty database (createdb), or pass --yes to load into this one anyway (the load is one ' +
      'transaction: a name clash rolls all of it back).',
  });
}

async function readTargetTimescale(client: Client): Promise<TargetTimescaleFacts> {
  const available = await client.query<{ default_version: string }>(
    "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'");
  const versions = await client.query<{ version: string }>(
    "SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb' ORDER BY version DESC");
  const installed = await client.query<{ version: string; schema: string }>(
    `SELECT e.extversion AS version, n.nspname AS schema FROM pg_extension e
       JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'`);
  const facts: TargetTimescaleFacts = {
    installable: versions.rows.map((r) => r.version),
    preloaded: await readTimescalePreloaded(client),
  };
  if (available.rows[0]) facts.defaultVersion = available.rows[0].default_version;
  if (installed.rows[0]) facts.installed = installed.rows[0];
  return facts;
}

async function missingTables(client: Client, tables: QualifiedName[]): Promise<QualifiedName[]> {
  if (tables.length === 0) return [];
  const { rows } = await client.query<{ i: number }>(
    `SELECT i FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema, name, i)
      WHERE NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = t.schema AND c.relname = t.name)`,
    [tables.map((t) => t.schema), tables.map((t) => t.table)]);
  return rows.map((r) => tables[Number(r.i) - 1]).filter((t): t is QualifiedName => t !== undefined);
}

/** Tools do not print passwords, but a message we pass on must never carry one. */
function scrub(line: string, endpoint: Endpoint): string {
  return scrubSecrets(line, endpoint);
}
