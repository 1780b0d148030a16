/**
 * The production-read check (step 8 of the reference procedure): each query of the operator's file
 * runs on both databases — at the same moment, each in a READ ONLY transaction with its own
 * statement_timeout, `runs` times — and we compare what came back and how fast.
 *
 * Results are compared without holding them: rows stream in (pg's row events, nothing accumulated)
 * as their text forms, exactly as the server sent them (session formats pinned alike on both sides),
 * and each row's sha256 feeds two order-independent 64-bit sums plus a count — the same multiset
 * gives the same figures whatever the order — and one running hash of the sequence, which tells
 * whether the order was the same too. Column names and types must match as well.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Client } from '../../core/db.js';
import { InterruptedError, describeError, isPgError } from '../../core/errors.js';
import type { ReadQuery } from './query-file.js';
import type { QueryComparison, QueryRun } from './types.js';

const MASK = (1n << 64n) - 1n;
/** Every value as the server's text: no JavaScript parsing, so nothing is rounded or zoned. */
const RAW_TYPES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

interface Digest { columns: string[]; typeIds: number[]; rows: number; sum1: bigint; sum2: bigint; sequence: string }

/** Run the statement and fold its rows into a digest as they arrive. */
function digest(client: Client, sql: string): Promise<Digest> {
  return new Promise((resolve, reject) => {
    const config: pg.QueryArrayConfig = { text: sql, rowMode: 'array', types: RAW_TYPES };
    const query = new pg.Query<unknown[]>(config as pg.QueryConfig);
    const sequence = createHash('sha256');
    let rows = 0;
    let sum1 = 0n;
    let sum2 = 0n;
    query.on('row', (row: unknown[]) => {
      const hash = createHash('sha256').update(JSON.stringify(row)).digest();
      sum1 = (sum1 + hash.readBigUInt64BE(0)) & MASK;
      sum2 = (sum2 + hash.readBigUInt64BE(8)) & MASK;
      sequence.update(hash);
      rows += 1;
    });
    query.on('end', (result) => {
      const fields = result?.fields ?? [];
      resolve({ columns: fields.map((f) => f.name), typeIds: fields.map((f) => f.dataTypeID), rows, sum1, sum2,
        sequence: sequence.digest('hex') });
    });
    query.on('error', reject);
    void client.query(query);
  });
}

interface Attempt { ms: number; digest: Digest }

/** One run: READ ONLY (never changes production), with its timeout; rolled back whatever happens. */
async function runOnce(client: Client, sql: string, timeoutMs: number): Promise<Attempt> {
  await client.query('BEGIN READ ONLY');
  try {
    await client.query("SELECT set_config('statement_timeout', $1, true)", [String(timeoutMs)]);
    const started = performance.now();
    const result = await digest(client, sql);
    return { ms: performance.now() - started, digest: result };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The type names of the result columns, as each side spells them (oids differ for user types). */
async function typeNames(client: Client, ids: number[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await client.query<{ id: number; name: string }>(
    'SELECT oid::int AS id, format_type(oid, NULL) AS name FROM unnest($1::oid[]) AS oid', [ids]);
  return ids.map((id) => rows.find((r) => r.id === id)?.name ?? String(id));
}

export interface QueryOptions { runs: number; timeoutMs: number; signal: AbortSignal; onQuery?: (query: ReadQuery, index: number) => void }

export async function compareQueries(source: Client, target: Client, queries: ReadQuery[], options: QueryOptions): Promise<QueryComparison[]> {
  const results: QueryComparison[] = [];
  for (const [index, query] of queries.entries()) {
    options.onQuery?.(query, index);
    results.push(await compareQuery(source, target, query, options));
  }
  return results;
}

async function compareQuery(source: Client, target: Client, query: ReadQuery, options: QueryOptions): Promise<QueryComparison> {
  const sides = [{ client: source, runs: [] as number[], first: undefined as Digest | undefined, error: undefined as string | undefined },
    { client: target, runs: [] as number[], first: undefined as Digest | undefined, error: undefined as string | undefined }];
  for (let run = 0; run < options.runs; run += 1) {
    if (options.signal.aborted) throw new InterruptedError('Stopped while running the --queries.');
    // Both sides at once: the closest two snapshots we can get while dual-writes go on.
    await Promise.all(sides.map(async (side) => {
      if (side.error !== undefined) return;
      try {
        const attempt = await runOnce(side.client, query.sql, options.timeoutMs);
        side.runs.push(attempt.ms);
        side.first ??= attempt.digest;
      } catch (error) {
        if (!isPgError(error)) throw error; // a lost connection ends the command, as everywhere
        side.error = error.code === '57014' ? `canceled after ${options.timeoutMs / 1000} s (--query-timeout)`
          : describeError(error).split('\n')[0] ?? String(error);
      }
    }));
  }
  const [s, t] = sides as [typeof sides[0], typeof sides[0]];
  const tenths = (ms: number): number => Math.round(ms * 10) / 10;
  const report = (side: typeof s): QueryRun => {
    const middle = side.error ? null : median(side.runs);
    return { medianMs: middle === null ? null : tenths(middle), runsMs: side.runs.map(tenths),
      rows: side.first?.rows ?? null, ...(side.error !== undefined ? { error: side.error } : {}) };
  };
  const [onSource, onTarget] = [report(s), report(t)];
  const ratio = onSource.medianMs && onTarget.medianMs !== null ? Math.round((onTarget.medianMs / onSource.medianMs) * 100) / 100 : null;
  const base = { label: query.label, line: query.line, source: onSource, target: onTarget, ratio };
  if (!s.first || !t.first) {
    return { ...base, match: false, difference: `failed on the ${[s.error && 'source', t.error && 'target'].filter(Boolean).join(' and ')}` };
  }
  const difference = await compareDigests(source, target, s.first, t.first);
  return difference ? { ...base, match: false, difference } : { ...base, match: true, sameOrder: s.first.sequence === t.first.sequence };
}

async function compareDigests(source: Client, target: Client, a: Digest, b: Digest): Promise<string | undefined> {
  const [typesA, typesB] = [await typeNames(source, a.typeIds), await typeNames(target, b.typeIds)];
  const columns = (names: string[], types: string[]): string => names.map((n, i) => `${n} ${types[i]}`).join(', ');
  if (columns(a.columns, typesA) !== columns(b.columns, typesB)) {
    return `columns differ: source (${columns(a.columns, typesA)}), target (${columns(b.columns, typesB)})`;
  }
  if (a.rows !== b.rows) return `${a.rows} rows on the source, ${b.rows} on the target`;
  if (a.sum1 !== b.sum1 || a.sum2 !== b.sum2) return `same number of rows (${a.rows}), different contents`;
  return undefined;
}
