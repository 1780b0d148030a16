/**
 * Issue #10.4-5: `migrate hypertables --fix` removes the blockers the tool can fix itself on the target
 * (a primary key without the time column, with a foreign key to it; an inheritance tree's leftovers),
 * listing what it changes and what that costs first; the wizard offers the same fix (interactive yes,
 * plan field `fix`), and checks chunk intervals and compression columns when they are given.
 */
import { screen } from '@inquirer/testing/vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectingContext } from '../../src/core/context.js';
import type { HypertableResult } from '../../src/steps/hypertables.js';
import { splitPassword } from '../../src/core/connection.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';
import { readStateFile } from '../helpers/migration.js';

const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

// The target as `migrate schema` leaves it: the tables without the candidates' data, and a few
// dual-written rows already there.
const ORDERS = `
  CREATE TABLE orders (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, customer_id int, amount numeric, ref text);
  CREATE UNIQUE INDEX orders_ref ON orders (lower(ref)) WHERE ref IS NOT NULL;
  CREATE TABLE order_items (order_id bigint NOT NULL REFERENCES orders (id), qty int);
  INSERT INTO orders SELECT g, '2024-01-01'::timestamptz + g * interval '1 hour', g % 7, g FROM generate_series(1, 50) g;
  INSERT INTO order_items SELECT g, 1 FROM generate_series(1, 50) g;
`;
// An inheritance tree whose children and routing trigger came across.
const TREE = `
  CREATE TABLE measurements (time timestamptz NOT NULL, sensor int, v float8);
  CREATE TABLE measurements_2024_01 (CHECK (time >= '2024-01-01' AND time < '2024-02-01')) INHERITS (measurements);
  CREATE TABLE measurements_2024_02 (CHECK (time >= '2024-02-01' AND time < '2024-03-01')) INHERITS (measurements);
  CREATE FUNCTION route_measurements() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.time < '2024-02-01' THEN INSERT INTO measurements_2024_01 VALUES (NEW.*);
    ELSE INSERT INTO measurements_2024_02 VALUES (NEW.*); END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER route_insert BEFORE INSERT ON measurements FOR EACH ROW EXECUTE FUNCTION route_measurements();
  INSERT INTO measurements VALUES ('2024-01-15', 1, 1), ('2024-02-15', 2, 2);
`;

describe.skipIf(!hasTimescale)('[timescaledb] migrate hypertables --fix', () => {
  let dbs: TestDatabases;
  let tmp: string;
  const hypertables = (args: string[]): Promise<CliResult> =>
    runCli(['hypertables', '--target', dbs.target, '--dir', tmp, ...args]);
  const isHypertable = async (name: string): Promise<boolean> => (await sql(dbs.target,
    'SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = $1', [name])).length > 0;
  const constraints = async (table: string): Promise<string[]> => (await sql<{ c: string }>(dbs.target,
    `SELECT conname || ' ' || pg_get_constraintdef(oid) AS c FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY 1`,
    [table])).map((r) => r.c);

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'migrate-hypertables-fix-'));
    dbs = await createDatabases('hyperfix');
    await sql(dbs.target, ORDERS + TREE);
  });
  afterAll(async () => {
    await dbs?.drop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('without --fix refuses, naming --fix with the flags given and what it would do', async () => {
    const r = await hypertables(['--table', 'orders:created_at', '--chunk-interval', '1 day']);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('The primary key orders_pkey of public.orders (id) does not include the time column created_at');
    // The --target given comes along, without its password.
    expect(r.stderr).toContain(`\`migrate hypertables --table public.orders:created_at --chunk-interval '1 day' --dir ${tmp} --fix ` +
      `--target ${splitPassword(dbs.target).connectionString}\` does it on the target`);
    expect(r.stderr).toContain('primary key orders_pkey (id) becomes (id, created_at)');
    expect(r.stderr).toContain('id alone is no longer unique in public.orders');
    expect(r.stderr).toContain('foreign key order_items_order_id_fkey on public.order_items can no longer be enforced and is dropped');
    expect(r.stderr).toContain('Nothing was changed.');
    expect(await isHypertable('orders')).toBe(false);
  });

  it('--fix --dry-run lists the changes and their cost, prints the SQL, and changes nothing', async () => {
    const r = await hypertables(['--table', 'orders:created_at', '--fix', '--dry-run']);
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toContain('public.orders: --fix would change this on the target, in the same transaction as create_hypertable:');
    expect(r.stderr).toContain('change: drop foreign key order_items_order_id_fkey on public.order_items (FOREIGN KEY (order_id) REFERENCES orders(id))');
    expect(r.stderr).toContain('cost: id alone is no longer unique in public.orders: only (id, created_at) is');
    expect(r.stdout).toContain('ALTER TABLE "public"."order_items" DROP CONSTRAINT "order_items_order_id_fkey";');
    expect(r.stdout).toContain('ALTER TABLE "public"."orders" DROP CONSTRAINT "orders_pkey", ADD CONSTRAINT "orders_pkey" PRIMARY KEY (id, created_at);');
    expect(r.stdout).toContain('DROP INDEX "public"."orders_ref";');
    expect(r.stdout).toContain('CREATE UNIQUE INDEX "orders_ref" ON "public"."orders" USING "btree" ' +
      '(lower(ref), created_at) WHERE ref IS NOT NULL;');
    expect(r.stderr).toContain('cost: lower(ref) alone is no longer unique in public.orders (where ref IS NOT NULL): only (lower(ref), created_at) is');
    expect(r.stdout).toContain('create_hypertable');
    expect(r.stdout).toContain('Dry run: the SQL above would run; nothing was changed.');
    expect(await isHypertable('orders')).toBe(false);
    expect(await constraints('order_items')).toEqual(['order_items_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders(id)']);
  });

  it('--fix widens the key, drops and reports the foreign key, and converts with the data intact', async () => {
    const before = await sql(dbs.target, 'SELECT * FROM orders ORDER BY id');
    const r = await hypertables(['--table', 'orders:created_at', '--json', '--fix']);
    expect(r.code, output(r)).toBe(0);
    const [result] = JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m))) as HypertableResult[];
    expect(result).toMatchObject({ status: 'converted', migratedData: true });
    expect(result?.fix?.droppedForeignKeys).toEqual([{ name: 'order_items_order_id_fkey', table: { schema: 'public', table: 'order_items' },
      definition: 'FOREIGN KEY (order_id) REFERENCES orders(id)',
      recreate: 'ALTER TABLE "public"."order_items" ADD CONSTRAINT "order_items_order_id_fkey" FOREIGN KEY (order_id) REFERENCES orders(id);' }]);
    expect(await isHypertable('orders')).toBe(true);
    expect(await constraints('orders')).toEqual(['orders_pkey PRIMARY KEY (id, created_at)']);
    expect(await constraints('order_items')).toEqual([]);
    expect(await sql(dbs.target, "SELECT pg_get_indexdef('orders_ref'::regclass) AS d")).toEqual([
      { d: 'CREATE UNIQUE INDEX orders_ref ON public.orders USING btree (lower(ref), created_at) WHERE (ref IS NOT NULL)' }]);
    expect(await sql(dbs.target, 'SELECT * FROM orders ORDER BY id')).toEqual(before);
    // Again: already a hypertable, nothing to fix, nothing refused.
    const again = await hypertables(['--table', 'orders:created_at', '--fix']);
    expect(again.code, output(again)).toBe(0);
    expect(again.stdout).toMatch(/already a hypertable/);
  });

  it('--fix on a table with nothing to fix says so and changes nothing', async () => {
    await sql(dbs.target, 'CREATE TABLE plain_metrics (time timestamptz NOT NULL, v int)');
    const r = await hypertables(['--table', 'plain_metrics', '--fix']);
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('--fix: public.plain_metrics has no blocker it can fix');
    expect(r.stderr).toContain('nothing was changed');
    expect(await isHypertable('plain_metrics')).toBe(false);
  });

  it('an inheritance tree\'s leftovers: refused without --fix; with it the children are detached and listed, the routing trigger dropped', async () => {
    const refused = await hypertables(['--table', 'measurements']);
    expect(refused.code, output(refused)).toBe(2);
    expect(refused.stderr).toContain('public.measurements uses table inheritance');
    expect(refused.stderr).toContain('has the trigger route_insert, which routes inserted rows into other tables');
    expect(refused.stderr).toMatch(/--fix --target \S+` does it on the target/);
    const r = await hypertables(['--table', 'measurements', '--fix']);
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toContain('change: detach the child public.measurements_2024_01 (NO INHERIT)');
    expect(r.stderr).toContain('change: drop the routing trigger route_insert on public.measurements');
    expect(r.stderr).toContain('cost: public.measurements_2024_02 is left on the target with its rows, no longer part of public.measurements; ' +
      'drop it once you no longer need it: DROP TABLE "public"."measurements_2024_02";');
    expect(r.stdout).toContain('DROP TABLE "public"."measurements_2024_01";');
    expect(await isHypertable('measurements')).toBe(true);
    expect(await sql(dbs.target, "SELECT 1 FROM pg_inherits WHERE inhparent = 'measurements'::regclass AND inhrelid::regclass::text LIKE 'measurements_2024%'")).toEqual([]);
    expect(await sql(dbs.target, "SELECT 1 FROM pg_trigger WHERE tgname = 'route_insert'")).toEqual([]);
    // The children are kept, with their rows; a dual-written row now stays in the hypertable.
    expect(await sql(dbs.target, 'SELECT count(*)::int AS n FROM measurements_2024_01')).toEqual([{ n: 1 }]);
    await sql(dbs.target, "INSERT INTO measurements VALUES ('2024-01-20', 3, 3)");
    expect(await sql(dbs.target, 'SELECT sensor FROM measurements')).toEqual([{ sensor: 3 }]);
  });
});

/**
 * A source whose `orders` has a primary key without its time column, and a foreign key to it (from a
 * table with no rows: the schema step refuses to leave out data that rows of a plain table reference).
 */
const SOURCE = `
  CREATE TABLE orders (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, customer_id int, amount numeric);
  CREATE TABLE order_items (order_id bigint NOT NULL REFERENCES orders (id), qty int);
  CREATE TABLE customers (id int PRIMARY KEY, name text);
  INSERT INTO orders SELECT g, now() - interval '3 days' + g * interval '1 minute', g % 7, g FROM generate_series(1, 2000) g;
  INSERT INTO customers SELECT g, 'c' || g FROM generate_series(0, 6) g;
  ANALYZE;
`;

describe.skipIf(!hasTimescale)('[timescaledb] the wizard offers the fix and checks answers when they are given', () => {
  let tmp: string;
  const made: TestDatabases[] = [];
  const databases = async (label: string): Promise<TestDatabases> => {
    const dbs = await createDatabases(label);
    made.push(dbs);
    await sql(dbs.source, SOURCE);
    return dbs;
  };
  const targetTables = async (dbs: TestDatabases): Promise<string[]> => (await sql<{ t: string }>(dbs.target,
    "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => r.t);
  const wizard = async (dbs: TestDatabases, name: string, plan: unknown): Promise<CliResult> => {
    const file = path.join(tmp, `${name}.json`);
    await writeFile(file, JSON.stringify(plan));
    return runCli(['wizard', '--yes', '--plan', file, '--source', dbs.source, '--target', dbs.target, '--dir', path.join(tmp, name)],
      { timeoutMs: 120_000 });
  };

  beforeAll(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), 'migrate-wizard-fix-')); });
  afterAll(async () => {
    for (const dbs of made) await dbs.drop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('--yes --plan: a bad chunk interval, an unknown segment-by column and a missing fix are refused before any change', async () => {
    const dbs = await databases('wizfix_bad');
    const r = await wizard(dbs, 'bad', {
      roles: { load: false },
      tables: [{ table: 'orders', timeColumn: 'created_at', chunkInterval: 'fortnight',
        compress: { segmentBy: ['nope'], orderBy: 'created_at DESC, missing' } }],
      dualWrites: { confirmed: true },
    });
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain("The plan's tables have 4 problems");
    expect(r.stderr).toContain('tables[0].chunkInterval: The chunk interval "fortnight" is not an interval');
    expect(r.stderr).toContain('tables[0].compress.segmentBy: public.orders has no column "nope" (segment by); its columns are: id, created_at, customer_id, amount.');
    expect(r.stderr).toContain('tables[0].compress.orderBy: public.orders has no column "missing" (order by)');
    expect(r.stderr).toContain('tables[0].fix: The primary key orders_pkey of public.orders (id) does not include the time column created_at');
    expect(r.stderr).toContain('Set "fix": true for this table');
    expect(await targetTables(dbs)).toEqual([]);
    const state = await readStateFile(path.join(tmp, 'bad'));
    expect(state?.steps.roles?.status ?? 'pending').toBe('pending');
    // An integer chunk interval for a timestamptz column is refused too, with the reason.
    const integer = await wizard(dbs, 'integer', { roles: { load: false }, dualWrites: { confirmed: true },
      tables: [{ table: 'orders', timeColumn: 'created_at', chunkInterval: '86400', fix: true }] });
    expect(integer.code, output(integer)).toBe(2);
    expect(integer.stderr).toContain('tables[0].chunkInterval: The chunk interval "86400" has no unit');
  });

  it('--yes --plan with "fix": true fixes the key on the target after the schema load and goes on', async () => {
    const dbs = await databases('wizfix_plan');
    // Nothing dual-writes here: the wizard stops at that step, after the one under test.
    const r = await wizard(dbs, 'fix', { roles: { load: false }, dualWrites: { confirmed: true, waitSeconds: 1 },
      tables: [{ table: 'orders', timeColumn: 'created_at', chunkInterval: '1 day', fix: true }] });
    expect(r.stderr).toContain('No dual-written rows arrived within 1s');
    expect(r.stderr).toContain('public.orders: --fix changes this on the target, in the same transaction as create_hypertable:');
    expect(r.stderr).toContain('cost: foreign key order_items_order_id_fkey on public.order_items can no longer be enforced and is dropped');
    const state = await readStateFile(path.join(tmp, 'fix')) as { steps: Record<string, { status: string; message?: string }> } | undefined;
    expect(state?.steps.hypertables).toMatchObject({ status: 'done',
      message: expect.stringContaining('converted public.orders; fixed first: public.orders (drop foreign key order_items_order_id_fkey') as unknown as string });
    expect(await sql(dbs.target, "SELECT hypertable_name FROM timescaledb_information.hypertables")).toEqual([{ hypertable_name: 'orders' }]);
    expect(await sql(dbs.target, "SELECT conname FROM pg_constraint WHERE conrelid = 'order_items'::regclass")).toEqual([]);
    // The plain table's data came with the schema, intact.
    expect(await sql(dbs.target, 'SELECT count(*)::int AS n FROM customers')).toEqual([{ n: 7 }]);
    const written = JSON.parse(await readFile(path.join(tmp, 'fix', 'plan.json'), 'utf8'));
    expect(written.tables[0]).toMatchObject({ table: 'public.orders', fix: true });
  });

  it('interactive: refuses a bad chunk interval and segment-by column at the prompt, offers the fix, and goes on after yes', async () => {
    const dbs = await databases('wizfix_tty');
    const { runFlow } = await import('../../src/wizard/flow.js');
    const { createPrompts } = await import('../../src/wizard/prompts.js');
    const dir = path.join(tmp, 'interactive');
    const seen: string[] = [];
    const refusals: string[] = [];
    const enter = (): void => screen.keypress('enter');
    const type = (text: string): void => { screen.type(text); enter(); };
    /** Type a wrong answer, keep the reason the prompt shows, erase it and type the right one. */
    const wrongThenRight = (wrong: string, right: string) => (): void => {
      type(wrong);
      setTimeout(() => {
        refusals.push(screen.getScreen());
        for (let i = 0; i < wrong.length; i += 1) screen.keypress('backspace');
        type(right);
      }, 500);
    };
    const answers: [RegExp, () => void][] = [
      [/Tables to convert to hypertables/, () => { screen.keypress('space'); enter(); }],
      [/: time column/, enter],
      [/apply this fix on the target after the schema load/, () => type('y')],
      [/: chunk interval/, wrongThenRight('fortnight', '1 day')],
      [/enable compression/, () => type('y')],
      [/segment by/, wrongThenRight('nope', 'customer_id')],
      [/compress chunks older than/, enter],
      [/Dump the schema/, enter],
    ];
    const prompts = createPrompts({ beforePrompt: () => {
      setTimeout(() => {
        const text = screen.getScreen();
        seen.push(text);
        const match = answers.find(([pattern]) => pattern.test(text));
        if (!match) throw new Error(`unexpected prompt:\n${text}`);
        match[1]();
      }, 50);
    } });
    const lines: string[] = [];
    const ctx = collectingContext({ source: { side: 'source', connectionString: dbs.source },
      target: { side: 'target', connectionString: dbs.target }, dir, dryRun: false });
    const stop = new Error('stop after the hypertables step');
    await expect(runFlow({ step: ctx, prompts, interactive: true, yes: false, command: 'wizard', minBytes: 0,
      incoming: { roles: { load: false } }, say: (t) => lines.push(t),
      afterStep: (id) => { if (id === 'hypertables') throw stop; } })).rejects.toThrow(/stop after the hypertables step/);
    const said = lines.join('\n');
    // Explained once, consistently: on the target, after the schema load.
    expect(said.split('The wizard fixes these on the target, after the schema load (step 5, Hypertables)')).toHaveLength(2);
    expect(said).not.toMatch(/on the source/);
    expect(said).toContain('change: primary key orders_pkey (id) becomes (id, created_at), same name');
    expect(said).toContain('cost: id alone is no longer unique in public.orders');
    expect(refusals[0]).toContain('The chunk interval "fortnight" is not an interval');
    expect(refusals[1]).toContain('public.orders has no column "nope" (segment by)');
    const state = await readStateFile(dir);
    expect(state?.steps.hypertables?.status).toBe('done');
    expect(state?.answers.tables).toEqual([{ table: 'public.orders', timeColumn: 'created_at', fix: true, chunkInterval: '1 day',
      compress: { segmentBy: ['customer_id'], orderBy: '"created_at" DESC', compressAfter: '7 days' } }]);
    expect(await sql(dbs.target, "SELECT hypertable_name, time_interval::text FROM timescaledb_information.dimensions"))
      .toEqual([{ hypertable_name: 'orders', time_interval: '1 day' }]);
    expect(await sql(dbs.target, "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conrelid = 'orders'::regclass"))
      .toEqual([{ d: 'PRIMARY KEY (id, created_at)' }]);
  });
});
