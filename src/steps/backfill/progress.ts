/**
 * Progress for the live line / NDJSON: per table, rows (counted when a slice commits), bytes
 * (counted as they stream) and slices; emitted at most every 250 ms, with rate and ETA.
 */
import type { Emit } from '../../core/context.js';

export interface TableCounters {
  table: string;
  slicesTotal: number;
  slicesDone: number;
  /** Rows in slices done before this run plus rows copied in this run. */
  rowsDone: number;
  /** Actual rows of done slices plus estimates of pending ones. */
  rowsTotal: number;
  bytesDone: number;
  /** This run only. */
  rowsCopied: number;
  bytesCopied: number;
  slicesCopied: number;
  rowsDeleted: number;
  firstStart?: number;
  lastFinish?: number;
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private readonly dirty = new Set<string>();
  private readonly started = Date.now();

  constructor(private readonly emit: Emit, readonly tables: Map<string, TableCounters>, private readonly everyMs = 250) {}

  start(): void {
    this.timer = setInterval(() => this.flush(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }

  sliceStarted(table: string): void {
    const t = this.tables.get(table);
    if (t && t.firstStart === undefined) t.firstStart = Date.now();
  }

  addBytes(table: string, bytes: number): void {
    const t = this.tables.get(table);
    if (!t) return;
    t.bytesDone += bytes;
    t.bytesCopied += bytes;
    this.dirty.add(table);
  }

  /** A slice committed; `bytes` were counted already while streaming. */
  sliceDone(table: string, done: { rows: number; estRows: number; deleted: number }): void {
    const t = this.tables.get(table);
    if (!t) return;
    t.slicesDone += 1;
    t.slicesCopied += 1;
    t.rowsDone += done.rows;
    t.rowsCopied += done.rows;
    t.rowsDeleted += done.deleted;
    t.rowsTotal += done.rows - done.estRows;
    t.lastFinish = Date.now();
    this.dirty.add(table);
  }

  /** A slice's attempt failed: its streamed bytes are gone with the rollback. */
  sliceFailed(table: string, bytes: number): void {
    const t = this.tables.get(table);
    if (!t) return;
    t.bytesDone -= bytes;
    t.bytesCopied -= bytes;
    this.dirty.add(table);
  }

  private flush(): void {
    for (const key of this.dirty) {
      const t = this.tables.get(key);
      if (!t) continue;
      this.emit({
        type: 'progress', id: 'backfill', table: t.table, rowsDone: t.rowsDone, rowsTotal: Math.max(t.rowsTotal, t.rowsDone),
        bytesDone: t.bytesDone, unitsDone: t.slicesDone, unitsTotal: t.slicesTotal, message: this.rateAndEta(t),
      });
    }
    this.dirty.clear();
  }

  private rateAndEta(t: TableCounters): string | undefined {
    const seconds = (Date.now() - (t.firstStart ?? this.started)) / 1000;
    if (seconds < 1 || t.rowsCopied === 0) return undefined;
    const rate = t.rowsCopied / seconds;
    const left = Math.max(0, t.rowsTotal - t.rowsDone);
    const eta = t.slicesDone >= t.slicesTotal ? 'done' : `ETA ${formatDuration(left / rate)}`;
    return `${Math.round(rate).toLocaleString('en-US')} rows/s · ${eta}`;
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
