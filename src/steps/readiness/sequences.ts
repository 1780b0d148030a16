/**
 * Sequences ahead of every id: what `migrate sequences` would do, computed read-only
 * (planSequences). One it would advance means the first insert after the switch-over takes an id
 * that exists. The source keeps counting while dual-writes run, so this is run again right before.
 */
import { planSequences } from '../sequences.js';
import { capped, type Check, type Scope } from './types.js';

export async function checkSequences(scope: Scope): Promise<Check> {
  const base = { id: 'sequences', title: 'sequences ahead of every id' };
  const planned = (await planSequences(scope.source, scope.target)).map((p) => p.change);
  const behind = planned.filter((c) => c.action === 'advanced' || c.action === 'out of range');
  const notes = planned.filter((c) => c.note && c.action !== 'out of range').map((c) => `${c.sequence}: ${c.note}`);
  const again = 'run it again right before switching: the source keeps counting while dual-writes run';
  if (behind.length === 0) {
    return { ...base, status: notes.length > 0 ? 'warn' : 'ok',
      detail: `${planned.length} sequence(s) at or past every id and the source's last value; ${again}` +
        (notes.length > 0 ? `; ${capped(notes, 3)}` : '') };
  }
  return { ...base, status: 'fail',
    detail: capped(behind.map((c) => c.action === 'out of range'
      ? `${c.sequence} cannot be set past every id: ${c.note}`
      : `${c.sequence} ${c.before === null ? 'never used' : `at ${c.before}`}, needs ${c.after} (` +
        [c.highestId !== null ? `highest id ${c.highestId}` : '', c.sourceLastValue !== null ? `source at ${c.sourceLastValue}` : '']
          .filter(Boolean).join(', ') + ')')),
    fix: `Run \`${scope.command('sequences')}\`; ${again}.` };
}
