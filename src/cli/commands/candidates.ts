/** `migrate candidates`: list the source tables that should become hypertables, largest first. Read-only. */
import type { Command } from 'commander';
import { displayName, displayTableSpec } from '../../core/identifiers.js';
import { suggestCommand, type RepeatFlags } from '../../core/suggest.js';
import type { Candidate } from '../../steps/candidates.js';
import { parseTables, withSharedOptions, withTableOption, type ConnectionFlags, type DirFlags, type JsonFlags,
  type TableFlags } from '../options.js';
import { prepareRuntime, printResult } from '../run.js';
import { formatBytes, formatTable } from '../../core/text-table.js';

export function register(program: Command): void {
  withTableOption(withSharedOptions(program.command('candidates')
    .description('list hypertable candidates on the source: size, rows, suggested time column and chunk interval, blockers')),
  'examine only this table, whatever its size (repeatable); `:column` names its time column')
    .option('--min-size <size>', 'only tables at least this big (table + indexes + TOAST), e.g. 0, 500kB, 10MB, 2GB', '10MB')
    .addHelpText('after', '\nReads the source only. Exit status: 0 (blockers are reported, not failures), ' +
      '2 for a --table that does not exist or a bad --min-size.')
    .action(async (flags: Omit<ConnectionFlags, 'target'> & DirFlags & JsonFlags & TableFlags & { minSize: string }) => {
      const { findCandidates, parseSize } = await import('../../steps/candidates.js');
      const minBytes = parseSize(flags.minSize);
      const tables = parseTables(flags.table);
      const runtime = await prepareRuntime(flags);
      const candidates = await findCandidates({ minBytes, ...(tables.length > 0 ? { tables } : {}) }, runtime.ctx);
      printResult(runtime, candidates, () => formatCandidates(candidates, flags.minSize, flags));
    });
}

const rowsText = (c: Candidate): string => (c.estimatedRows < 0 ? 'unknown' : `~${c.estimatedRows.toLocaleString('en-US')}`);

export function formatCandidates(candidates: Candidate[], minSize: string, given: RepeatFlags = {}): string {
  if (candidates.length === 0) {
    return `No hypertable candidates (tables of at least ${minSize} with a time-like column). ` +
      'Try --min-size 0, or name tables with --table.';
  }
  const lines = [formatTable(candidates, [
    { header: 'table', value: (c) => displayName(c.table) },
    { header: 'size', value: (c) => formatBytes(c.totalBytes), align: 'right' },
    { header: 'rows', value: rowsText, align: 'right' },
    { header: 'time column', value: (c) => (c.timeColumn ? `${c.timeColumn.name} (${c.timeColumn.type})` : '-') },
    { header: 'chunk interval', value: (c) => c.chunkInterval?.value ?? '-' },
    { header: 'status', value: (c) => (c.blockers.length > 0 ? `BLOCKED (${c.blockers.length})` : c.hypertable ? 'hypertable' : 'ready') },
  ])];
  for (const c of candidates) {
    lines.push('', `${displayName(c.table)}:`);
    if (c.timeColumn) lines.push(`  time column ${c.timeColumn.name}: ${c.timeColumn.reason}`);
    if (c.otherTimeColumns.length > 0) lines.push(`  other time-like columns: ${c.otherTimeColumns.join(', ')}`);
    if (c.timeRange) lines.push(`  time range: ${c.timeRange.min} .. ${c.timeRange.max} (${c.timeRange.method})`);
    if (c.chunkInterval) lines.push(`  chunk interval ${c.chunkInterval.value}: ${c.chunkInterval.reason}`);
    for (const note of c.notes) lines.push(`  note: ${note}`);
    for (const w of c.warnings) lines.push(`  warning: ${w.message}`, `    ${w.fix}`);
    for (const b of c.blockers) lines.push(`  BLOCKER (${b.kind}): ${b.message}`, `    fix: ${b.fix}`);
  }
  const ready = candidates.filter((c) => c.blockers.length === 0 && c.timeColumn && !c.hypertable);
  if (ready.length > 0) {
    // One command per line, each pasteable as it stands (the table names are shell-quoted), with --source and --dir as given.
    const tables = ready.flatMap((c) => ['--table', displayTableSpec({ ...c.table, column: c.timeColumn?.name ?? '' })]);
    lines.push('', `Next: ${suggestCommand(given, 'schema', tables)}`, `Then: ${suggestCommand(given, 'hypertables', tables)}`);
  }
  return lines.join('\n');
}
