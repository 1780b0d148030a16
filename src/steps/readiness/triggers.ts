/**
 * User triggers on the backfilled tables: enabled on the target as on the source. A backfill run
 * with `--user-triggers disable` turns them off for its duration; one left off would silently stop
 * firing for the application after the switch-over. Compared by table and trigger name
 * (pg_trigger.tgenabled), internal triggers (foreign keys) left out. Also failing: a user trigger
 * disabled on the target that the source does not have by that name (renamed meanwhile), one
 * disabled on a partition or chunk while its table's is on, and alterations a backfill has recorded
 * but not yet undone (_migrate.altered_trigger).
 */
import type { Client } from '../../core/db.js';
import { quoteIdent, quoteQualified } from '../../core/identifiers.js';
import { capped, type Check, type Scope } from './types.js';

const STATES: Record<string, { words: string; sql: string }> = {
  O: { words: 'enabled', sql: 'ENABLE TRIGGER' },
  D: { words: 'disabled', sql: 'DISABLE TRIGGER' },
  R: { words: 'enabled for replicas only', sql: 'ENABLE REPLICA TRIGGER' },
  A: { words: 'enabled always', sql: 'ENABLE ALWAYS TRIGGER' },
};

async function triggersOf(client: Client, table: string): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; enabled: string }>(
    'SELECT tgname AS name, tgenabled AS enabled FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal', [table]);
  return new Map(rows.map((r) => [r.name, r.enabled]));
}

/** Triggers disabled on partitions, children or chunks of the table while the table's own same-named trigger is not. */
async function disabledBelow(client: Client, table: string): Promise<{ relation: string; name: string }[]> {
  const { rows } = await client.query<{ relation: string; name: string }>(`WITH RECURSIVE tree AS (
      SELECT i.inhrelid AS rel FROM pg_inherits i WHERE i.inhparent = to_regclass($1)
      UNION SELECT i.inhrelid FROM tree JOIN pg_inherits i ON i.inhparent = tree.rel)
    SELECT t.tgrelid::regclass::text AS relation, t.tgname AS name FROM tree JOIN pg_trigger t ON t.tgrelid = tree.rel
     WHERE NOT t.tgisinternal AND t.tgenabled = 'D' AND EXISTS (SELECT 1 FROM pg_trigger o WHERE o.tgrelid = to_regclass($1)
       AND o.tgname = t.tgname AND o.tgenabled <> 'D')`, [table]);
  return rows;
}

/** Triggers a backfill altered and has not put back yet (it runs, or it crashed). */
async function recordedAlterations(client: Client): Promise<number> {
  const { rows: [table] } = await client.query<{ ok: boolean }>("SELECT to_regclass('_migrate.altered_trigger') IS NOT NULL AS ok");
  if (!table?.ok) return 0;
  const { rows: [row] } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM _migrate.altered_trigger');
  return row?.n ?? 0;
}

export async function checkTriggers(scope: Scope): Promise<Check> {
  const base = { id: 'triggers', title: 'user triggers enabled as on the source' };
  const differ: string[] = [];
  const fixes: string[] = [];
  const missing: string[] = [];
  let compared = 0;
  for (const table of scope.tables) {
    const name = quoteQualified(table.pair.spec);
    const [onSource, onTarget] = [await triggersOf(scope.source, name), await triggersOf(scope.target, name)];
    for (const [trigger, wanted] of onSource) {
      const found = onTarget.get(trigger);
      if (found === undefined) { missing.push(`${table.key}: ${trigger}`); continue; }
      compared += 1;
      if (found === wanted) continue;
      differ.push(`${table.key}: ${trigger} is ${STATES[found]?.words ?? found} on the target, ${STATES[wanted]?.words ?? wanted} on the source`);
      fixes.push(`ALTER TABLE ${name} ${STATES[wanted]?.sql ?? 'ENABLE TRIGGER'} ${quoteIdent(trigger)};`);
    }
    for (const [trigger, found] of onTarget) {
      if (onSource.has(trigger) || found !== 'D') continue;
      differ.push(`${table.key}: ${trigger} is disabled on the target, and the source has no trigger by that name (renamed?)`);
      fixes.push(`ALTER TABLE ${name} ENABLE TRIGGER ${quoteIdent(trigger)};  -- if it should fire`);
    }
    for (const below of await disabledBelow(scope.target, name)) {
      differ.push(`${below.relation}: ${below.name} is disabled there, enabled on ${table.key}`);
      fixes.push(`ALTER TABLE ${below.relation} ENABLE TRIGGER ${quoteIdent(below.name)};`);
    }
  }
  const altered = await recordedAlterations(scope.target);
  if (altered > 0) {
    differ.push(`${altered} trigger alteration(s) a backfill recorded in _migrate.altered_trigger are not undone yet`);
    fixes.push(`-- let the running backfill finish; after a crash, \`${scope.command('backfill')}\` puts them back when it ends`);
  }
  const absent = missing.length > 0
    ? `; not on the target: ${capped(missing, 5)} (a partitioned source's routing triggers stay behind on purpose)` : '';
  if (differ.length > 0) {
    return { ...base, status: 'fail', detail: capped(differ) + absent,
      fix: `On the target (a backfill with --user-triggers disable that did not finish leaves them off):\n${fixes.join('\n')}` };
  }
  return { ...base, status: missing.length > 0 ? 'warn' : 'ok',
    detail: (compared === 0 ? 'no user triggers on the backfilled tables' : `${compared} trigger(s) as on the source`) + absent };
}
