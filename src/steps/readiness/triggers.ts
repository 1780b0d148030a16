/**
 * User triggers on the backfilled tables: enabled on the target as on the source. A backfill run
 * with `--user-triggers disable` turns them off for its duration; one left off would silently stop
 * firing for the application after the switch-over. Compared by table and trigger name
 * (pg_trigger.tgenabled), internal triggers (foreign keys) left out.
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
