/**
 * Row-for-row comparison of a table across two databases: the count and an md5 over every row's
 * text, in a stable order. Sessions use UTC so timestamptz text is the same on both sides.
 */
import { sql } from './databases.js';

export interface Fingerprint {
  count: number;
  md5: string | null;
}

/** `qualified` is already quoted SQL ("schema"."table"); `where` is an optional SQL condition. */
export async function fingerprint(url: string, qualified: string, where = 'true'): Promise<Fingerprint> {
  const [row] = await sql<{ count: string; md5: string | null }>(url,
    `SELECT count(*) AS count, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS md5
       FROM ${qualified} AS t WHERE ${where}`);
  return { count: Number(row?.count ?? 0), md5: row?.md5 ?? null };
}
