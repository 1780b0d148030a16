/**
 * Issue #8.3: backfilled rows do not fire the target's user triggers (their effects came with the
 * schema), while dual-writes still do. A target user that may not set session_replication_role, or
 * an ENABLE ALWAYS trigger, stops the backfill before anything is copied until the operator chooses
 * --user-triggers fire or disable; disable puts every trigger back as it was, also after a crash.
 *
 * The fixture: a BEFORE INSERT trigger that changes the row (v + 1000) and an AFTER INSERT trigger
 * that writes an audit row. The target's audit table is the source's as the schema copy left it
 * (ids 0..159), plus what the dual-written rows (ids 160..199) fired there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { hasTimescale, sql } from '../helpers/databases.js';
import { T, TriggerFixture, audit, output, rows, table } from '../helpers/trigger-fixture.js';
import { connect } from '../../src/core/db.js';
import { planTriggerHandling } from '../../src/steps/backfill/user-triggers.js';

const fx = new TriggerFixture('usertrg', { bump: true });
const { resetTarget, backfill } = fx;
const events = (url: string): Promise<string[]> => table(url, 'SELECT e::text AS r FROM public.events e ORDER BY id');
const enabled = (url: string): Promise<string[]> => table(url,
  `SELECT c.relname || '.' || t.tgname || '=' || t.tgenabled::text AS r FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace ORDER BY 1`);

beforeAll(fx.setup);
afterAll(fx.teardown);

describe('user triggers during the backfill', () => {
  it('do not fire for backfilled rows by default; dual-writes still fire them afterwards', async () => {
    await resetTarget();
    const r = await backfill(fx.dbs.target);
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr + r.stdout).toContain('do not fire for the backfilled rows');
    expect(await events(fx.dbs.target)).toEqual(await events(fx.dbs.source));
    expect(await audit(fx.dbs.target)).toEqual(await audit(fx.dbs.source));
    expect(await enabled(fx.dbs.target)).toEqual(['events.bump=O', 'events.log=O']);
    const validated = await runCli(['validate', '--source', fx.dbs.source, '--target', fx.dbs.target, '--dir', fx.dir,
      '--table', 'public.events:time', '--until', T]);
    expect(validated.code, output(validated)).toBe(0);
    await sql(fx.dbs.target, rows(200, 200)); // a dual-write after the backfill
    expect(await table(fx.dbs.target, 'SELECT count(*)::text AS r FROM public.audit WHERE id = 200')).toEqual(['1']);
  });

  it.skipIf(!hasTimescale)('the same on a hypertable, whose chunks carry copies of the triggers; its continuous aggregate catches up', async () => {
    await resetTarget({ hypertable: true });
    // Materialized over the dual-written rows before the backfill, as a refresh policy would have.
    await sql(fx.dbs.target, `CREATE MATERIALIZED VIEW public.daily WITH (timescaledb.continuous) AS
      SELECT time_bucket('1 day', time) AS day, count(*) AS n, sum(v) AS total FROM public.events GROUP BY 1 WITH NO DATA`);
    await sql(fx.dbs.target, 'CALL refresh_continuous_aggregate(\'public.daily\', NULL, NULL)');
    // TimescaleDB 2.28.3 logs no invalidation for a COPY into a table with a BEFORE ROW trigger: the
    // refresh must not depend on it.
    const r = await backfill(fx.dbs.target);
    expect(r.code, output(r)).toBe(0);
    expect(await events(fx.dbs.target)).toEqual(await events(fx.dbs.source));
    expect(await audit(fx.dbs.target)).toEqual(await audit(fx.dbs.source));
    const daily = `SELECT d::text AS r FROM (SELECT date_bin('1 day', time, timestamptz '2000-01-03') AS day, count(*) AS n, sum(v) AS total FROM public.events
      WHERE time < '${T}' GROUP BY 1) d ORDER BY 1`;
    expect(await table(fx.dbs.target, 'SELECT d::text AS r FROM public.daily d WHERE day < \'' + T + '\' ORDER BY 1'))
      .toEqual(await table(fx.dbs.source, daily));
  });

  it('--dry-run shows the replica-mode sessions and changes nothing', async () => {
    await resetTarget();
    const r = await backfill(fx.dbs.target, '--dry-run');
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout + r.stderr).toContain('SET session_replication_role = replica');
    expect(await audit(fx.dbs.target)).toHaveLength(200);
  });

  it('a target user who may not set session_replication_role must choose; nothing is copied before', async () => {
    await resetTarget({ owner: true });
    const before = await events(fx.dbs.target);
    const r = await backfill(fx.ownerTarget);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('may not set session_replication_role');
    expect(r.stderr).toContain('--user-triggers fire');
    expect(r.stderr).toContain('--user-triggers disable');
    expect(r.stderr).not.toContain(fx.ownerPassword);
    expect(await events(fx.dbs.target)).toEqual(before);
  });

  it('--user-triggers disable: off during the backfill, then back as they were', async () => {
    await resetTarget({ owner: true });
    await sql(fx.dbs.target, 'ALTER TABLE public.events ENABLE REPLICA TRIGGER bump');
    const r = await backfill(fx.ownerTarget, '--user-triggers', 'disable');
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout + r.stderr).toContain('disabled until the backfill ends');
    expect(await audit(fx.dbs.target)).toEqual(await audit(fx.dbs.source));
    expect(await events(fx.dbs.target)).toEqual(await events(fx.dbs.source));
    expect(await enabled(fx.dbs.target)).toEqual(['events.bump=R', 'events.log=O']);
    expect(await table(fx.dbs.target, 'SELECT count(*)::text AS r FROM _migrate.altered_trigger')).toEqual(['0']);
  });

  it('--user-triggers fire: the triggers fire for every backfilled row (the operator chose it)', async () => {
    await resetTarget();
    const r = await backfill(fx.dbs.target, '--user-triggers', 'fire');
    expect(r.code, output(r)).toBe(0);
    // ids 0..167 were copied: each fired the AFTER trigger once more, and the BEFORE trigger bumped v again.
    expect(await audit(fx.dbs.target)).toHaveLength(200 + 168);
    expect(await table(fx.dbs.target, 'SELECT v::text AS r FROM public.events WHERE id = 5')).toEqual(['2005']);
  });

  it('an ENABLE ALWAYS trigger needs a choice; an ENABLE REPLICA one is held off for the duration', async () => {
    await resetTarget();
    await sql(fx.dbs.target, 'ALTER TABLE public.events ENABLE ALWAYS TRIGGER log');
    const refused = await backfill(fx.dbs.target);
    expect(refused.code, output(refused)).toBe(2);
    expect(refused.stderr).toContain('ENABLE ALWAYS');
    await sql(fx.dbs.target, 'ALTER TABLE public.events ENABLE REPLICA TRIGGER log');
    const r = await backfill(fx.dbs.target);
    expect(r.code, output(r)).toBe(0);
    expect(await audit(fx.dbs.target)).toEqual(await audit(fx.dbs.source));
    expect(await enabled(fx.dbs.target)).toEqual(['events.bump=O', 'events.log=R']);
  });

  it('a trigger a crashed backfill left disabled keeps `migrate clean` from dropping the ledger; --force restores it', async () => {
    await resetTarget();
    expect((await backfill(fx.dbs.target)).code).toBe(0);
    await fx.leaveCrashedAlteration();
    const refused = await runCli(['clean', '--target', fx.dbs.target]);
    expect(refused.code, output(refused)).toBe(1);
    expect(refused.stderr).toContain('1 trigger altered');
    const forced = await runCli(['clean', '--target', fx.dbs.target, '--force']);
    expect(forced.code, output(forced)).toBe(0);
    expect(await enabled(fx.dbs.target)).toEqual(['events.bump=O', 'events.log=O']);
  });

  it('a trigger another backfill of this run has disabled counts as it was: it may be enabled again before this one copies', async () => {
    await fx.resetTarget();
    await sql(fx.dbs.target, 'CREATE SCHEMA _migrate');
    await fx.leaveCrashedAlteration(); // `log` disabled and recorded, as a running `--user-triggers disable` backfill has it
    const client = await connect({ side: 'target', connectionString: fx.dbs.target });
    try {
      const plan = await planTriggerHandling(client, [{ schema: 'public', table: 'events' }], undefined);
      expect(plan.handling.mode).toBe('replica');
      expect(plan.handling.triggers).toEqual(['public.events: bump', 'public.events: log']);
    } finally {
      await client.end();
    }
  });

  describe('foreign keys whose ON DELETE action would reach the rows referencing the dual-written ones', () => {
    /** No user trigger on the table; `notes` references the dual-written events 160..199 with ON DELETE CASCADE. */
    async function withCascadingChild(): Promise<void> {
      await fx.resetTarget({ owner: true });
      await sql(fx.dbs.target, `DROP TABLE IF EXISTS public.notes; DROP TRIGGER log ON public.events; DROP TRIGGER bump ON public.events;
        ALTER TABLE public.events ADD PRIMARY KEY (id);
        CREATE TABLE public.notes (event_id int NOT NULL REFERENCES public.events (id) ON DELETE CASCADE, note text);
        INSERT INTO public.notes SELECT id, 'dual-written' FROM generate_series(160, 199) id`);
    }
    const notes = async (): Promise<string[]> => table(fx.dbs.target, 'SELECT count(*)::text AS r FROM public.notes');

    it('replica sessions keep the cascade from deleting them, also without user triggers', async () => {
      await withCascadingChild();
      const r = await backfill(fx.dbs.target);
      expect(r.code, output(r)).toBe(0);
      expect(await notes()).toEqual(['40']); // the 8 referencing events 160..167, deleted and copied again, keep theirs
    });

    it('a target user who may not set session_replication_role is refused before anything changes, naming the key', async () => {
      await withCascadingChild();
      const r = await backfill(fx.ownerTarget);
      expect(r.code, output(r)).toBe(2);
      expect(r.stderr).toContain('public.notes (notes_event_id_fkey, ON DELETE CASCADE)');
      expect(await notes()).toEqual(['40']);
    });
  });
});
