/**
 * `migrate validate`: compare source and target over [from, T); exit 3 when anything differs there.
 * Plain tables are compared too (whole), and reported apart without changing the exit status.
 */
import type { Command } from 'commander';
import { DifferencesFoundError, MigrateError, UsageError } from '../../core/errors.js';
import { displayTableSpec, parseTableSpec } from '../../core/identifiers.js';
import { suggestCommand } from '../../core/suggest.js';
import { collect, userTriggersOption, withSharedOptions, withTableOption, parseTables, type CommonFlags } from '../options.js';
import type { UserTriggerChoice } from '../../steps/backfill/user-triggers.js';
import { prepareRuntime, printResult, recordOutcome } from '../run.js';
import { formatTable } from '../../core/text-table.js';
import { describeDifferences } from '../../steps/validate-describe.js';
import type { TableValidation, ValidateResult } from '../../steps/validate.js';
import { describePlainTables, type PlainTableValidation } from '../../steps/validate-plain.js';

interface Flags extends CommonFlags {
  table?: string[];
  until?: string[];
  from?: string[];
  timezone?: string;
  estimate?: boolean;
  repair?: boolean;
  lateness?: string;
  userTriggers?: UserTriggerChoice;
  /** undefined: neither --plain-tables nor --no-plain-tables. */
  plainTables?: boolean;
}

export function register(program: Command): void {
  withTableOption(withSharedOptions(program.command('validate')
    .description('compare source and target below the completion point: row counts and checksums per slice')),
  'a table to validate (repeatable): schema.table[:time_column]; default: the tables with recorded completion points')
    .option('--until <T>', 'upper bound (exclusive): VALUE or schema.table=VALUE; default: the recorded completion point', collect)
    .option('--from <start>', 'lower bound (inclusive): VALUE or schema.table=VALUE; default: -infinity (every row below T)', collect)
    .option('--timezone <zone>', 'zone of --until/--from values written without an offset (e.g. Europe/Berlin)')
    .option('--estimate', 'fast and approximate: ANALYZE and compare row estimates (whole tables, no checksums)')
    .option('--repair', 're-backfill the slices that differ, then check them again')
    .option('--lateness <interval>', 'rows this close to now (either side) may be in flight: left out of the dual-write window ' +
      '(default 10 minutes)')
    .addOption(userTriggersOption())
    .option('--plain-tables', 'also compare the plain tables (those copied with the schema), reported apart, never exit 3; ' +
      'the default unless --table or --estimate is given')
    .option('--no-plain-tables', 'compare the time tables only')
    .action(async (flags: Flags) => {
      if (flags.userTriggers && !flags.repair) {
        throw new UsageError('--user-triggers applies to the rows --repair copies again; without --repair nothing is copied.', {
          hint: 'Add --repair, or leave --user-triggers out.',
        });
      }
      let tables = parseTables(flags.table);
      const runtime = await prepareRuntime(flags, { writesDir: true, recordsState: !flags.estimate });
      const { ctx } = runtime;
      if (tables.length === 0) {
        // Like backfill: without --table, the tables whose completion points were recorded.
        const points = await import('../../core/completion-points.js');
        tables = points.recordedTables(await points.readCompletionPoints(ctx.dir));
      }
      const { runValidate } = await import('../../steps/validate.js');
      const startedAt = new Date().toISOString();
      const result = await runValidate({
        tables,
        ...(flags.until ? { until: flags.until } : {}),
        ...(flags.from ? { from: flags.from } : {}),
        ...(flags.timezone !== undefined ? { timezone: flags.timezone } : {}),
        ...(flags.estimate ? { estimate: true } : {}),
        ...(flags.repair ? { repair: true } : {}),
        ...(flags.lateness !== undefined ? { lateness: flags.lateness } : {}),
        ...(flags.userTriggers ? { userTriggers: flags.userTriggers } : {}),
        // Tables named with --table: just those, unless --plain-tables says otherwise.
        plainTables: flags.plainTables ?? (!flags.estimate && (flags.table ?? []).length === 0),
      }, ctx);
      if (result.mode === 'checksums' && !ctx.dryRun) {
        // So `migrate status` and `migrate resume` know; an estimate proves too little to finish the step.
        const differing = [...(result.repair?.after.length ? result.repair.after : result.tables).filter((t) => !t.ok).map((t) => t.table),
          ...(result.aggregates ?? []).filter((a) => !a.ok).map((a) => a.view)];
        const plain = result.plainTablesSummary && result.plainTablesSummary.match < result.plainTablesSummary.tables
          ? `; plain tables: ${describePlainTables(result.plainTablesSummary)}` : '';
        await recordOutcome(runtime, ['validate'], {
          status: result.ok ? 'done' : 'failed', startedAt,
          message: `${result.ok ? 'source and target match below the completion point' : `differences in ${differing.join(', ')}`}${plain}`,
          data: { tables: result.tables.map((t) => ({ table: t.table, from: t.from, until: t.until, rows: t.rows, ok: t.ok })),
            ...(result.plainTables ? { plainTables: result.plainTables.map((t) => ({ table: t.table, rows: t.rows, status: t.status })) } : {}) },
        });
      }
      printResult(runtime, result, () => formatResult(result, flags));
      throwUnlessOk(result, flags);
    });
}

function formatResult(result: ValidateResult, flags: Flags): string {
  if (result.mode === 'estimate') {
    const rows = (n: number): string => (n < 0 ? '-' : `~${Math.round(n).toLocaleString('en-US')}`);
    return [
      'Row estimates after ANALYZE (approximate, whole tables; run without --estimate for exact checksums):',
      formatTable(result.estimates ?? [], [
        { header: 'table', value: (e) => e.table },
        { header: 'source rows', value: (e) => rows(e.source), align: 'right' },
        { header: 'target rows', value: (e) => rows(e.target), align: 'right' },
        { header: 'difference', value: (e) => (e.status === 'unusable' ? '-' : `${(e.relativeDifference * 100).toFixed(2)}%`), align: 'right' },
        { header: 'result', value: (e) => (e.note ? `${e.status}: ${e.note}` : e.status) },
      ]),
    ].join('\n');
  }
  if (result.dryRun) return 'Dry run: nothing was read or compared (the checks a run makes first all passed).';
  const lines = [formatSummary(result.tables)];
  const differing = result.tables.filter((t) => t.differences.length > 0);
  if (differing.length > 0) lines.push('', 'Slices that differ:', formatDifferences(differing));
  lines.push(...formatWindows(result.tables));
  for (const t of result.tables) for (const w of t.warnings) lines.push(`warning: ${t.table}: ${w}`);
  if (result.repair) {
    lines.push('', result.repair.dryRun
      ? `Dry run: would re-backfill ${result.repair.ranges.length} slice(s).`
      : `Re-backfilled ${result.repair.ranges.length} slice(s); checked again:`);
    if (!result.repair.dryRun) {
      lines.push(formatSummary(result.repair.after));
      const still = result.repair.after.filter((t) => !t.ok);
      if (still.length > 0) lines.push('', 'Still differing:', formatDifferences(still));
    }
  }
  lines.push(...formatAggregates(result));
  if (result.ok) lines.push('', 'Source and target match below the completion point and in the dual-write window.');
  lines.push(...formatPlainTables(result, flags));
  return lines.join('\n');
}

/** Continuous aggregates: each compared below the bucket both sides have materialized and T. */
function formatAggregates(result: ValidateResult): string[] {
  const aggregates = result.aggregates ?? [];
  if (aggregates.length === 0) return [];
  const n = (v: number): string => v.toLocaleString('en-US');
  return ['', 'Continuous aggregates (rows below least(T, both sides\' watermarks)):', formatTable(aggregates, [
    { header: 'aggregate', value: (a) => a.view },
    { header: 'compared below', value: (a) => a.below ?? '- (nothing materialized on one side)' },
    { header: 'source rows', value: (a) => n(a.rows.source), align: 'right' },
    { header: 'target rows', value: (a) => n(a.rows.target), align: 'right' },
    { header: 'result', value: (a) => (a.ok ? 'match' : `differ: ${a.differingBuckets.join(', ')}`) },
  ])];
}

/** Plain tables, apart from the time tables: which do not match, with both sides' row counts. */
function formatPlainTables(result: ValidateResult, flags: Flags): string[] {
  const { plainTables: tables, plainTablesSummary: summary } = result;
  if (!tables || !summary) return [];
  const n = (v: number | null): string => (v === null ? '-' : v.toLocaleString('en-US'));
  const lines = ['', `Plain tables (whole tables, row count and checksum): ${describePlainTables(summary)}.`];
  const off = tables.filter((t) => t.status !== 'match');
  if (off.length > 0) {
    lines.push(formatTable(off, [
      { header: 'plain table', value: (t) => t.table },
      { header: 'source rows', value: (t) => n(t.rows.source), align: 'right' },
      { header: 'target rows', value: (t) => n(t.rows.target), align: 'right' },
      { header: 'result', value: plainStatus },
    ]));
  }
  if (off.some((t) => t.status !== 'error')) {
    const again = suggestCommand(flags, 'validate', sameRunArgs(flags), flags.table?.length ? ['--plain-tables'] : []);
    lines.push('', 'While the application writes to both databases, the plain tables it writes may differ, so these do not change ' +
      'the exit status. Once writes to the source have stopped, right before switching over, they must match: ' +
      `run \`${again}\` then.`);
  }
  for (const t of tables) for (const w of t.warnings) lines.push(`warning: ${t.table}: ${w}`);
  return lines;
}

function plainStatus(t: PlainTableValidation): string {
  switch (t.status) {
    case 'differ': return `differ: ${(t.kind ?? 'changed-rows').replace('-', ' ')}`;
    case 'source-only': return 'only on the source (missing on the target)';
    case 'target-only': return 'only on the target';
    case 'error': return `not compared: ${t.error ?? 'error'}`;
    default: return t.status;
  }
}

function formatSummary(tables: TableValidation[]): string {
  const n = (v: number): string => v.toLocaleString('en-US');
  return formatTable(tables, [
    { header: 'table', value: (t) => t.table },
    { header: 'range', value: (t) => `[${t.from}, ${t.until})` },
    { header: 'slices', value: (t) => n(t.slices), align: 'right' },
    { header: 'source rows', value: (t) => n(t.rows.source), align: 'right' },
    { header: 'target rows', value: (t) => n(t.rows.target), align: 'right' },
    { header: 'result', value: (t) => (t.ok ? 'match' : describeDifferences(t)) },
  ]);
}

/** Rows at or after T: compared ranges, and for each differing slice the rows found on one side only. */
function formatWindows(tables: TableValidation[]): string[] {
  const n = (v: number): string => v.toLocaleString('en-US');
  const lines: string[] = [];
  for (const t of tables) {
    const w = t.window;
    if (!w) continue;
    lines.push('', `${t.table}: dual-write window [${w.from}, ${w.until}) and [${w.futureFrom}, +infinity): ${n(w.rows.source)} source ` +
      `rows, ${n(w.rows.target)} target rows, ${w.differences.length === 0 ? 'match' : `${w.differences.length} of ${w.slices} slice(s) differ`}.`);
    for (const d of w.differences) {
      lines.push(`  [${d.start}, ${d.end}): source ${n(d.source.rows)} rows, target ${n(d.target.rows)} rows`);
      const show = (label: string, samples: typeof d.onlyOnSource): void => {
        for (const r of samples) {
          const key = r.key ? ` ${Object.entries(r.key).map(([k, v]) => `${k}=${v ?? 'NULL'}`).join(', ')}` : '';
          lines.push(`    only on the ${label}: ${t.column}=${r.time}${key}`);
        }
      };
      show('source', d.onlyOnSource);
      show('target', d.onlyOnTarget);
      if (d.notListed) lines.push('    (too many rows to list)');
    }
  }
  return lines;
}

function formatDifferences(tables: TableValidation[]): string {
  const rows = tables.flatMap((t) => t.differences.map((d) => ({ table: t.table, ...d })));
  const n = (v: number): string => v.toLocaleString('en-US');
  return formatTable(rows, [
    { header: 'table', value: (r) => r.table },
    { header: 'slice', value: (r) => (r.edge === 'null' ? 'time IS NULL' : r.edge === 'infinity' ? `time = ${r.start === 'infinity' ? '+infinity' : r.start}` : `[${r.start}, ${r.end})`) },
    { header: 'source rows', value: (r) => n(r.source.rows), align: 'right' },
    { header: 'target rows', value: (r) => n(r.target.rows), align: 'right' },
    { header: 'source checksum', value: (r) => r.source.checksum },
    { header: 'target checksum', value: (r) => r.target.checksum },
    { header: 'difference', value: (r) => r.kind.replace('-', ' ') },
  ]);
}

/** The same tables and bounds as this run (suggestCommand adds connections and --dir), so a suggested command checks exactly what this run checked. */
function sameRunArgs(flags: Flags): string[] {
  return [...(flags.table ?? []).flatMap((t) => ['--table', displayTableSpec(parseTableSpec(t))]),
    ...(flags.until ?? []).flatMap((v) => ['--until', v]), ...(flags.from ?? []).flatMap((v) => ['--from', v]),
    ...(flags.timezone ? ['--timezone', flags.timezone] : [])];
}

function throwUnlessOk(result: ValidateResult, flags: Flags): void {
  if (result.ok) return;
  const args = sameRunArgs(flags);
  const command = (name: 'validate' | 'backfill', ...extra: string[]): string => suggestCommand(flags, name, args, extra);
  if (result.mode === 'estimate') {
    const unusable = (result.estimates ?? []).filter((e) => e.status === 'unusable');
    if (unusable.length > 0 && unusable.length === (result.estimates ?? []).length) {
      throw new MigrateError(`Row estimates cannot be compared for ${unusable.map((e) => e.table).join(', ')}: ${unusable[0]?.note}.`, {
        hint: `Run \`${command('validate')}\` without --estimate: exact counts and checksums work on compressed chunks.`,
      });
    }
    throw new DifferencesFoundError('Row estimates differ between source and target (or could not be compared).', {
      hint: `Run \`${command('validate')}\` for exact counts and checksums per slice.`,
    });
  }
  const differing = (result.repair && !result.repair.dryRun ? result.repair.after : result.tables).filter((t) => !t.ok);
  const slices = differing.reduce((sum, t) => sum + t.differences.length, 0);
  const aggregates = (result.aggregates ?? []).filter((a) => !a.ok);
  if (differing.length === 0 && aggregates.length > 0) {
    throw new DifferencesFoundError(`The continuous aggregate${aggregates.length === 1 ? '' : 's'} ${aggregates.map((a) => a.view).join(', ')} ` +
      'differ from the source\'s below the completion point, although the hypertables\' rows match.', {
      hint: `Copy their history again with \`${command('backfill', '--redo')}\` (a TimescaleDB source's aggregates are copied ` +
        'below their watermark, then refreshed above it), or refresh the listed buckets on the target if their raw rows are complete there.',
    });
  }
  const inWindow = differing.filter((t) => (t.window?.differences.length ?? 0) > 0);
  const edges = differing.flatMap((t) => t.differences.filter((d) => d.edge !== undefined));
  if (slices > 0 && edges.length === slices && inWindow.length === 0) {
    // Only rows no slice holds differ: re-copying slices cannot help.
    throw new DifferencesFoundError(`Rows that no slice holds differ in ${differing.map((t) => t.table).join(', ')}: ` +
      `${edges.map((d) => (d.edge === 'null' ? 'rows with a NULL time' : 'rows at +infinity')).join(', ')}.`, {
      hint: edges.some((d) => d.edge === 'null')
        ? 'Give the NULL-time rows a time on the source (or delete them), then backfill again; ' +
          `copy +infinity rows with \`${command('backfill', '--include-infinity')}\`.`
        : `Copy them with \`${command('backfill', '--include-infinity')}\` (rows at an integer column's maximum value: copy them by hand).`,
    });
  }
  if (slices === 0 && inWindow.length > 0) {
    // Nothing below T to re-copy: these rows were to come by dual-writes, and did not.
    throw new DifferencesFoundError(`Rows at or after the completion point differ in ${inWindow.map((t) => t.table).join(', ')}: ` +
      'dual-writes missed them (or wrote them differently), and no backfill of [start, T) brings them.', {
      hint: 'Fix the application\'s dual-writes, then copy the listed rows by hand — or record a later completion point past them ' +
        `(\`${suggestCommand(flags, 'completion-point', (flags.table ?? []).flatMap((t) => ['--table', displayTableSpec(parseTableSpec(t))]))}\` suggests one) and backfill again with --redo.`,
    });
  }
  throw new DifferencesFoundError(`${slices} slice(s) of ${differing.map((t) => t.table).join(', ')} differ between source and target` +
    `${result.repair && !result.repair.dryRun ? ' even after the repair' : ''}.`, {
    hint: result.repair && !result.repair.dryRun
      ? 'Rows may still be arriving below T (late or dual-written rows): check the application, then run ' +
        `\`${command('validate', '--repair')}\` again.`
      : `Run \`${command('validate', '--repair')}\` to re-backfill just those slices, or \`${command('backfill', '--redo')}\`.`,
  });
}

