/**
 * The demo's application database: a few plain tables (customers, devices, sites) and two
 * time-series tables, `metrics` (timestamptz) and `events` (bigint epoch milliseconds), with some
 * days of history. Generated in SQL on the server, so a few hundred thousand rows take seconds.
 */
import type { Client } from '../core/db.js';

export const DEMO_DATABASE = 'app';

export const DEMO_SCHEMA = `
CREATE TABLE sites (
  id serial PRIMARY KEY,
  name text NOT NULL,
  city text NOT NULL
);
CREATE TABLE customers (
  id serial PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE,
  site_id integer REFERENCES sites (id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE devices (
  id serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers (id),
  kind text NOT NULL CHECK (kind IN ('thermostat', 'meter', 'sensor')),
  label text NOT NULL,
  installed_at timestamptz NOT NULL
);
-- Time series 1: a timestamptz time column; rows point at devices (a foreign key FROM a hypertable is fine).
CREATE TABLE metrics (
  time timestamptz NOT NULL,
  device_id integer NOT NULL REFERENCES devices (id),
  cpu double precision,
  temperature double precision,
  PRIMARY KEY (device_id, time)
);
-- Time series 2: the time is a bigint, epoch milliseconds, as many event pipelines write it.
CREATE TABLE events (
  occurred_at bigint NOT NULL,
  device_id integer NOT NULL,
  kind text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_occurred_at_idx ON events (occurred_at DESC);
CREATE INDEX events_device_idx ON events (device_id, occurred_at DESC);
`;

/**
 * The application's roles, so the roles step has something to copy. Kept out of DEMO_SCHEMA because
 * roles belong to the whole cluster, and the tests build the demo app in several databases of one.
 */
export const DEMO_ROLES = `
CREATE ROLE app_reader NOLOGIN;
CREATE ROLE app_writer LOGIN PASSWORD 'demo-writer' IN ROLE app_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO app_reader;
GRANT INSERT, UPDATE ON metrics, events TO app_writer;
`;

export interface DemoSize {
  /** Devices that report metrics every 30 seconds. */
  metricDevices: number;
  /** Seconds between events. */
  eventEverySeconds: number;
  days: number;
}

/** scale 1 ≈ 230,000 metrics rows and 170,000 events over 4 days. */
export function demoSize(scale: number): DemoSize {
  return {
    metricDevices: Math.max(1, Math.round(20 * scale)),
    eventEverySeconds: Math.max(1, Math.round(2 / scale)),
    days: 4,
  };
}

/** Create the schema and fill it; history ends a minute ago, the writer continues from there. */
export async function createDemoApp(client: Client, size: DemoSize): Promise<{ metrics: number; events: number }> {
  await client.query(DEMO_SCHEMA);
  await client.query(`INSERT INTO sites (name, city)
    SELECT 'Site ' || i, (ARRAY['Berlin', 'Lisbon', 'Oslo', 'Austin', 'Osaka'])[1 + i % 5] FROM generate_series(1, 5) i`);
  await client.query(`INSERT INTO customers (name, email, site_id, created_at)
    SELECT 'Customer ' || i, 'customer' || i || '@example.com', 1 + i % 5, now() - interval '90 days' + i * interval '1 hour'
    FROM generate_series(1, 50) i`);
  await client.query(`INSERT INTO devices (customer_id, kind, label, installed_at)
    SELECT 1 + i % 50, (ARRAY['thermostat', 'meter', 'sensor'])[1 + i % 3], 'device-' || i, now() - interval '60 days'
    FROM generate_series(1, $1::int) i`, [Math.max(40, size.metricDevices)]);
  const metrics = await client.query(`INSERT INTO metrics (time, device_id, cpu, temperature)
    SELECT t, d, round((random() * 100)::numeric, 2), round((15 + random() * 10)::numeric, 2)
    FROM generate_series(date_trunc('minute', now()) - $1::int * interval '1 day',
                         date_trunc('minute', now()) - interval '1 minute', interval '30 seconds') t,
         generate_series(1, $2::int) d`, [size.days, size.metricDevices]);
  const events = await client.query(`INSERT INTO events (occurred_at, device_id, kind, payload)
    SELECT (extract(epoch FROM t) * 1000)::bigint + (random() * 999)::int, 1 + (random() * 39)::int,
           (ARRAY['boot', 'alert', 'update', 'heartbeat'])[1 + (random() * 3)::int],
           jsonb_build_object('level', (random() * 5)::int)
    FROM generate_series(date_trunc('minute', now()) - $1::int * interval '1 day',
                         date_trunc('minute', now()) - interval '1 minute', $2::int * interval '1 second') t`,
  [size.days, size.eventEverySeconds]);
  await client.query('ANALYZE');
  return { metrics: metrics.rowCount ?? 0, events: events.rowCount ?? 0 };
}
