/**
 * `migrate hypertables`: turn tables on the target into hypertables, optionally with compression.
 *
 * Every table is checked before any is converted (a blocker anywhere changes nothing anywhere);
 * then each table is converted in its own transaction. With `fix`, the blockers the tool can remove
 * itself (hypertable-fix.ts) are listed with their cost first, then removed in the table's conversion
 * transaction, right before create_hypertable. Tables that already are hypertables are
 * left as they are, so running again is safe, and reported with the settings they have (chunk
 * interval, compression), not the ones asked for.
 */
import { resolveTable, resolveTimeColumn, type TableInfo } from '../core/catalog.js';
import { suggestCommand } from '../core/suggest.js';
import type { StepContext } from '../core/context.js';
import { withClient, withTransaction, type Client } from '../core/db.js';
import { MigrateError, UsageError, describeError, isPgError } from '../core/errors.js';
import { FK_TO_HYPERTABLE_VERSION, compareVersions, isFixable, nullTimeBlocker, routingTriggerBlocker, structuralBlockers }
  from '../core/hypertable-blockers.js';
import { formatCommandLine } from '../core/shell.js';
import { displayName, displayTableSpec, quoteIdent, quoteQualified, type QualifiedName, type TableSpec } from '../core/identifiers.js';
import { isIntegerTimeType, shortTypeName, type TimeType } from '../core/time-values.js';
import { compressionPolicySql, compressionSql, createHypertableSql, formatOrderBy, parseOrderBy, type OrderByItem }
  from './hypertable-sql.js';
import { describeFix, findRoutingTriggers, planFix, type TableFix } from './hypertable-fix.js';
import { readCompressionState, reportExisting, type CompressionReport, type CompressionState } from './hypertable-settings.js';
import { chooseInterval, ensureTimescale, normalizeInterval, openSourceSuggester, type SourceSuggester, type TimescaleInfo }
  from './hypertables-target.js';

export interface CompressRequest {
  /** Exact column names. */
  segmentBy?: string[];
  /** `time DESC`, `"Created At" DESC NULLS LAST, id` (SQL name rules). */
  orderBy?: string;
  /** An interval (`7 days`); for integer time columns a whole number in the column's units, or an interval of chunk age. */
  compressAfter?: string;
}

export interface HypertableRequest {
  table: TableSpec;
  chunkInterval?: string;
  compress?: CompressRequest;
  /** Remove the blockers the tool can fix itself (listed first), in the conversion's transaction. */
  fix?: boolean;
}

export interface HypertablesInput {
  tables: HypertableRequest[];
  /**
   * How the operator asks for the fix (named in the refusal when a table has blockers `fix` would
   * remove): the command line with the flags given and `--fix`, or the wizard's plan field.
   */
  fixAdvice?: string;
  /** The command line that runs this again (the flags given, without --fix); default: the tables and the shared flags given. */
  again?: string;
  /** `--fix` given on the command line: a run with nothing to fix is refused (exit 2), changing nothing. */
  fixRequired?: boolean;
}

export interface HypertableResult {
  table: QualifiedName;
  timeColumn: string;
  timeType: string;
  chunkInterval: string;
  chunkIntervalReason: string;
  /** `would-convert` only with --dry-run. */
  status: 'converted' | 'already-hypertable' | 'would-convert';
  /** The table had rows on the target and was converted with migrate_data => true. */
  migratedData: boolean;
  /** For a table that already was a hypertable, always: what it has (`not-enabled` included). */
  compression?: CompressionReport;
  policyJobId?: number;
  /** What --fix changed (or, with --dry-run, would change) before converting. */
  fix?: TableFix;
}

interface Plan {
  table: TableInfo;
  time: { column: string; type: TimeType };
  already: boolean;
  /** What a table that already is a hypertable has. */
  existing?: CompressionState;
  interval: { value: string; reason: string };
  hasRows: boolean;
  fix?: TableFix;
  compress?: { segmentBy: string[]; orderBy: OrderByItem[]; enabled: boolean; jobId?: number;
    threshold?: { kind: 'interval' | 'integer' | 'created-before'; value: string } };
}

interface Problem { message: string; fix?: string; fixable?: boolean }

/** The default advice: `migrate hypertables --table … --fix` for the tables asked for. */
function defaultFixAdvice(tables: HypertableRequest[]): string {
  return `\`${formatCommandLine(['migrate', 'hypertables', ...tables.flatMap((t) => ['--table', displayTableSpec(t.table)]), '--fix'])}\``;
}

export async function runHypertables(input: HypertablesInput, ctx: StepContext): Promise<HypertableResult[]> {
  if (input.tables.length === 0) {
    throw new UsageError('No tables to convert.', { hint: 'Name them with --table schema.table[:time_column] (see `migrate candidates`).' });
  }
  return withClient(ctx.target, async (client) => {
    const ts = await ensureTimescale(client, ctx);
    const source = openSourceSuggester(ctx);
    const plans: Plan[] = [];
    const problems: Problem[] = [];
    try {
      for (const request of input.tables) {
        try {
          const plan = await planTable(client, request, ts, source, problems, input.fixAdvice ?? defaultFixAdvice(input.tables), ctx);
          if (plan) plans.push(plan);
        } catch (error) {
          if (!(error instanceof UsageError)) throw error;
          problems.push(error.hint === undefined ? { message: error.message } : { message: error.message, fix: error.hint });
        }
      }
    } finally {
      await source.close();
    }
    if (problems.length > 0) throw refusal(problems, againCommand(input, ctx));
    if (input.fixRequired && !plans.some((p) => p.fix) && plans.some((p) => !p.already)) {
      const names = plans.filter((p) => !p.already).map((p) => displayName(p.table.name));
      throw new UsageError(`--fix: ${names.join(', ')} ${names.length === 1 ? 'has' : 'have'} no blocker it can fix ` +
        '(a key without the time column, inheritance, a routing trigger); nothing was changed.', {
        hint: 'Run the same command without --fix.' });
    }
    for (const plan of plans) {
      if (!plan.fix) continue;
      ctx.emit({ type: 'info', message: `${displayName(plan.table.name)}: --fix ${ctx.dryRun ? 'would change' : 'changes'} ` +
        'this on the target, in the same transaction as create_hypertable:', detail: describeFix(plan.fix) });
    }
    const results: HypertableResult[] = [];
    for (const plan of plans) {
      if (ctx.signal.aborted) break;
      results.push(await convert(client, plan, ts, ctx, againCommand(input, ctx)));
    }
    return results;
  });
}

function againCommand(input: HypertablesInput, ctx: StepContext): string {
  return input.again ?? suggestCommand(ctx.repeat, 'hypertables', input.tables.flatMap((t) => ['--table', displayTableSpec(t.table)]));
}

function refusal(problems: Problem[], again: string): UsageError {
  if (problems.length === 1) {
    const [only] = problems as [Problem];
    return new UsageError(`${only.message} Nothing was changed.`, { hint: only.fix ?? `Fix it and run \`${again}\` again.` });
  }
  const lines = problems.map((p) => `  - ${p.message}${p.fix ? `\n    fix: ${p.fix}` : ''}`);
  return new UsageError(`${problems.length} problems; nothing was changed:\n${lines.join('\n')}`, {
    hint: problems.some((p) => p.fixable) ? 'Apply each fix above on the target (--fix does those it names), and run ' +
      `\`${again}\` again.` : `Fix them on the target and run \`${again}\` again.`,
  });
}

async function planTable(client: Client, request: HypertableRequest, ts: TimescaleInfo, source: SourceSuggester,
  problems: Problem[], fixAdvice: string, ctx: StepContext): Promise<Plan | undefined> {
  const table = await resolveTable(client, request.table, 'target');
  const time = await resolveTimeColumn(client, table, request.table.column);
  const name = displayName(table.name);
  const already = table.hypertable !== undefined;
  // ONLY: an inheritance parent's children are not its rows (and --fix detaches them).
  const hasRows = (await client.query(`SELECT 1 FROM ONLY ${quoteQualified(table.name)} LIMIT 1`)).rowCount !== 0;
  let interval: Plan['interval'];
  let fix: TableFix | undefined;
  const before = problems.length;
  if (already) {
    if (request.table.column !== undefined && request.table.column !== table.hypertable?.column) {
      ctx.emit({ type: 'warn', message: `${name} is already a hypertable on ${table.hypertable?.column}, not on ${request.table.column}; left as it is.` });
    }
    interval = { value: table.hypertable?.interval ?? '', reason: 'already a hypertable' };
    if (request.chunkInterval !== undefined && request.chunkInterval !== interval.value) {
      ctx.emit({ type: 'warn', message: `${name} is already a hypertable; its chunk interval (${interval.value}) is left as it is.`,
        detail: ['To change it for new chunks: SELECT set_chunk_time_interval(…);'] });
    }
  } else {
    const foreignKeysToHypertables = compareVersions(ts.version, FK_TO_HYPERTABLE_VERSION) >= 0;
    const { blockers } = structuralBlockers(table, time.column, { foreignKeysToHypertables });
    const triggers = await findRoutingTriggers(client, table.oid);
    blockers.push(...triggers.map((t) => routingTriggerBlocker(table, t.name)));
    const nullable = !table.columns.find((c) => c.name === time.column)?.notNull;
    if (nullable && hasRows) {
      const nulls = await client.query(`SELECT 1 FROM ONLY ${quoteQualified(table.name)} WHERE ${quoteIdent(time.column)} IS NULL LIMIT 1`);
      if (nulls.rowCount !== 0) blockers.push(nullTimeBlocker(table, time.column));
    }
    // The rows that matter are still on the source: the backfill could never bring them into a hypertable.
    const sourceNulls = await source.nullTimes(table.name, time.column, time.type);
    if (sourceNulls && !blockers.some((b) => b.kind === 'nullable-time')) blockers.push(nullTimeBlocker(table, time.column, 'source'));
    problems.push(...blockers.filter((b) => !isFixable(b)).map((b) => ({ message: b.message, fix: b.fix })));
    const fixable = blockers.filter(isFixable);
    if (fixable.length > 0) {
      fix = await planFix(client, table, time.column, { foreignKeysToHypertables, triggers });
      if (!request.fix && fix) {
        problems.push({ message: fixable.map((b) => b.message).join(' '), fixable: true,
          fix: `${fixAdvice} does it on the target (list first, then in one transaction per table): ` +
            `${fix.changes.join('; ')}. Cost: ${fix.costs.join('; ')}.` });
      } else if (!fix) {
        problems.push(...fixable.map((b) => ({ message: b.message, fix: b.fix })));
      }
    }
    interval = await chooseInterval(client, request, table, time, hasRows, source, ctx);
  }
  const plan: Plan = { table, time, already, interval, hasRows, ...(fix && request.fix ? { fix } : {}) };
  if (already) plan.existing = await readCompressionState(client, table.name, table.columns.map((c) => c.name));
  if (request.compress) plan.compress = await planCompression(client, request.compress, plan, ts, ctx);
  return problems.length > before ? undefined : plan;
}

async function planCompression(client: Client, request: CompressRequest, plan: Plan, ts: TimescaleInfo, ctx: StepContext):
  Promise<NonNullable<Plan['compress']>> {
  const name = displayName(plan.table.name);
  const orderBy = request.orderBy === undefined ? [] : parseOrderBy(request.orderBy);
  const segmentBy = request.segmentBy ?? [];
  const missing = [...segmentBy, ...orderBy.map((o) => o.column)].filter((c) => !plan.table.columns.some((x) => x.name === c));
  if (missing.length > 0) {
    throw new UsageError(`${name} has no column ${missing.map((c) => JSON.stringify(c)).join(', ')} (named in --segment-by/--order-by).`, {
      hint: `Its columns are: ${plan.table.columns.map((c) => c.name).join(', ')}. Quote names with capitals or spaces: '"Device Id"'.`,
    });
  }
  const state: CompressionState = plan.existing ?? { enabled: false, segmentBy: [], orderBy: [], integerNow: false };
  const result: NonNullable<Plan['compress']> = { segmentBy, orderBy, enabled: state.enabled };
  if (state.jobId !== undefined) result.jobId = state.jobId;
  const after = request.compressAfter?.trim();
  if (after === undefined) return result;
  if (isIntegerTimeType(plan.time.type) && /^\+?\d+$/.test(after)) {
    if (!state.integerNow) {
      throw new UsageError(`--compress-after ${after} on the integer time column ${plan.time.column} of ${name} needs an ` +
        'integer_now function, which tells TimescaleDB what "now" is in the column\'s units; none is set.', {
        hint: `Either give an age of chunks instead (--compress-after '7 days'), or convert first, then run SELECT ` +
          `set_integer_now_func('${quoteQualified(plan.table.name).replace(/'/g, "''")}', 'your_now_function'); and run this again.`,
      });
    }
    result.threshold = { kind: 'integer', value: after };
  } else if (isIntegerTimeType(plan.time.type)) {
    if (!ts.createdBefore) {
      throw new UsageError(`--compress-after '${after}' on an integer time column needs compress_created_before ` +
        `(TimescaleDB 2.15+); the target has ${ts.version}.`, { hint: 'Give a whole number in the column\'s units instead.' });
    }
    result.threshold = { kind: 'created-before', value: await normalizeInterval(client, after, '--compress-after') };
    ctx.emit({ type: 'info', message: `${name}: --compress-after '${after}' on the integer column ${plan.time.column} ` +
      'compresses chunks by age (compress_created_before): backfilled chunks count from when they are created.' });
  } else {
    result.threshold = { kind: 'interval', value: await normalizeInterval(client, after, '--compress-after') };
  }
  return result;
}

async function convert(client: Client, plan: Plan, ts: TimescaleInfo, ctx: StepContext, again: string): Promise<HypertableResult> {
  const name = displayName(plan.table.name);
  const regclass = quoteQualified(plan.table.name);
  const result: HypertableResult = {
    table: plan.table.name, timeColumn: plan.time.column, timeType: shortTypeName(plan.time.type),
    chunkInterval: plan.interval.value, chunkIntervalReason: plan.interval.reason,
    status: plan.already ? 'already-hypertable' : ctx.dryRun ? 'would-convert' : 'converted', migratedData: false,
  };
  const run = async (sql: string, params: unknown[]): Promise<void> => {
    if (ctx.dryRun) ctx.emit({ type: 'sql', side: 'target', sql, params });
    else await client.query(sql, params);
  };
  ctx.emit({ type: 'phase', id: `hypertable:${name}`, message: plan.already ? `${name} is already a hypertable`
    : `Converting ${name} (time column ${plan.time.column}, chunks of ${plan.interval.value})` });
  if (plan.fix) result.fix = plan.fix;
  await withTransaction(client, async () => {
    for (const statement of plan.fix?.statements ?? []) await run(statement, []);
    if (!plan.already) {
      if (plan.hasRows) {
        ctx.emit({ type: 'warn', message: `${name} already has rows on the target: converting with migrate_data => true, ` +
          'which moves them into chunks and locks the table meanwhile.' });
        result.migratedData = true;
      }
      await run(createHypertableSql({ extensionSchema: ts.schema, byRange: ts.byRange, type: plan.time.type }),
        [regclass, plan.time.column, plan.interval.value, plan.hasRows]);
    }
    // An existing hypertable keeps what it has: that is what we report, and only what it lacks is added.
    if (plan.existing) {
      result.compression = reportExisting(plan.existing);
      if (plan.existing.jobId !== undefined) result.policyJobId = plan.existing.jobId;
    }
    const compress = plan.compress;
    if (!compress) return;
    // Enabled already: plan.existing holds the settings, reported above.
    const report: CompressionReport = compress.enabled && result.compression ? result.compression
      : { status: ctx.dryRun ? 'would-enable' : 'enabled', segmentBy: compress.segmentBy, orderBy: formatOrderBy(compress.orderBy) };
    result.compression = report;
    if (compress.enabled) {
      ctx.emit({ type: 'info', message: `Compression is already enabled on ${name}; its settings are left as they are.` });
    } else {
      await run(compressionSql(plan.table.name, compress.segmentBy, compress.orderBy), []);
    }
    if (!compress.threshold) return;
    if (compress.jobId !== undefined) {
      if (compress.threshold.value !== report.compressAfter) {
        ctx.emit({ type: 'info', message: `${name} already has a compression policy (job ${compress.jobId}` +
          `${report.compressAfter === undefined ? '' : `, after ${report.compressAfter}`}); it is left as it is.` });
      }
      return;
    }
    report.compressAfter = compress.threshold.value;
    await run(compressionPolicySql(ts.schema, compress.threshold.kind, plan.time.type), [regclass, compress.threshold.value]);
    if (!ctx.dryRun) {
      const columns = plan.table.columns.map((c) => c.name);
      const jobId = (await readCompressionState(client, plan.table.name, columns)).jobId;
      if (jobId !== undefined) result.policyJobId = jobId;
    }
  }).catch((error: unknown) => {
    ctx.emit({ type: 'done', id: `hypertable:${name}`, message: `${name} was not converted`, ok: false });
    if (!isPgError(error)) throw error;
    throw new MigrateError(`Converting ${name} failed, so its transaction was rolled back: ${describeError(error)}`, {
      hint: `Fix the cause on the target and run \`${again}\` again; tables converted before it stay converted.`,
      cause: error,
    });
  });
  ctx.emit({ type: 'done', id: `hypertable:${name}`, message: `${name}: ${result.status}` +
    (result.policyJobId !== undefined ? `, compression policy job ${result.policyJobId}` : '') });
  return result;
}
