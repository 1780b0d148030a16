/**
 * Step 3: which tables become hypertables. A checkbox of candidates, largest first, with size, rows,
 * time column and blockers. Blockers the tool can fix itself (a key without the time column,
 * inheritance leftovers) are explained once: the fix happens on the target, after the schema load,
 * in the Hypertables step (as `migrate hypertables --fix`); such a table can be chosen, and its fix
 * is listed with its cost and needs an explicit yes (plan: `tables[].fix: true`). Other blocked
 * tables explain their fix and cannot be chosen. Per chosen table: the time column and chunk interval
 * (suggestions pre-selected) and optional compression, each answer checked against the source's
 * catalog as it is given. Unattended, the plan's `tables` are examined the same way and any blocker
 * without its `fix` stops the run.
 */
import { resolveTable, resolveTimeColumn, type TableInfo } from '../core/catalog.js';
import { withClient, type Client } from '../core/db.js';
import { MigrateError } from '../core/errors.js';
import { isFixable, structuralBlockers, type Blocker } from '../core/hypertable-blockers.js';
import { displayIdent, displayName, displayTableSpec, parseColumnName, parseTableSpec, quoteIdent, type TableSpec } from '../core/identifiers.js';
import type { PlanTable } from '../core/plan.js';
import { formatBytes } from '../core/text-table.js';
import { answer, remember, resumeLine, type StepResult, type WizardContext } from './context.js';
import { chunkIntervalProblem, columnsProblem, compressAfterProblem, type SourceTime } from './table-answers.js';
import type { Candidate } from '../steps/candidates.js';

/** Said once, wherever the wizard meets a blocker it can fix: where and when the fix happens. */
const FIX_WHERE = 'The wizard fixes these on the target, after the schema load (step 5, Hypertables), in the same transaction ' +
  'that converts the table, as `migrate hypertables --fix` does; the source is not changed.';

const fixableOnly = (c: Candidate): boolean => c.blockers.length > 0 && c.blockers.every(isFixable);

function describeCandidate(c: Candidate): string {
  const rows = c.estimatedRows >= 0 ? `~${c.estimatedRows.toLocaleString('en-US')} rows` : 'rows unknown';
  const time = c.timeColumn ? `time: ${c.timeColumn.name} (${c.timeColumn.type})` : 'no time column';
  return `${displayName(c.table)}  ${formatBytes(c.totalBytes)} · ${rows} · ${time}`;
}

function blockerText(c: Candidate): string[] {
  return c.blockers.map((b) => `${displayName(c.table)}: ${b.message}\n      fix: ${b.fix}`);
}

/** A validate hook: true, or the reason the answer is refused. */
const validated = (problem: (v: string) => Promise<string | undefined>) => async (v: string): Promise<true | string> =>
  (await problem(v)) ?? true;

/**
 * A table whose blockers the wizard can fix: list exactly what the fix changes and costs (read from
 * the source's copy, which the schema load carries to the target) and ask for an explicit yes.
 */
async function offerFix(ctx: WizardContext, client: Client, info: TableInfo, time: SourceTime, blockers: Blocker[]): Promise<boolean> {
  const { describeFix, findRoutingTriggers, planFix } = await import('../steps/hypertable-fix.js');
  const name = displayName(info.name);
  const fix = await planFix(client, info, time.column, { foreignKeysToHypertables: true, triggers: await findRoutingTriggers(client, info.oid) });
  // Where and when the fix happens was said with the list of tables; here only what it does.
  ctx.say(`${name}: its fix would (read from the source's copy of the table, which the schema load brings as it is):`);
  for (const line of fix ? describeFix(fix) : blockers.map((b) => `change: ${b.fix}`)) ctx.say(`    ${line}`);
  ctx.say('  (The Hypertables step checks the target again and fixes only what is there.)');
  const yes = await ctx.prompts.confirm({ message: `${name}: apply this fix on the target after the schema load?`, default: false });
  if (!yes) ctx.say(`${name} stays a plain table, copied with its data by the schema step.`);
  return yes;
}

async function askTable(ctx: WizardContext, client: Client, c: Candidate): Promise<PlanTable | undefined> {
  const name = displayName(c.table);
  const columns = [c.timeColumn?.name, ...c.otherTimeColumns].filter((x): x is string => x !== undefined);
  const timeColumn = columns.length > 1
    ? await ctx.prompts.select({ message: `${name}: time column`, default: columns[0],
      choices: columns.map((col, i) => ({ name: i === 0 ? `${col} (suggested: ${c.timeColumn?.reason})` : col, value: col })) })
    : columns[0] as string;
  // Answers are checked against the source's catalog: the target has no schema yet.
  const info = await resolveTable(client, c.table, 'source');
  const time: SourceTime = await resolveTimeColumn(client, info, timeColumn);
  const type = time.type;
  // The blockers of the column chosen (the candidate's are those of the suggested one).
  const blockers = timeColumn === c.timeColumn?.name ? c.blockers
    : structuralBlockers(info, timeColumn, { foreignKeysToHypertables: true }).blockers;
  const entry: PlanTable = { table: name, timeColumn: displayIdent(timeColumn) };
  if (blockers.some((b) => !isFixable(b))) {
    ctx.say(`${name} cannot become a hypertable on ${timeColumn}; it stays a plain table:`);
    for (const b of blockers) ctx.say(`  - ${b.message}\n      fix: ${b.fix}`);
    return undefined;
  }
  if (blockers.length > 0) {
    if (!(await offerFix(ctx, client, info, time, blockers))) return undefined;
    entry.fix = true;
  }
  const chunkInterval = await ctx.prompts.input({ message: `${name}: chunk interval`,
    ...(c.chunkInterval ? { default: c.chunkInterval.value } : {}),
    validate: validated((v) => chunkIntervalProblem(client, v, time)) });
  entry.chunkInterval = chunkInterval.trim();
  entry.compress = false;
  if (await ctx.prompts.confirm({ message: `${name}: enable compression?`, default: false })) {
    const { parseColumnList } = await import('../steps/hypertable-sql.js');
    // Spelled as in SQL (as --segment-by): "Device Id" in double quotes; checked against the table's columns.
    const segmentBy = await ctx.prompts.input({ message: `${name}: segment by (comma-separated columns, empty for none)`, default: '',
      validate: validated(async (v) => {
        if (v.trim() === '') return undefined;
        try {
          return columnsProblem(info, parseColumnList(v), 'segment by');
        } catch (error) {
          return error instanceof Error ? error.message : String(error);
        }
      }) });
    // For integer time an interval compresses by chunk age (compress_created_before); a whole
    // number would need an integer_now function the target usually lacks, so suggest the interval.
    const compressAfter = await ctx.prompts.input({
      message: /int/.test(type) ? `${name}: compress chunks created more than … ago` : `${name}: compress chunks older than`,
      default: '7 days', validate: validated((v) => compressAfterProblem(client, v, time)) });
    entry.compress = {
      ...(segmentBy.trim() ? { segmentBy: parseColumnList(segmentBy) } : {}),
      orderBy: `${quoteIdent(timeColumn)} DESC`, compressAfter: compressAfter.trim(),
    };
  }
  return entry;
}

async function askTables(ctx: WizardContext, candidates: Candidate[]): Promise<PlanTable[]> {
  const fixable = candidates.filter((c) => c.timeColumn !== undefined && fixableOnly(c));
  const blocked = candidates.filter((c) => c.blockers.length > 0 && !fixable.includes(c));
  if (fixable.length) {
    ctx.say(`These tables can become hypertables once a key or an inheritance leftover is fixed. ${FIX_WHERE} Choose one ` +
      'to see exactly what its fix changes and costs, and say yes:');
    for (const c of fixable) for (const b of c.blockers) ctx.say(`  - ${displayName(c.table)}: ${b.message}`);
  }
  if (blocked.length) {
    // Most of these are small relational tables that should simply stay plain tables; the fix is
    // only for one the operator does want as a hypertable.
    ctx.say('These tables have a time column but cannot become hypertables as they are. They stay plain tables ' +
      '(copied with their data by the schema step); to convert one, apply its fix as it says, then convert it with ' +
      '`migrate hypertables` after this migration\'s schema step:');
    for (const line of blocked.flatMap(blockerText)) ctx.say(`  - ${line}`);
  }
  const chosen = await ctx.prompts.checkbox<Candidate>({
    message: 'Tables to convert to hypertables (their data is backfilled later)',
    choices: candidates.map((c) => ({
      name: `${describeCandidate(c)}${fixable.includes(c) ? '  (needs a fix on the target)' : ''}`, value: c,
      checked: c.blockers.length === 0 && c.timeColumn !== undefined,
      ...(fixable.includes(c) ? {} : c.blockers.length ? { disabled: `blocked: ${c.blockers[0]?.kind}` }
        : c.timeColumn ? {} : { disabled: 'no time column' }),
    })),
  });
  if (chosen.length === 0) return [];
  return withClient(ctx.step.source, async (client) => {
    const result: PlanTable[] = [];
    for (const c of chosen) {
      const entry = await askTable(ctx, client, c);
      if (entry) result.push(entry);
    }
    return result;
  });
}

/** Unattended: examine the plan's tables; every blocker or missing suggestion is reported at once. */
function resolvePlanTables(ctx: Pick<WizardContext, 'step'>, planned: PlanTable[], candidates: Candidate[]): PlanTable[] {
  const problems: string[] = [];
  const resolved = planned.map((entry, i) => {
    const spec = parseTableSpec(entry.table);
    const c = candidates.find((x) => displayName(x.table) === displayName(spec));
    if (!c) { problems.push(`tables[${i}] ${entry.table}: not found on the source`); return entry; }
    // Blockers the wizard can fix need the plan's word (`fix: true`); the fix itself happens on the target.
    const open = entry.fix === true && fixableOnly(c) ? [] : c.blockers;
    problems.push(...open.map((b) => `tables[${i}] ${displayName(c.table)}: ${b.message}\n      fix: ` +
      (isFixable(b) && c.blockers.every(isFixable) ? `set "fix": true for this table: ${FIX_WHERE}` : b.fix)));
    // The plan spells names as SQL does (like `table`): "Created At" in double quotes.
    const timeColumn = entry.timeColumn ?? (c.timeColumn ? displayIdent(c.timeColumn.name) : undefined);
    const chunkInterval = entry.chunkInterval ?? c.chunkInterval?.value;
    if (!timeColumn) problems.push(`tables[${i}].timeColumn: ${displayName(spec)} has no time-like column; name one`);
    if (!chunkInterval) problems.push(`tables[${i}].chunkInterval: no suggestion for ${displayName(spec)}; give one`);
    return { ...entry, table: displayName(spec), ...(timeColumn ? { timeColumn } : {}), ...(chunkInterval ? { chunkInterval } : {}) };
  });
  if (problems.length) {
    throw new MigrateError(`The planned tables cannot become hypertables yet:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Apply each fix as it says (or change the plan: "fix": true, or leave the table out), then run ' +
        `\`${resumeLine(ctx)}\`.`,
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
    tables = resolvePlanTables(ctx, planned, candidates);
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
