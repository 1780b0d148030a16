/**
 * Validation: the last `migrate validate` recorded in state.json must be clean, cover each table's
 * [start, T) for today's T, and have finished after the last slice was copied. And, live, the
 * dual-write window (validate-window.ts): the rows at or after T, which only dual-writes bring, must
 * be on the target too; the newest source row the target lacks says when dual-writes last missed one.
 */
import * as z from 'zod';
import { displayTableSpec } from '../../core/identifiers.js';
import { castParam } from '../../core/time-values.js';
import { lowestValue } from '../backfill/axis.js';
import { dualWriteStart } from '../completion-point-guard.js';
import { castTowardsTarget, hashColumns } from '../validate-checksums.js';
import { compareWindow, type WindowValidation } from '../validate-window.js';
import { sameValue } from './backfill.js';
import { capped, summarize, type Check, type ReadyTable, type Scope } from './types.js';

const validatedSchema = z.object({
  tables: z.array(z.object({ table: z.string(), from: z.string(), until: z.string(), ok: z.boolean() })),
});

const plainSchema = z.object({
  plainTables: z.array(z.object({ table: z.string(), status: z.string() })).optional(),
});

/**
 * The plain tables, as the last validation compared them (a live comparison would checksum every
 * plain table: validate's job). During dual-writes they may differ; once writes to the source have
 * stopped, right before the switch, they must match: a warning that says so, never a silent ok.
 */
export function checkPlainTables(scope: Scope): Check {
  const base = { id: 'plain-tables', title: 'plain tables as on the source' };
  const fix = `Once writes to the source have stopped: \`${scope.command('validate', ['--plain-tables'])}\`; every plain table must match.`;
  const record = scope.state?.steps.validate;
  const parsed = plainSchema.safeParse(record?.outcome);
  const plain = parsed.success ? parsed.data.plainTables : undefined;
  if (!record?.finishedAt || plain === undefined) {
    return { ...base, status: 'warn', detail: 'the last validation did not compare the plain tables', fix };
  }
  const unequal = plain.filter((t) => t.status !== 'match');
  if (unequal.length === 0) {
    return { ...base, status: 'ok', detail: `all ${plain.length} matched in the last validation (${record.finishedAt}); compare again ` +
      'once writes to the source have stopped' };
  }
  return { ...base, status: 'warn', detail: `${unequal.length} of ${plain.length} differed in the last validation (${record.finishedAt}): ` +
    `${capped(unequal.map((t) => `${t.table} (${t.status})`))}; during dual-writes that can be in-flight writes`, fix };
}

export async function checkValidation(scope: Scope): Promise<Check> {
  const base = { id: 'validation', title: 'validation below T' };
  const fix = `Run \`${scope.command('validate')}\` (all tables in one run: each run records only its own).`;
  const record = scope.state?.steps.validate;
  if (!record || record.status === 'pending') return { ...base, status: 'fail', detail: `no validation recorded in ${scope.dir}/state.json`, fix };
  if (record.status !== 'done') {
    return { ...base, status: 'fail', detail: `the last validation ${record.status}${record.message ? `: ${record.message}` : ''}`, fix };
  }
  const parsed = validatedSchema.safeParse(record.outcome);
  const validated = parsed.success ? parsed.data.tables : [];
  const problems: string[] = [];
  for (const table of scope.tables) {
    const entry = validated.find((v) => v.table === table.key);
    if (!entry) { problems.push(`${table.key} is not in the last validation`); continue; }
    if (!entry.ok) { problems.push(`${table.key} differed in the last validation`); continue; }
    const type = table.pair.type;
    if (table.until !== undefined && !(await sameValue(scope.target, type, entry.until, table.until))) {
      problems.push(`${table.key} was validated up to ${entry.until}, but T is ${table.until}`);
      continue;
    }
    const from = table.plan?.from ?? lowestValue(type);
    const { rows: [covers] } = await scope.target.query<{ ok: boolean }>(`SELECT ${castParam(1, type)} <= ${castParam(2, type)} AS ok`,
      [entry.from, from]);
    if (!covers?.ok) problems.push(`${table.key} was validated from ${entry.from} only, the backfill copied from ${from}`);
  }
  // Copied after it was validated? The ledger says when each slice was copied (a backfill run that found
  // every slice done copied nothing); without a ledger, state.json's backfill step is all there is.
  const finished = record.finishedAt ? Date.parse(record.finishedAt) : NaN;
  const backfilled = scope.state?.steps.backfill?.finishedAt;
  const copied = scope.ledger ? await lastSliceCopied(scope) : backfilled ? Date.parse(backfilled) : undefined;
  if (copied !== undefined && !(copied <= finished)) {
    problems.push(`${scope.ledger ? 'a slice was copied' : 'the backfill ran'} (${new Date(copied).toISOString()}) after the last validation`);
  }
  return summarize(base, problems, `clean, ${scope.tables.map((t) => `${t.key} [${t.plan?.from ?? 'start'}, ${t.until ?? '?'})`).join('; ')} ` +
    `(validated ${record.finishedAt ?? '?'})`, fix);
}

/** When the ledger's last slice of these tables was copied, on this machine's clock (the target's, corrected by their offset). */
async function lastSliceCopied(scope: Scope): Promise<number | undefined> {
  if (!scope.ledger) return undefined;
  const before = Date.now();
  const { rows: [row] } = await scope.target.query<{ last: number | null; now: number }>(
    `SELECT extract(epoch FROM max(finished_at)) * 1000 AS last, extract(epoch FROM clock_timestamp()) * 1000 AS now
       FROM _migrate.backfill_slice s JOIN unnest($1::text[], $2::text[]) t(s, n) ON s.schema_name = t.s AND s.table_name = t.n`,
    [scope.tables.map((t) => t.pair.spec.schema), scope.tables.map((t) => t.pair.spec.table)]);
  if (row?.last == null) return undefined;
  const offset = Number(row.now) - (before + Date.now()) / 2;
  return Number(row.last) - offset;
}

export interface WindowChecks { window: Check; lastRow: Check; newest: { table: string; time: string }[] }

/** The rows at or after T, compared live (each side in one read-only snapshot). */
export async function checkWindow(scope: Scope): Promise<WindowChecks> {
  const base = { id: 'dual-write-window', title: 'dual-write window (rows at or after T)' };
  const lastBase = { id: 'source-only-rows', title: 'last source row the target lacks' };
  const outcomes: { table: ReadyTable; window?: WindowValidation; skipped?: string }[] = [];
  const { source, target } = scope;
  await Promise.all([source, target].map((client) => client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')));
  try {
    for (const table of scope.tables) {
      if (table.until === undefined) { outcomes.push({ table, skipped: 'no completion point recorded and no backfill plan' }); continue; }
      const { pair } = table;
      const columns = hashColumns(pair.source.columns, pair.target.columns);
      await castTowardsTarget(source, columns, pair.target.columns);
      const start = await dualWriteStart(target, { table: pair.spec, key: pair.key, column: pair.column, type: pair.type, until: table.until },
        scope.points);
      outcomes.push({ table, ...await compareWindow(source, target, { pair, until: table.until, columns, lateness: scope.lateness,
        timezone: table.point?.timezone, dualWritesFrom: start?.earliest }) });
    }
  } finally {
    await Promise.all([source, target].map((client) => client.query('ROLLBACK').catch(() => undefined)));
  }
  const problems: string[] = [];
  const warnings: string[] = [];
  const matched: string[] = [];
  const newest: { table: string; time: string }[] = [];
  const differing: ReadyTable[] = [];
  const noPoint: ReadyTable[] = [];
  for (const { table, window, skipped } of outcomes) {
    if (!window) {
      // Unknown epoch units: as in validate, a warning.
      if (table.until === undefined) noPoint.push(table); else warnings.push(`${table.key}: not compared (${skipped})`);
      continue;
    }
    const sourceOnly = window.differences.reduce((n, d) => n + (d.onlyOnSourceCount ?? 0), 0);
    const targetOnly = window.differences.reduce((n, d) => n + (d.onlyOnTargetCount ?? 0), 0);
    const unlisted = window.differences.filter((d) => d.notListed);
    const times = window.differences.map((d) => d.newestOnlyOnSource).filter((t): t is string => t !== undefined);
    if (times.length > 0) newest.push({ table: table.key, time: times[times.length - 1] as string });
    if (sourceOnly > 0 || unlisted.length > 0) differing.push(table);
    if (sourceOnly > 0) problems.push(`${table.key}: ${sourceOnly} row(s) only on the source`);
    if (unlisted.length > 0) {
      problems.push(`${table.key}: ${unlisted.length} slice(s) differ with too many rows to list (${unlisted.map((d) => `[${d.start}, ${d.end})`).join(', ')})`);
    }
    if (targetOnly > 0) warnings.push(`${table.key}: ${targetOnly} row(s) only on the target (rows the source no longer has?)`);
    if (sourceOnly === 0 && unlisted.length === 0) {
      matched.push(`${table.key} [${window.from}, ${window.until}) and [${window.futureFrom}, +infinity): ${window.rows.source} rows`);
    }
  }
  const specs = (tables: ReadyTable[]): string[] => tables.flatMap((t) => ['--table', displayTableSpec(t.pair.spec)]);
  const fixes: string[] = [];
  if (noPoint.length > 0) {
    problems.unshift(`no completion point recorded and no backfill plan for ${noPoint.map((t) => t.key).join(', ')}`);
    fixes.push(`Record T: \`${scope.command('completion-point', specs(noPoint))}\` suggests one; then backfill and validate.`);
  }
  if (differing.length > 0) {
    fixes.push('Dual-writes missed these rows and no backfill of [start, T) brings them: fix the application\'s dual-writes, then copy ' +
      `the rows by hand (\`${scope.command('validate')}\` lists them with their keys), or record a later completion point past them ` +
      `(\`${scope.command('completion-point', specs(differing))}\` suggests one) and backfill again with --redo.`);
  }
  const details = [...problems, ...(matched.length > 0 ? [`match: ${matched.join('; ')} (rows within ${scope.lateness} of now left out)`] : []),
    ...warnings];
  const window: Check = { ...base, status: problems.length > 0 ? 'fail' : warnings.length > 0 ? 'warn' : 'ok', detail: details.join('; '),
    ...(fixes.length > 0 ? { fix: fixes.join('\n') } : {}) };
  const unlistedAnywhere = outcomes.some((o) => o.window?.differences.some((d) => d.notListed));
  const lastRow: Check = newest.length > 0
    ? { ...lastBase, status: 'fail', detail: capped(newest.map((n) => `${n.time} in ${n.table}`)),
      fix: 'Dual-writes missed a row this recent: check that the application writes every row to both databases now.' }
    : unlistedAnywhere
      ? { ...lastBase, status: 'fail', detail: 'unknown: a differing slice holds too many rows to list (see the dual-write window)',
        fix: `Run \`${scope.command('validate')}\` for the differing slices.` }
      : noPoint.length === scope.tables.length
        ? { ...lastBase, status: 'skipped', detail: 'no completion point to compare from' }
        : { ...lastBase, status: 'ok', detail: 'none' };
  return { window, lastRow, newest };
}
