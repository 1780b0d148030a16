/**
 * User triggers on the backfilled tables: enabled on the target as on the source. A backfill run
 * with `--user-triggers disable` turns them off for its duration; one left off would silently stop
 * firing for the application after the switch-over. Compared by table and trigger name
 * (pg_trigger.tgenabled), internal triggers (foreign keys) left out. Also failing: a user trigger
 * disabled on the target that the source does not have by that name (renamed meanwhile), one
 * disabled on a partition or chunk while its table's is on, and alterations a backfill has recorded
 * but not yet undone (_migrate.altered_trigger).
 */
import { displayName, sameTable } from '../../core/identifiers.js';
import { ENABLED_STATES, alterSql, countAlteredTriggers, triggersOn, type Enabled, type TriggerInfo } from '../backfill/user-triggers.js';
import { capped, type Check, type Scope } from './types.js';

/** A table's own user triggers (not those of its partitions or chunks), by name. */
function ownTriggers(all: TriggerInfo[], table: TriggerInfo['root']): Map<string, Enabled> {
  return new Map(all.filter((t) => !t.timescale && sameTable(t.table, table) && sameTable(t.root, table)).map((t) => [t.name, t.enabled]));
}

export async function checkTriggers(scope: Scope): Promise<Check> {
  const base = { id: 'triggers', title: 'user triggers enabled as on the source' };
  const differ: string[] = [];
  const fixes: string[] = [];
  const missing: string[] = [];
  let compared = 0;
  const tables = scope.tables.map((t) => t.pair.spec);
  const [sourceAll, targetAll] = [await triggersOn(scope.source, tables), await triggersOn(scope.target, tables)];
  for (const table of scope.tables) {
    const [onSource, onTarget] = [ownTriggers(sourceAll, table.pair.spec), ownTriggers(targetAll, table.pair.spec)];
    for (const [trigger, wanted] of onSource) {
      const found = onTarget.get(trigger);
      if (found === undefined) { missing.push(`${table.key}: ${trigger}`); continue; }
      compared += 1;
      if (found === wanted) continue;
      differ.push(`${table.key}: ${trigger} is ${ENABLED_STATES[found].words} on the target, ${ENABLED_STATES[wanted].words} on the source`);
      fixes.push(`${alterSql(table.pair.spec, trigger, wanted)};`);
    }
    for (const [trigger, found] of onTarget) {
      if (onSource.has(trigger) || found !== 'D') continue;
      differ.push(`${table.key}: ${trigger} is disabled on the target, and the source has no trigger by that name (renamed?)`);
      fixes.push(`${alterSql(table.pair.spec, trigger, 'O')};  -- if it should fire`);
    }
    // A partition's or chunk's copy left disabled while the table's own is on.
    for (const copy of targetAll.filter((t) => t.clone && t.enabled === 'D' && sameTable(t.root, table.pair.spec))) {
      if ((onTarget.get(copy.name) ?? 'D') === 'D') continue;
      differ.push(`${displayName(copy.table)}: ${copy.name} is disabled there, enabled on ${table.key}`);
      fixes.push(`${alterSql(copy.table, copy.name, 'O')};`);
    }
  }
  const altered = await countAlteredTriggers(scope.target);
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
