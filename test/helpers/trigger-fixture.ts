/**
 * The user-trigger fixture shared by the trigger tests: `public.events` with an AFTER INSERT
 * trigger `log` writing `public.audit` (and, with `bump`, a BEFORE INSERT trigger adding 1000 to
 * `v`), 200 hourly rows on the source; the target as the schema step and dual-writes leave it: the
 * source's audit rows 0..159 (copied with the schema) and dual-written ids 160..199, whose triggers
 * fired there. T is hour 168. A non-superuser role that owns the target's tables when asked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ALTERED_TRIGGER_DDL } from '../../src/steps/backfill/user-triggers.js';
import { runCli, type CliResult } from './cli.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from './databases.js';

export const T = '2024-01-08T00:00:00Z'; // hour 168

export const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

export const rows = (lo: number, hi: number): string =>
  `INSERT INTO public.events (time, id, v) SELECT '2024-01-01'::timestamptz + i * interval '1 hour', i, i FROM generate_series(${lo}, ${hi}) i`;

/** Each row of a query returning one text column `r`. */
export async function table(url: string, query: string): Promise<string[]> {
  return (await sql<{ r: string }>(url, query)).map((x) => x.r);
}

export const audit = (url: string): Promise<string[]> => table(url, 'SELECT a::text AS r FROM public.audit a ORDER BY id, note');

export class TriggerFixture {
  dbs!: TestDatabases;
  dir!: string;
  /** The target as the non-superuser owner. */
  ownerTarget!: string;
  readonly owner = `trg_owner_${randomBytes(3).toString('hex')}`;
  readonly ownerPassword = `owner-pw-${randomBytes(2).toString('hex')}`;
  private readonly ddl: string;

  constructor(private readonly label: string, options: { bump: boolean }) {
    this.ddl = `
      CREATE TABLE public.events (time timestamptz NOT NULL, id int NOT NULL, v int);
      CREATE INDEX ON public.events (time);
      CREATE TABLE public.audit (id int NOT NULL, note text);
      CREATE FUNCTION public.log_event() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN INSERT INTO public.audit VALUES (NEW.id, 'logged'); RETURN NULL; END $$;
      ${options.bump ? `CREATE FUNCTION public.bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := NEW.v + 1000; RETURN NEW; END $$;
      CREATE TRIGGER bump BEFORE INSERT ON public.events FOR EACH ROW EXECUTE FUNCTION public.bump();` : ''}
      CREATE TRIGGER log AFTER INSERT ON public.events FOR EACH ROW EXECUTE FUNCTION public.log_event();`;
  }

  setup = async (): Promise<void> => {
    this.dbs = await createDatabases(this.label);
    this.dir = mkdtempSync(path.join(os.tmpdir(), `migrate-${this.label}-`));
    await sql(this.dbs.source, `${this.ddl}; ${rows(0, 199)}`);
    await sql(clusterUrl('target'), `CREATE ROLE ${this.owner} LOGIN PASSWORD '${this.ownerPassword}'`);
    await sql(clusterUrl('target'), `GRANT CREATE ON DATABASE "${this.dbs.targetName}" TO ${this.owner}`);
    this.ownerTarget = clusterUrl('target', this.dbs.targetName, this.owner, this.ownerPassword);
    if (hasTimescale) await sql(this.dbs.target, 'CREATE EXTENSION IF NOT EXISTS timescaledb');
  };

  teardown = async (): Promise<void> => {
    await this.dbs.drop();
    await sql(clusterUrl('target'), `DROP OWNED BY ${this.owner} CASCADE; DROP ROLE IF EXISTS ${this.owner}`).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  };

  /** A fresh target as the schema step and the dual-writes leave it. */
  resetTarget = async (options: { hypertable?: boolean; owner?: boolean } = {}): Promise<void> => {
    await sql(this.dbs.target, `DROP SCHEMA IF EXISTS _migrate CASCADE; DROP TABLE IF EXISTS public.events, public.audit CASCADE;
      DROP FUNCTION IF EXISTS public.bump(), public.log_event(); ${this.ddl}
      INSERT INTO public.audit SELECT id, 'logged' FROM generate_series(0, 159) id`);
    if (options.hypertable) await sql(this.dbs.target, "SELECT create_hypertable('public.events', 'time', chunk_time_interval => interval '1 day')");
    if (options.owner) {
      await sql(this.dbs.target, `ALTER TABLE public.events OWNER TO ${this.owner}; ALTER TABLE public.audit OWNER TO ${this.owner};
        ALTER SCHEMA public OWNER TO ${this.owner}`);
    }
    await sql(this.dbs.target, rows(160, 199)); // dual-written: the triggers fire here, as on the source
  };

  backfill = (target: string, ...extra: string[]): Promise<CliResult> =>
    runCli(['backfill', '--source', this.dbs.source, '--target', target, '--dir', this.dir, '--table', 'public.events:time',
      '--until', T, '--workers', '2', ...extra]);

  /** What a crash between "disable" and "restore" leaves: the trigger `log` recorded (original state O) and disabled. */
  leaveCrashedAlteration = async (): Promise<void> => {
    await sql(this.dbs.target, `${ALTERED_TRIGGER_DDL}
      INSERT INTO _migrate.altered_trigger (schema_name, table_name, trigger_name, was_enabled, altered_by, trigger_oid)
        SELECT 'public', 'events', 'log', 'O', 'crashed:1', oid FROM pg_trigger WHERE tgrelid = 'public.events'::regclass AND tgname = 'log';
      ALTER TABLE public.events DISABLE TRIGGER log`);
  };
}
