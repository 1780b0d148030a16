import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { displayName, displayTableSpec, parseTableSpec } from '../../core/identifiers.js';
import { suggestCommand, type RepeatFlags } from '../../core/suggest.js';
import type { SchemaResult } from '../../steps/schema.js';
import { describeDomainColumn, describeTree } from '../../steps/schema-trees.js';
import { parseTables, withSharedOptions, withTableOption, type CommonFlags, type TableFlags } from '../options.js';
import { prepareRuntime, printResult, recordOutcome } from '../run.js';

export function register(program: Command): void {
  withTableOption(withSharedOptions(program.command('schema')
    .description('dump the schema and relational data (without the given tables\' data) and load it into the target')),
  'a hypertable candidate whose data is left out (repeatable; `migrate candidates` lists them)')
    .option('-y, --yes', 'load even though the target database already holds tables')
    .option('--no-owner', 'leave every object owned by the target user (do not carry the source\'s owners)')
    .option('--no-privileges', 'do not carry GRANT/REVOKE and default privileges')
    .addHelpText('after', `
Examples:
  migrate schema --table public.metrics --table '"Sales Data"."Orders":"Created At"'
  migrate schema --table metrics --dry-run      # print the pg_dump and psql commands; change nothing

The load runs in one transaction: if it fails, the target is left as it was. Owners and privileges
come across afterwards, one statement at a time, from a second, schema-only dump: each one the
target refuses is reported (and written to DIR/privileges-refused.sql), never fatal.
From a TimescaleDB source, the same transaction pauses every background job (id >= 1000) before
TimescaleDB's scheduler restarts; each comes back as it is on the source once the backfill of every
table loaded empty is complete (DIR/pause-jobs.sql; \`migrate status\` shows them).
Exit status: 0 loaded, 1 failed (pg_dump/psql missing or failing), 2 bad input (unknown table or
column, target not empty without --yes, unwritable --dir).`)
    .action(async (flags: CommonFlags & TableFlags & { yes?: boolean; owner: boolean; privileges: boolean }) => {
      const tables = parseTables(flags.table);
      if (tables.length === 0) {
        throw new UsageError('Name the hypertable candidates whose data to leave out with --table.', {
          hint: `Run \`${suggestCommand(flags, 'candidates')}\` to list them, then e.g. ` +
            `\`${suggestCommand(flags, 'schema', ['--table', 'public.metrics:time'])}\`.`,
        });
      }
      const runtime = await prepareRuntime(flags, { writesDir: true, recordsState: true, yes: flags.yes });
      const { runSchema } = await import('../../steps/schema.js');
      const result = await runSchema({ tables, allowNonEmptyTarget: Boolean(flags.yes), owners: flags.owner,
        privileges: flags.privileges }, runtime.ctx);
      // Naming the tables here is the scripted form of the wizard's selection step.
      await recordOutcome(runtime, ['select-hypertables', 'schema'], { status: 'done',
        message: `schema loaded; ${tables.length} table(s) left empty for the backfill`,
        // What was carried: `migrate readiness` compares owners and grants only where they were.
        data: { tables: tables.map((t) => displayTableSpec(t)), carried: { owners: flags.owner, privileges: flags.privileges } } });
      printResult(runtime, result, () => formatResult(result, flags.table ?? [], flags));
    });
}

export function formatResult(result: SchemaResult, given: string[], repeat: RepeatFlags = {}): string {
  const names = (list: SchemaResult['tablesLoaded']): string =>
    list.length === 0 ? '  (none)' : list.map((t) => `  ${displayName(t)}`).join('\n');
  const lines = result.dryRun
    ? ['Dry run: the commands above would run; nothing was written or changed.',
      `Would copy with data (${result.tablesLoaded.length}):`, names(result.tablesLoaded),
      `Would create empty (${result.emptyTables.length}):`, names(result.emptyTables)]
    : [`Schema loaded into the target${result.timescaleVersion ? ` (TimescaleDB ${result.timescaleVersion})` : ' (no TimescaleDB)'}; ` +
        `dump: ${result.dumpFile}`,
      `Tables loaded with their data (${result.tablesLoaded.length}):`, names(result.tablesLoaded),
      `Tables loaded empty, to backfill (${result.emptyTables.length}):`, names(result.emptyTables)];
  if (result.trees.length > 0 || result.domainColumns.length > 0) {
    lines.push(`Partitioned and inheritance trees (${result.trees.length}), ${result.dryRun ? 'to become' : 'now'} one plain table each:`,
      ...result.trees.flatMap(describeTree).map((l) => `  ${l}`),
      ...result.domainColumns.map((d) => `  ${describeDomainColumn(d)}`));
    if (result.sourceDumpFile) lines.push(`  (pg_dump's own output: ${result.sourceDumpFile}; loaded: ${result.dumpFile})`);
  }
  const paused = result.jobPause?.jobs ?? [];
  if (paused.length > 0) {
    lines.push(`Background jobs ${result.dryRun ? 'to pause' : 'paused'} until every table loaded empty is backfilled: ` +
      `${paused.map((j) => j.jobId).join(', ')} (\`${suggestCommand(repeat, 'status')}\` shows them).`);
  }
  const carried = result.privileges;
  if (carried?.error) lines.push(`Owners and privileges: NOT carried (${carried.error}).`);
  else if (carried) {
    lines.push(`Owners and privileges: ${carried.applied} statement(s) applied` +
      (carried.refused.length > 0 ? `, ${carried.refused.length} refused by the target (see above; they are in ${carried.refusedFile})` : '') + '.');
  }
  // The given tables in their canonical spelling, shell-quoted: a pasteable next command.
  const next = given.flatMap((t) => ['--table', displayTableSpec(parseTableSpec(t))]);
  if (!result.dryRun) lines.push(`Next: ${suggestCommand(repeat, 'hypertables', next)}`);
  return lines.join('\n');
}
