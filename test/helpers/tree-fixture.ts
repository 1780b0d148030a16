/**
 * A source whose time tables are trees (issue #10): a monthly-partitioned table (a sub-partitioned
 * month, default partitions, identity, generated column, CHECK, domain-typed time column, index,
 * FKs both ways, a view) and an inheritance tree (three children with CHECKs, a routing trigger, an
 * audit trigger, a view), plus an imitation of pg_partman 4.x's catalog.
 */
export const TREES_SOURCE = `
CREATE SCHEMA app;
CREATE DOMAIN app.moment AS timestamptz NOT NULL;
CREATE TABLE app.devices (id integer PRIMARY KEY, name text);
INSERT INTO app.devices VALUES (1, 'a'), (2, 'b');

-- Monthly partitions (one of them sub-partitioned), a default partition, an identity column, a
-- generated column, a CHECK, a domain-typed time column, an index, FKs from and to the tree.
CREATE TABLE app.payments (
  id bigint GENERATED ALWAYS AS IDENTITY,
  paid_at app.moment,
  device_id integer NOT NULL REFERENCES app.devices (id),
  amount numeric(10, 2) CHECK (amount >= 0),
  cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED,
  PRIMARY KEY (id, paid_at)
) PARTITION BY RANGE (paid_at);
COMMENT ON TABLE app.payments IS 'every payment';
CREATE INDEX payments_device_idx ON app.payments (device_id, paid_at);
CREATE TABLE app.payments_2024_01 PARTITION OF app.payments FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE app.payments_2024_02 PARTITION OF app.payments FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')
  PARTITION BY RANGE (paid_at);
CREATE TABLE app.payments_2024_02a PARTITION OF app.payments_2024_02 FOR VALUES FROM ('2024-02-01') TO ('2024-02-15');
CREATE TABLE app.payments_2024_02b PARTITION OF app.payments_2024_02 DEFAULT;
CREATE TABLE app.payments_default PARTITION OF app.payments DEFAULT;
COMMENT ON TABLE app.payments_2024_01 IS 'january';
INSERT INTO app.payments (paid_at, device_id, amount)
  SELECT timestamptz '2024-01-01' + n * interval '7 hours', 1 + n % 2, n FROM generate_series(1, 300) n;
CREATE VIEW app.payment_totals AS SELECT device_id, sum(amount) AS total FROM app.payments GROUP BY device_id;
CREATE TABLE app.refunds (id serial PRIMARY KEY, payment_id bigint, paid_at timestamptz,
  FOREIGN KEY (payment_id, paid_at) REFERENCES app.payments (id, paid_at));

-- An inheritance tree: three children with CHECKs and a routing trigger, plus a trigger that stays.
CREATE TABLE app.readings (ts timestamptz NOT NULL, sensor int NOT NULL, value float8 CHECK (value > -1000));
CREATE INDEX readings_ts_idx ON app.readings (ts);
CREATE TABLE app.readings_2023 (CHECK (ts >= '2023-01-01' AND ts < '2024-01-01')) INHERITS (app.readings);
CREATE TABLE app.readings_2024 (CHECK (ts >= '2024-01-01' AND ts < '2025-01-01')) INHERITS (app.readings);
CREATE TABLE app.readings_2025 (CHECK (ts >= '2025-01-01' AND ts < '2026-01-01')) INHERITS (app.readings);
CREATE INDEX ON app.readings_2024 (ts);
CREATE FUNCTION app.readings_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.ts < '2024-01-01' THEN INSERT INTO app.readings_2023 VALUES (NEW.*);
  ELSIF NEW.ts < '2025-01-01' THEN INSERT INTO app.readings_2024 VALUES (NEW.*);
  ELSE INSERT INTO app.readings_2025 VALUES (NEW.*); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER readings_route BEFORE INSERT ON app.readings FOR EACH ROW EXECUTE FUNCTION app.readings_insert();
CREATE FUNCTION app.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER readings_audit AFTER INSERT ON app.readings FOR EACH ROW EXECUTE FUNCTION app.audit();
INSERT INTO app.readings SELECT timestamptz '2023-06-01' + n * interval '3 days', n % 4, n FROM generate_series(1, 300) n;
CREATE VIEW app.reading_view AS SELECT ts, sensor, value FROM app.readings;

-- Imitates pg_partman 4.x's catalog (the extension is not installed here): partman.part_config
-- keyed by parent_table 'schema.table', part_config_sub by sub_parent. Only the rows of the
-- chosen tree must stay behind.
CREATE SCHEMA partman;
CREATE TABLE partman.part_config (parent_table text PRIMARY KEY, control text NOT NULL,
  partition_interval text NOT NULL, partition_type text NOT NULL, premake int NOT NULL DEFAULT 4);
CREATE TABLE partman.part_config_sub (sub_parent text PRIMARY KEY, sub_control text NOT NULL);
INSERT INTO partman.part_config VALUES ('app.payments', 'paid_at', '1 month', 'native', 4), ('app.other', 'ts', '1 day', 'native', 4);
INSERT INTO partman.part_config_sub VALUES ('app.payments', 'paid_at');
`;

