/**
 * The demo's "application": a few times a second it writes new metrics and events rows. At first
 * it writes to the source only (the application as it runs today); once dual-writes are switched
 * on and the target has the tables, it writes every row to BOTH databases with the same values,
 * the way a dual-writing application does.
 */
import type { Endpoint } from '../core/connection.js';
import { connect, type Client } from '../core/db.js';

export interface WriterOptions {
  source: Endpoint;
  target: Endpoint;
  /** Milliseconds between writes. */
  everyMs?: number;
  devices?: number;
  /** Problems worth a line (a failed write is retried on the next tick). */
  onWarning?: (message: string) => void;
}

export interface DemoWriter {
  /** Start writing to the target too, once its tables exist (polled). */
  enableDualWrites(): void;
  /** Rows written: source, target. */
  readonly written: { source: number; target: number };
  stop(): Promise<void>;
}

const METRIC = 'INSERT INTO metrics (time, device_id, cpu, temperature) VALUES ($1::timestamptz, $2, $3, $4)';
const EVENT = 'INSERT INTO events (occurred_at, device_id, kind, payload) VALUES ($1::bigint, $2, $3, $4::jsonb)';
const KINDS = ['boot', 'alert', 'update', 'heartbeat'];

async function targetReady(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `SELECT to_regclass('public.metrics') IS NOT NULL AND to_regclass('public.events') IS NOT NULL AS ok`);
  return rows[0]?.ok === true;
}

export async function startWriter(options: WriterOptions): Promise<DemoWriter> {
  const every = options.everyMs ?? 200;
  const devices = options.devices ?? 20;
  const source = await connect(options.source, { applicationName: 'migrate demo writer' });
  let target: Client | undefined;
  let dual = false;
  let stopped = false;
  let tick = 0;
  const written = { source: 0, target: 0 };
  let lastWarning = 0;
  const warn = (message: string): void => {
    if (Date.now() - lastWarning > 10_000) { lastWarning = Date.now(); options.onWarning?.(message); }
  };

  const writeOnce = async (): Promise<void> => {
    tick += 1;
    if (dual && !target) {
      const client = await connect(options.target, { applicationName: 'migrate demo writer' });
      if (await targetReady(client)) target = client; else await client.end();
    }
    const now = new Date();
    // One timestamp per tick, unique per device: metrics' primary key is (device_id, time).
    const metric = [now.toISOString(), 1 + (tick % devices), (Math.random() * 100).toFixed(2), (15 + Math.random() * 10).toFixed(2)];
    const event = [String(now.getTime()), 1 + (tick % 40), KINDS[tick % KINDS.length], JSON.stringify({ level: tick % 5 })];
    await source.query(METRIC, metric);
    await source.query(EVENT, event);
    written.source += 2;
    if (target) {
      // The same values to the target: this is what "dual-writing" means.
      await target.query(METRIC, metric);
      await target.query(EVENT, event);
      written.target += 2;
    }
  };

  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(writeOnce).catch((error: unknown) => {
      warn(`demo writer: ${error instanceof Error ? error.message : String(error)} (retrying)`);
    });
  }, every);

  return {
    enableDualWrites() { dual = true; },
    written,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await source.end().catch(() => undefined);
      await target?.end().catch(() => undefined);
    },
  };
}
