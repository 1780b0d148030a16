/**
 * The benchmark's data: a typical metrics table (~95 bytes a row on disk) with N rows on the
 * source, and the same table on the target as a hypertable (12-hour chunks) with the usual extra
 * index (device_id, time DESC). A COMMENT on each table records that it was generated completely
 * for N rows, so a reused cluster is trusted only when its data is whole.
 */
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const GENERATOR = 'migrate-bench v1';

export const COLUMNS = `
  time timestamptz NOT NULL,
  device_id integer NOT NULL,
  status smallint NOT NULL,
  cpu double precision,
  memory double precision,
  temperature double precision,
  bytes_in bigint,
  host text,
  region text`;

export function tableName(rows: number): string {
  return `metrics_${rows}`;
}

export async function query<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string,
  params?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'migrate-bench' });
  await client.connect();
  try {
    await client.query("SET TimeZone = 'UTC'");
    const result = await client.query<T>(text, params);
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return (last as pg.QueryResult<T>).rows;
  } finally {
    await client.end();
  }
}

async function comment(url: string, table: string): Promise<string | null> {
  const [row] = await query<{ c: string | null }>(url,
    `SELECT obj_description(to_regclass($1), 'pg_class') AS c`, [`public.${table}`]);
  return row?.c ?? null;
}

export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const rows = await query(adminUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (rows.length === 0) await query(adminUrl, `CREATE DATABASE "${name}"`);
}

/** Generate the source table unless a complete one is there. Returns whether it was generated. */
export async function ensureSourceTable(url: string, rows: number, log: (line: string) => void): Promise<boolean> {
  const table = tableName(rows);
  const marker = `${GENERATOR} rows=${rows} complete`;
  if (await comment(url, table) === marker) return false;
  log(`generating ${rows.toLocaleString('en-US')} rows in source ${table} …`);
  // 100 devices reporting every 10 s, in time order (as an append-mostly table is on disk).
  await query(url, `
    DROP TABLE IF EXISTS public.${table};
    CREATE TABLE public.${table} (${COLUMNS});
    SELECT setseed(0.42);
    INSERT INTO public.${table}
    SELECT timestamptz '2024-01-01 00:00:00+00' + (n / 100) * interval '10 seconds',
           n % 100 + 1,
           (n % 5)::smallint,
           round((random() * 100)::numeric, 2)::double precision,
           random() * 16e9,
           20 + random() * 60,
           (random() * 1e9)::bigint,
           'host-' || lpad((n % 100 + 1)::text, 4, '0'),
           (ARRAY['eu-west-1', 'us-east-1', 'ap-south-1', 'sa-east-1'])[n % 4 + 1]
    FROM generate_series(0, ${rows - 1}) AS n;
    CREATE INDEX ON public.${table} (time);`);
  // Set hint bits and statistics now, so the first timed read does not pay for them.
  await query(url, `VACUUM (FREEZE, ANALYZE) public.${table}`);
  await query(url, `COMMENT ON TABLE public.${table} IS '${marker}'`);
  return true;
}

/** Create the target table (hypertable when TimescaleDB is there). Returns a note for the output. */
export async function ensureTargetTable(url: string, rows: number, timescale: boolean): Promise<string> {
  const table = tableName(rows);
  const marker = `${GENERATOR} target timescale=${timescale}`;
  const note = timescale ? 'hypertable, 12-hour chunks, + index (device_id, time DESC)'
    : 'plain table (TimescaleDB is not installed), index (time DESC) + (device_id, time DESC)';
  if (await comment(url, table) === marker) return note;
  await query(url, `
    ${timescale ? 'CREATE EXTENSION IF NOT EXISTS timescaledb;' : ''}
    DROP TABLE IF EXISTS public.${table};
    CREATE TABLE public.${table} (${COLUMNS});
    ${timescale
    ? `SELECT create_hypertable('public.${table}', by_range('time', interval '12 hours'));`
    : `CREATE INDEX ON public.${table} (time DESC);`}
    CREATE INDEX ON public.${table} (device_id, time DESC);
    COMMENT ON TABLE public.${table} IS '${marker}';`);
  return note;
}

export interface Range {
  from: string;
  until: string;
}

/** [min, max + 1 µs) in UTC ISO text, so every row is in the range. */
export async function sourceRange(url: string, rows: number): Promise<Range> {
  const [row] = await query<{ from: string; until: string }>(url, `
    SELECT to_char(min(time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS from,
           to_char((max(time) + interval '1 microsecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS until
    FROM public.${tableName(rows)}`);
  if (!row) throw new Error('empty source table');
  return row;
}

export function rangeSelect(rows: number, range: Range): string {
  return `SELECT * FROM public.${tableName(rows)} ` +
    `WHERE time >= '${range.from}'::timestamptz AND time < '${range.until}'::timestamptz`;
}

/** Bytes of the COPY stream of the range (untimed; used for MB/s). */
export async function copyStreamBytes(url: string, rows: number, range: Range, format: 'binary' | 'csv'): Promise<number> {
  const client = new pg.Client({ connectionString: url, application_name: 'migrate-bench' });
  await client.connect();
  let bytes = 0;
  try {
    await client.query("SET TimeZone = 'UTC'");
    const stream = client.query(copyTo(`COPY (${rangeSelect(rows, range)}) TO STDOUT (FORMAT ${format})`));
    await pipeline(stream, new Writable({ write(chunk: Buffer, _enc, done) { bytes += chunk.length; done(); } }));
  } finally {
    await client.end();
  }
  return bytes;
}

/** Empty the target table and drop migrate's ledger, then checkpoint so no run pays for the last one's writes. */
export async function resetTarget(url: string, rows: number): Promise<void> {
  await query(url, `TRUNCATE public.${tableName(rows)}; DROP SCHEMA IF EXISTS _migrate CASCADE`);
  await query(url, 'CHECKPOINT');
}

export async function targetCount(url: string, rows: number): Promise<number> {
  const [row] = await query<{ n: string }>(url, `SELECT count(*) AS n FROM public.${tableName(rows)}`);
  return Number(row?.n ?? 0);
}

export async function targetTableBytes(url: string, rows: number, timescale: boolean): Promise<number> {
  const table = `public.${tableName(rows)}`;
  const [row] = await query<{ b: string }>(url, timescale
    ? 'SELECT hypertable_size($1::regclass) AS b' : 'SELECT pg_total_relation_size($1::regclass) AS b', [table]);
  return Number(row?.b ?? 0);
}
