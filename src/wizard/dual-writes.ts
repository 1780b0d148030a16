/**
 * Step 6: the application starts writing to both databases. We cannot do this for the operator;
 * we explain what it must do, then show rows arriving in the target's chosen tables so the operator
 * can see it working. Unattended (plan `dualWrites: {confirmed: true, minRowsPerTable, waitSeconds}`)
 * we wait until every chosen table holds dual-written rows, with a timeout.
 */
import { withClient, type Client } from '../core/db.js';
import { InterruptedError, MigrateError } from '../core/errors.js';
import { displayName, parseColumnName, parseTableSpec, quoteIdent, quoteQualified } from '../core/identifiers.js';
import { sleep } from '../core/sleep.js';
import { answer, missingAnswer, remember, type StepResult, type WizardContext } from './context.js';

export interface ArrivedRows {
  table: string;
  rows: number;
  earliest: string | null;
  latest: string | null;
}

/** Rows in the target's chosen tables: before the backfill, these can only be dual-written ones. */
export async function arrivedRows(client: Client, tables: { table: string; timeColumn?: string }[]): Promise<ArrivedRows[]> {
  const result: ArrivedRows[] = [];
  for (const t of tables) {
    const spec = parseTableSpec(t.table);
    const time = t.timeColumn ? quoteIdent(parseColumnName(t.timeColumn)) : undefined;
    const { rows } = await client.query<{ n: string; first: string | null; last: string | null }>(
      `SELECT count(*)::text AS n, ${time ? `min(${time})::text` : 'NULL'} AS first, ${time ? `max(${time})::text` : 'NULL'} AS last
       FROM ${quoteQualified(spec)}`);
    result.push({ table: displayName(spec), rows: Number(rows[0]?.n ?? 0), earliest: rows[0]?.first ?? null, latest: rows[0]?.last ?? null });
  }
  return result;
}

export function formatArrived(rows: ArrivedRows[]): string {
  return rows.map((r) => `    ${r.table}: ${r.rows.toLocaleString('en-US')} rows` +
    (r.earliest ? ` (earliest ${r.earliest}, latest ${r.latest})` : '')).join('\n');
}

export const DUAL_WRITE_EXPLANATION = [
  'Now change the application so that it writes every new row to BOTH databases:',
  '  - every INSERT/UPDATE/DELETE goes to the source (still the primary) and to the target;',
  '  - rows that get SERIAL/identity ids: take the id the source returned and insert it explicitly',
  '    into the target, so foreign keys match on both sides (do not let the target number them);',
  '  - reads keep going to the source: until the backfill ends, the target lacks older rows.',
  'Start the dual-writing application (all its instances) before going on.',
];

async function waitUnattended(ctx: WizardContext, tables: { table: string; timeColumn?: string }[]): Promise<ArrivedRows[]> {
  const minRows = ctx.answers.dualWrites?.minRowsPerTable ?? 1;
  const waitSeconds = ctx.answers.dualWrites?.waitSeconds ?? 600;
  const deadline = Date.now() + waitSeconds * 1000;
  return withClient(ctx.step.target, async (client) => {
    let lastSaid = 0;
    for (;;) {
      const arrived = await arrivedRows(client, tables);
      const short = arrived.filter((r) => r.rows < minRows);
      if (short.length === 0) return arrived;
      if (ctx.step.signal.aborted) throw new InterruptedError('Stopped while waiting for dual-written rows.');
      if (Date.now() >= deadline) {
        throw new MigrateError(`No dual-written rows arrived within ${waitSeconds}s in ${short.map((r) => r.table).join(', ')} ` +
          `(waiting for at least ${minRows} per table).`, {
          hint: 'Check that the application writes to the target too, then resume; or raise dualWrites.waitSeconds / ' +
            'lower dualWrites.minRowsPerTable in the plan.',
        });
      }
      if (Date.now() - lastSaid > 10_000) {
        lastSaid = Date.now();
        ctx.step.emit({ type: 'info', message: `waiting for dual-written rows (at least ${minRows} per table):`,
          detail: arrived.map((r) => `${r.table}: ${r.rows} rows`) });
      }
      await sleep(1000, ctx.step.signal);
    }
  });
}

export async function dualWritesStep(ctx: WizardContext): Promise<StepResult> {
  const tables = ctx.answers.tables ?? [];
  for (const line of DUAL_WRITE_EXPLANATION) ctx.say(line);
  if (tables.length === 0) {
    ctx.say('No tables were chosen for conversion, so there is nothing to watch on the target.');
  }
  const given = ctx.answers.dualWrites?.confirmed;
  if (given === false) {
    throw missingAnswer(ctx, { field: 'dualWrites.confirmed', what: 'confirmation that the application dual-writes (the plan says false)' });
  }
  let arrived: ArrivedRows[] = [];
  if (given === true) {
    arrived = tables.length ? await waitUnattended(ctx, tables) : [];
  } else {
    await answer(ctx, {
      field: 'dualWrites.confirmed', what: 'confirmation that the application dual-writes', given,
      ask: async () => {
        for (;;) {
          arrived = tables.length ? await withClient(ctx.step.target, (c) => arrivedRows(c, tables)) : [];
          if (arrived.length) ctx.say(`Rows in the target now (from dual-writes):\n${formatArrived(arrived)}`);
          const choice = await ctx.prompts.select({
            message: 'Is the application dual-writing?',
            choices: [
              { name: 'Show the rows arriving in the target again', value: 'refresh' as const },
              { name: 'Yes: dual-writes are running, go on', value: 'yes' as const },
            ],
          });
          if (choice === 'yes') return true;
        }
      },
    });
    // Counted again: the operator may have waited at the question.
    if (tables.length) arrived = await withClient(ctx.step.target, (c) => arrivedRows(c, tables));
    const empty = arrived.filter((r) => r.rows === 0);
    if (empty.length) {
      ctx.step.emit({ type: 'warn', message: `no dual-written rows yet in ${empty.map((r) => r.table).join(', ')}`,
        detail: ['The completion point needs the earliest dual-written row of each table.'] });
    }
  }
  await remember(ctx, { dualWrites: { ...(ctx.answers.dualWrites ?? {}), confirmed: true } });
  const total = arrived.reduce((sum, r) => sum + r.rows, 0);
  return {
    status: 'done',
    message: tables.length ? `${total.toLocaleString('en-US')} dual-written rows seen in ${arrived.length} table(s)` : 'confirmed',
    outcome: { arrived },
  };
}
