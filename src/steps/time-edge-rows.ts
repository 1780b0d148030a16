/**
 * Rows no time slice can hold: a NULL time (no range contains NULL; a hypertable's time column is
 * NOT NULL) and +infinity (at or after every T, so the backfill never copies it, and no dual-write
 * will ever bring a row that is already written). -infinity lies below T but a hypertable cannot
 * store it. Each would be lost with exit 0 if nobody counted them, so backfill, validate, candidates
 * and completion-point all count them here, exactly.
 *
 * With a btree index on the column every count is an index lookup; without one, a single scan
 * counts all three (such a table is read in full by every slice anyway).
 */
import type { TableInfo } from '../core/catalog.js';
import type { Client } from '../core/db.js';
import { quoteIdent, quoteQualified } from '../core/identifiers.js';
import { hasTimeIndex } from '../core/time-column.js';
import { isIntegerTimeType, type TimeType } from '../core/time-values.js';

export interface EdgeRows {
  nulls: number;
  plusInfinity: number;
  minusInfinity: number;
  /** How they were counted, for messages about cost. */
  method: 'index' | 'scan';
}

export const NO_EDGE_ROWS: EdgeRows = { nulls: 0, plusInfinity: 0, minusInfinity: 0, method: 'index' };

export async function countEdgeRows(client: Client, table: TableInfo, column: string, type: TimeType): Promise<EdgeRows> {
  const nullable = !table.columns.find((c) => c.name === column)?.notNull;
  const infinite = !isIntegerTimeType(type);
  if (!nullable && !infinite) return NO_EDGE_ROWS;
  const col = quoteIdent(column);
  const relation = quoteQualified(table.name);
  const counts = [
    nullable ? `count(*) FILTER (WHERE ${col} IS NULL)` : '0',
    infinite ? `count(*) FILTER (WHERE ${col} = 'infinity')` : '0',
    infinite ? `count(*) FILTER (WHERE ${col} = '-infinity')` : '0',
  ];
  if (!hasTimeIndex(table, column)) {
    const { rows } = await client.query<{ n: string; p: string; m: string }>(
      `SELECT ${counts[0]} AS n, ${counts[1]} AS p, ${counts[2]} AS m FROM ${relation}`);
    return toEdgeRows(rows[0], 'scan');
  }
  // One index lookup each: the FILTERs would make the planner scan the whole table.
  const lookup = (filter: string, where: string): string =>
    filter === '0' ? '0' : `(SELECT count(*) FROM ${relation} WHERE ${where})`;
  const { rows } = await client.query<{ n: string; p: string; m: string }>(
    `SELECT ${lookup(counts[0] as string, `${col} IS NULL`)} AS n, ${lookup(counts[1] as string, `${col} = 'infinity'`)} AS p,
            ${lookup(counts[2] as string, `${col} = '-infinity'`)} AS m`);
  return toEdgeRows(rows[0], 'index');
}

function toEdgeRows(row: { n: string; p: string; m: string } | undefined, method: EdgeRows['method']): EdgeRows {
  return { nulls: Number(row?.n ?? 0), plusInfinity: Number(row?.p ?? 0), minusInfinity: Number(row?.m ?? 0), method };
}

/** "3 rows" / "1 row", for messages. */
export function rowCount(n: number): string {
  return `${n.toLocaleString('en-US')} row${n === 1 ? '' : 's'}`;
}
