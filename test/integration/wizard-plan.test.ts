/**
 * Issue #7.8-9: an unattended wizard checks every answer its plan must give before the first change,
 * and a time column whose name needs quoting (a space, capitals) goes through a plan end to end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';
import { wizardWhileDualWriting, readStateFile } from '../helpers/migration.js';

let tmp: string;
let dbs: TestDatabases;
const role = `wizplan_${randomBytes(3).toString('hex')}`;
const output = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'migrate-wizard-plan-'));
  dbs = await createDatabases('wizplan');
  await sql(clusterUrl('source'), `CREATE ROLE ${role} LOGIN`);
});

afterAll(async () => {
  await dbs.drop();
  await sql(clusterUrl('source'), `DROP ROLE IF EXISTS ${role}`);
  await sql(clusterUrl('target'), `DROP ROLE IF EXISTS ${role}`);
  await rm(tmp, { recursive: true, force: true });
});

async function targetHasRole(): Promise<boolean> {
  return (await sql(clusterUrl('target'), 'SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).length > 0;
}

describe('migrate wizard --yes checks the plan before changing anything', () => {
  it('a plan without tables fails before the roles are loaded', async () => {
    const plan = path.join(tmp, 'no-tables.json');
    await writeFile(plan, JSON.stringify({ dualWrites: { confirmed: true } }));
    const r = await runCli(['wizard', '--yes', '--plan', plan, '--source', dbs.source, '--target', dbs.target,
      '--dir', path.join(tmp, 'no-tables')], { timeoutMs: 60_000 });
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('plan field "tables"');
    expect(await targetHasRole()).toBe(false);
    const state = await readStateFile(path.join(tmp, 'no-tables'));
    expect(state?.steps.roles?.status ?? 'pending').toBe('pending');
  });

  it('every missing answer is named at once', async () => {
    const plan = path.join(tmp, 'two-missing.json');
    await writeFile(plan, JSON.stringify({ roles: { load: false } }));
    const r = await runCli(['wizard', '--yes', '--plan', plan, '--source', dbs.source, '--target', dbs.target,
      '--dir', path.join(tmp, 'two-missing')], { timeoutMs: 60_000 });
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toContain('Missing 2 answers; nothing was changed');
    expect(r.stderr).toContain('"tables"');
    expect(r.stderr).toContain('"dualWrites.confirmed"');
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] a time column that needs quoting, through a plan', () => {
  it('"Sales Data"."Orders" on "Created At" is migrated unattended and written back quoted', async () => {
    const ddl = `CREATE SCHEMA "Sales Data"; CREATE TABLE "Sales Data"."Orders" ("Created At" timestamptz NOT NULL, id int NOT NULL, amount numeric)`;
    await sql(dbs.source, `${ddl}; CREATE INDEX ON "Sales Data"."Orders" ("Created At");
      INSERT INTO "Sales Data"."Orders" SELECT now() - interval '2 days' + i * interval '1 minute', i, i * 0.25
        FROM generate_series(0, 2000) i;`);
    const dir = path.join(tmp, 'odd-names');
    const plan = path.join(tmp, 'odd-names.json');
    await writeFile(plan, JSON.stringify({
      roles: { load: false },
      tables: [{ table: '"Sales Data"."Orders"', timeColumn: '"Created At"', chunkInterval: '1 day' }],
      dualWrites: { confirmed: true, minRowsPerTable: 2, waitSeconds: 60 },
      completionPoint: { margin: '1 second', lateness: '1 second', waitSeconds: 60 },
    }));
    // The application: once the hypertable exists, every new order goes to both databases.
    let id = 100_000;
    const r = await wizardWhileDualWriting(['--yes', '--plan', plan, '--source', dbs.source, '--target', dbs.target], dir, async () => {
      id += 1;
      const insert = `INSERT INTO "Sales Data"."Orders" VALUES ('${new Date().toISOString()}', ${id}, 1)`;
      await sql(dbs.source, insert);
      await sql(dbs.target, insert);
    });
    expect(r.code, output(r)).toBe(0);
    const written = JSON.parse(await readFile(path.join(dir, 'plan.json'), 'utf8'));
    expect(written.tables[0]).toMatchObject({ table: '"Sales Data"."Orders"', timeColumn: '"Created At"' });
    const below = await sql<{ n: string }>(dbs.target, 'SELECT count(*) AS n FROM "Sales Data"."Orders" WHERE id <= 2000');
    expect(Number(below[0]?.n)).toBe(2001);
  });
});
