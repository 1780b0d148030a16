/**
 * What an existing hypertable is set to, read back from TimescaleDB: compression on or off, its
 * segment-by and order-by columns, its compression policy, and whether an integer_now function is
 * set. `migrate hypertables` reports these for tables that already are hypertables (the usual case
 * from a TimescaleDB source, whose schema dump brings them as hypertables) and leaves them as they are.
 *
 * The settings views differ by version (TimescaleDB 2.28.3 has all three):
 * hypertable_columnstore_settings (2.18+) and hypertable_compression_settings (2.14+) have one row
 * per hypertable, the order-by quoted as SQL (%I) but the segment-by names joined by commas
 * unquoted; 2.0 to 2.13 have only compression_settings, one row per column.
 */
import type { Client } from '../core/db.js';
import { displayIdent, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { formatOrderBy, parseOrderBy, type OrderByItem } from './hypertable-sql.js';

export interface CompressionState {
  enabled: boolean;
  /** Empty unless compression is enabled. */
  segmentBy: string[];
  orderBy: OrderByItem[];
  /** The compression policy's job, and its threshold as configured (compress_after or compress_created_before). */
  jobId?: number;
  compressAfter?: string;
  /** An integer_now function is set (needed by integer compress_after thresholds). */
  integerNow: boolean;
}

/** A hypertable's compression as `migrate hypertables` reports it (human table, --json, the wizard). */
export interface CompressionReport {
  status: 'enabled' | 'already-enabled' | 'would-enable' | 'not-enabled';
  segmentBy: string[];
  /** `"time" DESC, "Order Id"`; empty for TimescaleDB's default. */
  orderBy: string;
  compressAfter?: string;
}

/** Newest first: the older names may go away in later versions. */
export const SETTINGS_VIEWS = ['hypertable_columnstore_settings', 'hypertable_compression_settings', 'compression_settings'] as const;
export type SettingsView = (typeof SETTINGS_VIEWS)[number];

/** Compression setting and columns, policy job and integer_now function of an existing hypertable. */
export async function readCompressionState(client: Client, table: QualifiedName, columns: string[]): Promise<CompressionState> {
  const { rows } = await client.query<{ enabled: boolean | null; job_id: number | null; after: string | null;
    integer_now: boolean | null }>(
    `SELECT h.compression_enabled AS enabled, j.job_id,
            coalesce(j.config->>'compress_after', j.config->>'compress_created_before') AS after,
            (SELECT integer_now_func IS NOT NULL FROM timescaledb_information.dimensions
              WHERE hypertable_schema = $1 AND hypertable_name = $2 ORDER BY dimension_number LIMIT 1) AS integer_now
       FROM (SELECT) one
       LEFT JOIN timescaledb_information.hypertables h ON h.hypertable_schema = $1 AND h.hypertable_name = $2
       LEFT JOIN LATERAL (SELECT job_id, config FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'
                           AND hypertable_schema = $1 AND hypertable_name = $2 ORDER BY job_id LIMIT 1) j ON true`,
    [table.schema, table.table]);
  const row = rows[0];
  const state: CompressionState = { enabled: Boolean(row?.enabled), segmentBy: [], orderBy: [], integerNow: Boolean(row?.integer_now) };
  if (row?.job_id != null) state.jobId = Number(row.job_id);
  if (row?.after != null) state.compressAfter = row.after;
  if (state.enabled) Object.assign(state, await readCompressionColumns(client, table, columns));
  return state;
}

/** The newest settings view this TimescaleDB has. */
export async function settingsView(client: Client): Promise<SettingsView> {
  const { rows } = await client.query<{ view: SettingsView }>(
    `SELECT v AS view FROM unnest($1::text[]) WITH ORDINALITY AS t(v, i)
      WHERE to_regclass(format('timescaledb_information.%I', v)) IS NOT NULL ORDER BY i LIMIT 1`, [[...SETTINGS_VIEWS]]);
  return rows[0]?.view ?? 'compression_settings';
}

/** Segment-by and order-by columns, from the given view (tests read each) or the newest there is. */
export async function readCompressionColumns(client: Client, table: QualifiedName, columns: string[], view?: SettingsView):
  Promise<{ segmentBy: string[]; orderBy: OrderByItem[] }> {
  const from = view ?? await settingsView(client);
  if (from === 'compression_settings') return readPerColumn(client, table);
  const { rows } = await client.query<{ segmentby: string | null; orderby: string | null }>(
    `SELECT segmentby, orderby FROM timescaledb_information.${quoteIdent(from)} WHERE hypertable = $1::regclass`,
    [quoteQualified(table)]);
  const row = rows[0];
  return { segmentBy: splitSegmentBy(row?.segmentby ?? '', columns), orderBy: row?.orderby ? parseOrderBy(row.orderby) : [] };
}

async function readPerColumn(client: Client, table: QualifiedName): Promise<{ segmentBy: string[]; orderBy: OrderByItem[] }> {
  const { rows } = await client.query<{ attname: string; segment: number | null; position: number | null; asc: boolean | null;
    nullsfirst: boolean | null }>(
    `SELECT attname, segmentby_column_index AS segment, orderby_column_index AS position, orderby_asc AS asc,
            orderby_nullsfirst AS nullsfirst
       FROM timescaledb_information.compression_settings WHERE hypertable_schema = $1 AND hypertable_name = $2`,
    [table.schema, table.table]);
  const segmentBy = rows.filter((r) => r.segment !== null).sort((a, b) => Number(a.segment) - Number(b.segment)).map((r) => r.attname);
  const orderBy = rows.filter((r) => r.position !== null).sort((a, b) => Number(a.position) - Number(b.position)).map((r) => {
    const item: OrderByItem = { column: r.attname };
    if (r.asc === false) item.direction = 'DESC';
    // Written only where it is not the default for the direction (ASC NULLS LAST, DESC NULLS FIRST), as the newer views do.
    if (r.asc === r.nullsfirst) item.nulls = r.nullsfirst ? 'FIRST' : 'LAST';
    return item;
  });
  return { segmentBy, orderBy };
}

/**
 * The newer views join segment-by names with commas and no quotes, so a name that holds a comma
 * comes back in pieces: put the pieces together again where they make one of the table's columns.
 */
export function splitSegmentBy(text: string, columns: string[]): string[] {
  if (text === '') return [];
  const names: string[] = [];
  let pending: string | undefined;
  for (const part of text.split(',')) {
    pending = pending === undefined ? part : `${pending},${part}`;
    if (columns.includes(pending)) {
      names.push(pending);
      pending = undefined;
    }
  }
  // Pieces that make no column we know (it was renamed meanwhile): the plain split is the best guess.
  if (pending !== undefined) names.push(...pending.split(','));
  return names;
}

/** What an existing hypertable's compression is, as reported. */
export function reportExisting(state: CompressionState): CompressionReport {
  const report: CompressionReport = { status: state.enabled ? 'already-enabled' : 'not-enabled', segmentBy: state.segmentBy,
    orderBy: formatOrderBy(state.orderBy) };
  if (state.compressAfter !== undefined) report.compressAfter = state.compressAfter;
  return report;
}

/** `already enabled; segment by device_id; order by "time" DESC; after 7 days; job 1000`, or `-`. */
export function describeCompression(report: CompressionReport | undefined, policyJobId?: number): string {
  if (!report) return '-';
  const parts = [report.status.replace('-', ' ')];
  if (report.segmentBy.length > 0) parts.push(`segment by ${report.segmentBy.map(displayIdent).join(', ')}`);
  if (report.orderBy) parts.push(`order by ${report.orderBy}`);
  if (report.compressAfter) parts.push(`after ${report.compressAfter}`);
  if (policyJobId !== undefined) parts.push(`job ${policyJobId}`);
  return parts.join('; ');
}
