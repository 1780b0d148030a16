/**
 * Copy one slice: clear [start, end) on the target, stream the source's rows of that range into it.
 * The caller has begun the target transaction (and claimed the slice in it); this function never
 * commits the target. Streams are piped with back-pressure, so memory stays flat whatever the size.
 */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Client } from '../../core/db.js';
import { MigrateError } from '../../core/errors.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../../core/identifiers.js';
import { castParam, timeLiteral, type TimeType } from '../../core/time-values.js';
import { columnList, type CopyColumns } from './columns.js';
import { isInfinitySlice } from './ledger.js';

export interface SliceJob {
  table: QualifiedName;
  column: string;
  sourceType: TimeType;
  targetType: TimeType;
  start: string;
  end: string;
  columns: CopyColumns;
}

export interface SliceCopy {
  rows: number;
  bytes: number;
  /** Rows the DELETE removed from the target (dual-written overlap, or an earlier copy). */
  deleted: number;
}

/**
 * A slice is [start, end); the one slice whose ends are equal, [infinity, infinity], holds exactly the
 * rows at +infinity (--include-infinity), so its upper bound is inclusive.
 */
function upperBound(job: Pick<SliceJob, 'start' | 'end'>): string {
  return isInfinitySlice(job) ? '<=' : '<';
}

export function deleteSql(job: Pick<SliceJob, 'table' | 'column' | 'targetType' | 'start' | 'end'>): string {
  const col = quoteIdent(job.column);
  return `DELETE FROM ${quoteQualified(job.table)} WHERE ${col} >= ${castParam(1, job.targetType)} ` +
    `AND ${col} ${upperBound(job)} ${castParam(2, job.targetType)}`;
}

/** COPY takes no parameters: the bounds are spliced as literals by the one helper that quotes them. */
export function copyOutSql(job: SliceJob): string {
  const col = quoteIdent(job.column);
  return `COPY (SELECT ${columnList(job.columns)} FROM ${quoteQualified(job.table)} ` +
    `WHERE ${col} >= ${timeLiteral(job.start, job.sourceType)} AND ${col} ${upperBound(job)} ${timeLiteral(job.end, job.sourceType)}) ` +
    `TO STDOUT (FORMAT ${job.columns.format})`;
}

export function copyInSql(job: SliceJob): string {
  return `COPY ${quoteQualified(job.table)} (${columnList(job.columns)}) FROM STDIN (FORMAT ${job.columns.format})`;
}

/**
 * Run the slice on open clients. On any failure the clients may be mid-COPY and must be discarded
 * (see worker.ts); the target transaction is then rolled back by the server.
 */
export async function copySlice(source: Client, target: Client, job: SliceJob,
  options: { signal: AbortSignal; onBytes: (bytes: number) => void }): Promise<SliceCopy> {
  const deleted = await target.query(deleteSql(job), [job.start, job.end]);
  await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const out = source.query(copyTo(copyOutSql(job)));
  const into = target.query(copyFrom(copyInSql(job)));
  let bytes = 0;
  // Counting bytes in a pass-through keeps back-pressure intact: it holds no more than one chunk.
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      options.onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  await pipeline(out, counter, into, { signal: options.signal });
  // COMMIT runs after the COPY's CommandComplete, so the source's row count is known by then.
  await source.query('COMMIT');
  if (out.rowCount !== into.rowCount) {
    throw new MigrateError(`The slice [${job.start}, ${job.end}) of ${displayName(job.table)} read ${out.rowCount} rows ` +
      `from the source but wrote ${into.rowCount} to the target; nothing of it was kept.`, {
      hint: 'This should not happen; report it. Running `migrate backfill` again retries the slice.',
    });
  }
  return { rows: into.rowCount, bytes, deleted: deleted.rowCount ?? 0 };
}
