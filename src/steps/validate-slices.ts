/**
 * Where validate cuts a table's range into slices: at the backfill ledger's slice edges when the
 * table has been backfilled (so a differing slice is exactly what `backfill --redo` redoes), else
 * where the backfill would cut it (planSlices: the target's chunk boundaries, sized by estimates).
 * Edges are sorted, de-duplicated and clipped in SQL, typed like the column.
 */
import type { TimeTablePair } from '../core/completion-points.js';
import type { Client } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { castParam } from '../core/time-values.js';
import { isInfinite } from './backfill/axis.js';
import { readLedger } from './backfill/ledger.js';
import { planSlices } from './backfill/slices.js';

export interface SliceEdges {
  /** Inner edges, ascending, strictly between from and until. */
  edges: string[];
  /** Where the edges came from, for messages. */
  origin: 'backfill ledger' | 'planned like the backfill';
}

export async function sliceEdges(source: Client, target: Client, pair: TimeTablePair, from: string, until: string):
  Promise<SliceEdges> {
  const ledger = (await readLedger(target, pair.spec)).filter((s) => s.column === pair.column);
  let candidates: string[];
  let origin: SliceEdges['origin'];
  if (ledger.length > 0) {
    candidates = ledger.flatMap((s) => [s.start, s.end]);
    origin = 'backfill ledger';
  } else {
    const plan = await planSlices(source, target, {
      table: pair.spec, timeColumn: pair.column, until, sourceInfo: pair.source, targetInfo: pair.target,
      ...(isInfinite(from) ? {} : { from }),
    });
    candidates = plan.slices.map((s) => s.end);
    origin = 'planned like the backfill';
  }
  const { rows } = await target.query<{ v: string }>(
    `SELECT x::text AS v FROM (SELECT DISTINCT v::${pair.type} AS x FROM unnest($1::text[]) v) e
      WHERE x > ${castParam(2, pair.type)} AND x < ${castParam(3, pair.type)} ORDER BY x`,
    [candidates, from, until]);
  return { edges: rows.map((r) => r.v), origin };
}

/** --from must be before --until; checked in SQL, typed like the column. */
export async function checkRange(client: Client, pair: TimeTablePair, from: string, until: string): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>(
    `SELECT ${castParam(1, pair.type)} < ${castParam(2, pair.type)} AS ok`, [from, until]);
  if (!rows[0]?.ok) {
    throw new UsageError(`Nothing to validate for ${pair.key}: --from ${from} is not before the completion point ${until}.`, {
      hint: 'Give a --from earlier than the completion point, or leave --from out to validate everything below it.',
    });
  }
}
