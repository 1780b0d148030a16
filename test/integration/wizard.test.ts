/**
 * `migrate wizard`: unattended from a plan against real clusters with a dual-writing application,
 * plan mistakes reported at once, fail-fast without a terminal, and the interactive flow driven
 * for real through Inquirer's testing package.
 */
import { screen } from '@inquirer/testing/vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectingContext } from '../../src/core/context.js';
import { splitPassword } from '../../src/core/connection.js';
import { CLUSTER_PASSWORD } from '../../src/core/local-cluster.js';
import { runCli } from '../helpers/cli.js';
import { createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';
import { expectSameRows, fillSource, readStateFile, startApplication } from '../helpers/migration.js';

let tmp: string;
beforeAll(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), 'migrate-wizard-test-')); });
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

describe('migrate wizard without a terminal', () => {
  it('fails fast naming the missing flag', async () => {
    const r = await runCli(['wizard', '--dir', path.join(tmp, 'no-tty')], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Missing answer: the source connection string (plan field "source")');
    expect(r.stderr).toContain('--source');
  });

  it('reports all three mistakes of a plan at once, with their paths', async () => {
    const plan = path.join(tmp, 'bad-plan.json');
    await writeFile(plan, JSON.stringify({
      tables: [{ table: 'public.metrics' }, { table: 'public.events', timeColumn: 7 }],
      dualWrites: { confirmed: 'yes' },
      backfil: { workers: 2 },
    }));
    const r = await runCli(['wizard', '--yes', '--plan', plan, '--dir', path.join(tmp, 'bad')], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has 3 problems');
    expect(r.stderr).toContain('tables[1].timeColumn: expected string, received number');
    expect(r.stderr).toContain('dualWrites.confirmed: expected boolean, received string');
    expect(r.stderr).toContain('backfil: unknown field');
  });
});

describe.skipIf(!hasTimescale)('[timescaledb] migrate wizard --yes --plan', () => {
  let dbs: TestDatabases;
  beforeAll(async () => {
    dbs = await createDatabases('wizard_plan');
    await fillSource(dbs.source, 0.05);
  });
  afterAll(async () => { await dbs.drop(); });

  it('runs the whole procedure unattended and ends with source and target equal', async () => {
    const dir = path.join(tmp, 'plan-run');
    const plan = path.join(tmp, 'plan.json');
    await writeFile(plan, JSON.stringify({
      tables: [{ table: 'public.metrics', timeColumn: 'time' }, { table: 'events', compress: { segmentBy: ['device_id'] } }],
      dualWrites: { confirmed: true, minRowsPerTable: 3, waitSeconds: 60 },
      completionPoint: { margin: '1 second', lateness: '1 second', waitSeconds: 60 },
      backfill: { workers: 2 },
      clean: true,
    }));
    const app = await startApplication(dbs.source, dbs.target, dir);
    let r;
    try {
      r = await runCli(['wizard', '--yes', '--plan', plan, '--source', dbs.source, '--target', dbs.target, '--dir', dir]);
    } finally {
      await app.stop();
    }
    expect(r.stderr).not.toContain(CLUSTER_PASSWORD);
    expect(r.code, r.stderr).toBe(0);
    const state = await readStateFile(dir);
    expect(Object.values(state?.steps ?? {}).map((s) => s.status)).toEqual(Array(11).fill('done'));
    // Both hypertables, and every row equal on both sides (history backfilled, new rows dual-written).
    const hypertables = await sql<{ n: string }>(dbs.target,
      "SELECT count(*) AS n FROM timescaledb_information.hypertables WHERE hypertable_name IN ('metrics', 'events')");
    expect(Number(hypertables[0]?.n)).toBe(2);
    expect(await expectSameRows(dbs.source, dbs.target, 'metrics', 'device_id, time')).toBeGreaterThan(10_000);
    expect(await expectSameRows(dbs.source, dbs.target, 'events', 'occurred_at, device_id, kind')).toBeGreaterThan(3_000);
    await expectSameRows(dbs.source, dbs.target, 'customers', 'id');
    await expectSameRows(dbs.source, dbs.target, 'devices', 'id');
    // clean: true dropped the ledger; summary.md and plan.json are written, without passwords.
    expect(await sql(dbs.target, "SELECT 1 FROM pg_namespace WHERE nspname = '_migrate'")).toEqual([]);
    const summary = await readFile(path.join(dir, 'summary.md'), 'utf8');
    expect(summary).toContain('| public.metrics | time |');
    expect(summary).toContain('## Switch-over checklist');
    expect(summary).toContain('Ready to switch over');
    for (const file of ['state.json', 'plan.json', 'summary.md']) {
      expect(await readFile(path.join(dir, file), 'utf8')).not.toContain(CLUSTER_PASSWORD);
    }
    const followed = JSON.parse(await readFile(path.join(dir, 'plan.json'), 'utf8'));
    expect(followed.tables.map((t: { completionPoint: string }) => t.completionPoint)).toEqual(['suggested', 'suggested']);
    // A second wizard on the same directory points at resume instead of starting over.
    const again = await runCli(['wizard', '--yes', '--plan', plan, '--source', dbs.source, '--target', dbs.target, '--dir', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('migrate resume --dir');
  });
});

/** Answer each prompt by what it asks: the flow calls `beforePrompt`, then the prompt renders. */
function autoAnswer(answers: [RegExp, () => void][], seen: string[]): () => void {
  return () => {
    setTimeout(() => {
      const text = screen.getScreen();
      seen.push(text);
      const match = answers.find(([pattern]) => pattern.test(text));
      if (!match) throw new Error(`unexpected prompt:\n${text}`);
      match[1]();
    }, 20);
  };
}

describe.skipIf(!hasTimescale)('[timescaledb] migrate wizard, interactive', () => {
  let dbs: TestDatabases;
  beforeAll(async () => {
    dbs = await createDatabases('wizard_tty');
    await fillSource(dbs.source, 0.03);
  });
  afterAll(async () => { await dbs.drop(); });

  it('walks every step with prompts against real clusters', async () => {
    const { runFlow } = await import('../../src/wizard/flow.js');
    const { createPrompts } = await import('../../src/wizard/prompts.js');
    const dir = path.join(tmp, 'interactive');
    const app = await startApplication(dbs.source, dbs.target, dir);
    const seen: string[] = [];
    const targetWithoutPassword = splitPassword(dbs.target).connectionString;
    let refreshed = false;
    const type = (text: string) => () => { screen.type(text); screen.keypress('enter'); };
    const enter = () => screen.keypress('enter');
    const prompts = createPrompts({ beforePrompt: autoAnswer([
      [/Source \(the database to move\) connection string/, type(dbs.source)],
      [/Password for the target/, type(CLUSTER_PASSWORD)],
      [/Load \d+ role\(s\) into the target/, enter],
      [/Tables to convert to hypertables/, enter], // metrics and events are pre-selected
      [/: time column/, enter],
      [/: chunk interval/, enter],
      [/metrics: enable compression/, () => { screen.type('y'); enter(); }],
      [/enable compression/, enter],
      [/segment by/, type('device_id')],
      [/compress chunks older than/, enter],
      [/Dump the schema/, enter],
      [/Is the application dual-writing/, () => {
        // Once to see rows arriving, then "yes" (after a moment, so the consistency range opens).
        if (!refreshed) { refreshed = true; setTimeout(enter, 2500); return; }
        screen.keypress('down'); enter();
      }],
      [/completion point T/, enter],
      [/Delete these rows on the target/, () => { screen.type('y'); enter(); }],
      [/Parallel backfill workers/, enter],
      [/Compare source and target/, enter],
      [/Sequences: ids to add beyond the highest in use/, enter],
      [/Remove the backfill ledger/, enter],
    ], seen) });
    const lines: string[] = [];
    const ctx = collectingContext({ source: { side: 'source', connectionString: undefined },
      target: { side: 'target', connectionString: targetWithoutPassword }, dir, dryRun: false });
    try {
      const result = await runFlow({ step: ctx, prompts, interactive: true, yes: false, command: 'wizard', minBytes: 100 * 1024,
        incoming: { completionPoint: { margin: '1 second', lateness: '1 second' } }, say: (t) => lines.push(t) });
      expect(result.completed).toBe(true);
    } finally {
      await app.stop();
    }
    const output = lines.join('\n');
    expect(output).toContain('Now change the application so that it writes every new row to BOTH databases');
    expect(output).toMatch(/Rows in the target now \(from dual-writes\):\n {4}public\.metrics: [1-9]/);
    expect(output).toMatch(/The backfill replaces the target's rows below T[^\n]*\n {2}public\.metrics: [\d,]+ rows below/);
    expect(seen.some((s) => /public\.metrics .* time: time \(timestamptz\)/.test(s))).toBe(true);
    const state = await readStateFile(dir);
    expect(Object.values(state?.steps ?? {}).every((s) => s.status === 'done')).toBe(true);
    expect(JSON.stringify(state)).not.toContain(CLUSTER_PASSWORD);
    const compression = await sql<{ segmentby: string }>(dbs.target,
      "SELECT attname AS segmentby FROM timescaledb_information.compression_settings WHERE hypertable_name = 'metrics' AND segmentby_column_index IS NOT NULL");
    expect(compression.map((c) => c.segmentby)).toEqual(['device_id']);
    await expectSameRows(dbs.source, dbs.target, 'metrics', 'device_id, time');
    await expectSameRows(dbs.source, dbs.target, 'events', 'occurred_at, device_id, kind');
  });
});
