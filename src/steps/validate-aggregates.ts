/**
 * `migrate validate` for continuous aggregates (issue #9.1): every aggregate on a validated
 * hypertable (and every aggregate on top of those) that the source has too is compared row for row
 * below
 *
 *     least(T, the source's watermark, the target's watermark)
 *
 * that is, over the buckets both sides show as materialized and that hold no dual-written row. Above
 * that either side may simply not have refreshed yet (its policy runs on its own schedule), which is
 * not a difference. Each side hashes its view's rows (as text, under the pinned session formats, with
 * floating-point values to 12 significant digits) in a snapshot; on a difference the buckets that
 * differ are named.
 */
import { createHash } from 'node:crypto';
import type { Client } from '../core/db.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';
import { castParam } from '../core/time-values.js';
import { currentWatermark, sourceAggregates, type SourceAggregate } from './backfill/materializations.js';

export interface AggregateValidation {
  view: string;
  /** On top of (the hypertable, or the aggregate below). */
  on: string;
  /** Compared below this bucket start (undefined: nothing materialized on one side, nothing compared). */
  below: string | undefined;
  rows: { source: number; target: number };
  checksum: { source: string; target: string };
  /** Buckets whose rows differ (at most DIFFERING_SHOWN). */
  differingBuckets: string[];
  ok: boolean;
}

const DIFFERING_SHOWN = 10;

interface ViewFigures { rows: number; hash: string }

async function viewFigures(client: Client, aggregate: SourceAggregate, below: string): Promise<ViewFigures> {
  const view = quoteQualified(aggregate.view);
  const { rows } = await client.query<{ n: string; hash: string | null }>(
    `SELECT count(*) AS n, md5(string_agg(v::text, E'\\n' ORDER BY v::text)) AS hash FROM ${view} v
      WHERE ${quoteIdent(aggregate.bucketColumn)} < ${castParam(1, aggregate.type)}`, [below]);
  return { rows: Number(rows[0]?.n ?? 0), hash: rows[0]?.hash ?? '-' };
}

/** Per bucket: its rows' hash, to name the buckets that differ. */
async function bucketHashes(client: Client, aggregate: SourceAggregate, below: string): Promise<Map<string, string>> {
  const col = quoteIdent(aggregate.bucketColumn);
  const { rows } = await client.query<{ bucket: string; hash: string }>(
    `SELECT ${col}::text AS bucket, md5(string_agg(v::text, E'\\n' ORDER BY v::text)) AS hash FROM ${quoteQualified(aggregate.view)} v
      WHERE ${col} < ${castParam(1, aggregate.type)} GROUP BY ${col} ORDER BY ${col}`, [below]);
  return new Map(rows.map((r) => [r.bucket, r.hash]));
}

async function least(client: Client, aggregate: SourceAggregate, values: (string | undefined)[]): Promise<string | undefined> {
  if (values.some((v) => v === undefined)) return undefined;
  const { rows } = await client.query<{ v: string }>(
    `SELECT min(x::${aggregate.type})::text AS v FROM unnest($1::text[]) x`, [values]);
  return rows[0]?.v;
}

async function isAggregateOnTarget(target: Client, view: QualifiedName): Promise<boolean> {
  const { rows } = await target.query(`SELECT 1 FROM _timescaledb_catalog.continuous_agg
    WHERE user_view_schema = $1 AND user_view_name = $2`, [view.schema, view.table]).catch(() => ({ rows: [] }));
  return rows.length > 0;
}

/**
 * Compare the aggregates on these hypertables (each with its T). Both clients must be in their
 * snapshots already (validate.ts inSnapshots).
 */
export async function compareAggregates(source: Client, target: Client, tables: { table: QualifiedName; until: string }[]):
  Promise<AggregateValidation[]> {
  const results: AggregateValidation[] = [];
  // Floating-point aggregates recomputed on the target (the buckets from C up) sum the same rows in
  // another order, and may differ in the last bits from the source's: compare 12 significant digits
  // (DBL_DIG - 3). Local to the snapshot's transaction, which ends in ROLLBACK.
  await Promise.all([source, target].map((c) => c.query('SET LOCAL extra_float_digits = -3')));
  for (const { table, until } of tables) {
    for (const aggregate of await sourceAggregates(source, [table])) {
      if (!(await isAggregateOnTarget(target, aggregate.view))) continue;
      const below = await least(source, aggregate, [until, aggregate.watermark,
        await currentWatermark(target, aggregate.materialization, aggregate.type)]);
      const base = { view: displayName(aggregate.view), on: displayName(aggregate.on), below };
      if (below === undefined) {
        results.push({ ...base, rows: { source: 0, target: 0 }, checksum: { source: '-', target: '-' }, differingBuckets: [], ok: true });
        continue;
      }
      const [s, t] = await Promise.all([viewFigures(source, aggregate, below), viewFigures(target, aggregate, below)]);
      const ok = s.rows === t.rows && s.hash === t.hash;
      const differingBuckets = ok ? [] : await differing(source, target, aggregate, below);
      results.push({ ...base, rows: { source: s.rows, target: t.rows }, checksum: { source: short(s.hash), target: short(t.hash) },
        differingBuckets, ok });
    }
  }
  return results;
}

async function differing(source: Client, target: Client, aggregate: SourceAggregate, below: string): Promise<string[]> {
  const [s, t] = await Promise.all([bucketHashes(source, aggregate, below), bucketHashes(target, aggregate, below)]);
  const buckets = [...new Set([...s.keys(), ...t.keys()])].sort();
  return buckets.filter((b) => s.get(b) !== t.get(b)).slice(0, DIFFERING_SHOWN)
    .map((b) => `${b} (${s.has(b) ? (t.has(b) ? 'rows differ' : 'missing on the target') : 'only on the target'})`);
}

function short(hash: string): string {
  return hash === '-' ? hash : createHash('sha256').update(hash).digest('hex').slice(0, 12);
}
