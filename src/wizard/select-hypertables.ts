/**
 * Step 3: which tables become hypertables. A checkbox of candidates, largest first, with size, rows,
 * time column and blockers; blocked tables explain their fix and cannot be chosen. Per chosen
 * table: the time column and chunk interval (suggestions pre-selected) and optional compression.
 * Unattended, the plan's `tables` are examined the same way and any blocker stops the run.
 */
import { MigrateError } from '../core/errors.js';
import { displayIdent, displayName, displayTableSpec, parseColumnName, parseTableSpec, quoteIdent, type TableSpec } from '../core/identifiers.js';
import type { PlanTable } from '../core/plan.js';
import { formatBytes } from '../cli/table.js';
import { answer, remember, type StepResult, type WizardContext } from './context.js';
import type { Candidate } from '../steps/candidates.js';

function describeCandidate(c: Candidate): string {
  const rows = c.estimatedRows >= 0 ? `~${c.estimatedRows.toLocaleString('en-US')} rows` : 'rows unknown';
  const time = c.timeColumn ? `time: ${c.timeColumn.name} (${c.timeColumn.type})` : 'no time column';
  return `${displayName(c.table)}  ${formatBytes(c.totalBytes)} · ${rows} · ${time}`;
}

function blockerText(c: Candidate): string[] {
  return c.blockers.map((b) => `${displayName(c.table)}: ${b.message}\n      fix: ${b.fix}`);
}

async function askTables(ctx: WizardContext, candidates: Candidate[]): Promise<PlanTable[]> {
  const blocked = candidates.filter((c) => c.blockers.length > 0);
  if (blocked.length) {
    // Most of these are small relational tables that should simply stay plain tables; the fix is
    // only for one the operator does want as a hypertable.
    ctx.say('These tables have a time column but cannot become hypertables as they are. They stay plain tables ' +
      '(copied with their data by the schema step); to convert one, apply its fix on the source and run `migrate resume`:');
    for (const line of blocked.flatMap(blockerText)) ctx.say(`  - ${line}`);
  }
  const chosen = await ctx.prompts.checkbox<Candidate>({
    message: 'Tables to convert to hypertables (their data is backfilled later)',
    choices: candidates.map((c) => ({
      name: describeCandidate(c), value: c,
      checked: c.blockers.length === 0 && c.timeColumn !== undefined,
      ...(c.blockers.length ? { disabled: `blocked: ${c.blockers[0]?.kind}` } : c.timeColumn ? {} : { disabled: 'no time column' }),
    })),
  });
  const result: PlanTable[] = [];
  for (const c of chosen) {
    const name = displayName(c.table);
    const columns = [c.timeColumn?.name, ...c.otherTimeColumns].filter((x): x is string => x !== undefined);
    const timeColumn = columns.length > 1
      ? await ctx.prompts.select({ message: `${name}: time column`, default: columns[0],
        choices: columns.map((col, i) => ({ name: i === 0 ? `${col} (suggested: ${c.timeColumn?.reason})` : col, value: col })) })
      : columns[0] as string;
    const chunkInterval = await ctx.prompts.input({ message: `${name}: chunk interval`,
      ...(c.chunkInterval ? { default: c.chunkInterval.value } : {}),
      validate: (v) => v.trim() !== '' || 'Give an interval like "1 day" (or an integer for integer time).' });
    const entry: PlanTable = { table: name, timeColumn: displayIdent(timeColumn), chunkInterval: chunkInterval.trim(), compress: false };
    if (await ctx.prompts.confirm({ message: `${name}: enable compression?`, default: false })) {
      const integer = /int/.test(c.timeColumn?.type ?? '');
      const segmentBy = await ctx.prompts.input({ message: `${name}: segment by (comma-separated columns, empty for none)`, default: '' });
      // For integer time an interval compresses by chunk age (compress_created_before); a whole
      // number would need an integer_now function the target usually lacks, so suggest the interval.
      const compressAfter = await ctx.prompts.input({
        message: integer ? `${name}: compress chunks created more than … ago` : `${name}: compress chunks older than`,
        default: '7 days', validate: (v) => v.trim() !== '' || 'Give an interval like "7 days".' });
      entry.compress = {
        ...(segmentBy.trim() ? { segmentBy: segmentBy.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
        orderBy: `${quoteIdent(timeColumn)} DESC`, compressAfter: compressAfter.trim(),
      };
    }
    result.push(entry);
  }
  return result;
}

/** Unattended: examine the plan's tables; every blocker or missing suggestion is reported at once. */
function resolvePlanTables(planned: PlanTable[], candidates: Candidate[]): PlanTable[] {
  const problems: string[] = [];
  const resolved = planned.map((entry, i) => {
    const spec = parseTableSpec(entry.table);
    const c = candidates.find((x) => displayName(x.table) === displayName(spec));
    if (!c) { problems.push(`tables[${i}] ${entry.table}: not found on the source`); return entry; }
    problems.push(...blockerText(c).map((l) => `tables[${i}] ${l}`));
    // The plan spells names as SQL does (like `table`): "Created At" in double quotes.
    const timeColumn = entry.timeColumn ?? (c.timeColumn ? displayIdent(c.timeColumn.name) : undefined);
    const chunkInterval = entry.chunkInterval ?? c.chunkInterval?.value;
    if (!timeColumn) problems.push(`tables[${i}].timeColumn: ${displayName(spec)} has no time-like column; name one`);
    if (!chunkInterval) problems.push(`tables[${i}].chunkInterval: no suggestion for ${displayName(spec)}; give one`);
    return { ...entry, table: displayName(spec), ...(timeColumn ? { timeColumn } : {}), ...(chunkInterval ? { chunkInterval } : {}) };
  });
  if (problems.length) {
    throw new MigrateError(`The planned tables cannot become hypertables yet:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Fix the tables on the source (or the plan), then run `migrate resume`.',
    });
  }
  return resolved;
}

/**
 * The one reading of a plan entry's names: `table` and `timeColumn` are SQL spellings (quoted where
 * SQL needs it), turned here into the names themselves.
 */
export function tableSpecOf(entry: PlanTable): TableSpec {
  const spec = parseTableSpec(entry.table);
  return entry.timeColumn ? { ...spec, column: parseColumnName(entry.timeColumn) } : spec;
}

export async function selectHypertablesStep(ctx: WizardContext): Promise<StepResult> {
  const { findCandidates } = await import('../steps/candidates.js');
  const planned = ctx.answers.tables;
  let tables: PlanTable[];
  let candidates: Candidate[];
  if (planned !== undefined) {
    candidates = planned.length ? await findCandidates({ tables: planned.map(tableSpecOf) }, ctx.step) : [];
    tables = resolvePlanTables(planned, candidates);
  } else {
    candidates = await findCandidates(ctx.minBytes !== undefined ? { minBytes: ctx.minBytes } : {}, ctx.step);
    tables = await answer(ctx, {
      field: 'tables', flag: '--table', what: 'which tables to convert to hypertables', given: undefined,
      ask: async () => {
        if (candidates.length === 0) {
          ctx.say('No hypertable candidates found (no large table with a time column); every table is copied with the schema.');
          return [];
        }
        return askTables(ctx, candidates);
      },
    });
  }
  await remember(ctx, { tables });
  const byName = new Map(candidates.map((c) => [displayName(c.table), c]));
  return {
    status: 'done',
    message: tables.length ? `convert ${tables.map((t) => displayTableSpec(tableSpecOf(t))).join(', ')}` : 'no tables to convert',
    outcome: {
      tables: tables.map((t) => {
        const c = byName.get(t.table);
        return { table: t.table, timeColumn: t.timeColumn, type: c?.timeColumn?.type,
          totalBytes: c?.totalBytes, estimatedRows: c?.estimatedRows };
      }),
    },
  };
}
