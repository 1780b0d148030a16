/**
 * `migrate demo`: two throwaway local clusters (the same startCluster the tests use), a small
 * application database on the source, a writer that becomes a dual-writer, and the wizard against
 * them. However it ends (finished, Ctrl-C, error, a second Ctrl-C's exit) the writer stops and the
 * clusters are stopped and removed.
 */
import { connect } from '../core/db.js';
import { InterruptedError, MigrateError } from '../core/errors.js';
import type { Plan } from '../core/plan.js';
import { startCluster, type Cluster } from '../core/local-cluster.js';
import { DEMO_DATABASE, DEMO_ROLES, createDemoApp, demoSize } from './app.js';
import { startWriter, type DemoWriter } from './writer.js';

export interface DemoOptions {
  dir: string;
  /** Aborted on Ctrl-C: setup stops between phases; the wizard stops at a safe point. */
  signal: AbortSignal;
  yes: boolean;
  /** Data volume: 1 ≈ 400,000 rows. */
  scale: number;
  say: (text: string) => void;
  /** Runs the wizard against the demo databases (the CLI passes its runWizardCommand). */
  runWizard: (input: { source: string; target: string; dir: string; incoming: Plan; minSize: string;
    afterStep: (id: string) => void }) => Promise<unknown>;
}

/** The plan `migrate demo --yes` follows; margins are seconds so the completion point comes quickly. */
export function demoPlan(yes: boolean): Plan {
  const timing: Plan = { completionPoint: { margin: '2 seconds', lateness: '1 second', waitSeconds: 120 } };
  if (!yes) return timing;
  return {
    ...timing,
    roles: { load: true },
    tables: [{ table: 'public.metrics', timeColumn: 'time' }, { table: 'public.events', timeColumn: 'occurred_at' }],
    dualWrites: { confirmed: true, minRowsPerTable: 5, waitSeconds: 120 },
    backfill: { workers: 2 },
    validate: { skip: false },
    clean: false,
  };
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const clusters: Cluster[] = [];
  const stopClusters = (): void => {
    for (const cluster of clusters.splice(0)) {
      try { cluster.stop(); } catch { /* already gone */ }
    }
  };
  // A second Ctrl-C exits at once: the clusters must not outlive us.
  process.once('exit', stopClusters);
  let writer: DemoWriter | undefined;
  try {
    options.say('Starting two throwaway PostgreSQL clusters (source and target)…');
    clusters.push(await startCluster({ name: 'demo-source' }));
    clusters.push(await startCluster({ name: 'demo-target', timescale: true }));
    const [source, target] = clusters as [Cluster, Cluster];
    const checkAbort = (): void => { if (options.signal.aborted) throw new InterruptedError('Stopped while setting up.'); };
    checkAbort();
    if (!target.hasTimescale) {
      options.say(`TimescaleDB is not installed for the PostgreSQL in ${target.binDir}, so the demo target is plain ` +
        'PostgreSQL: the hypertable step will report itself skipped; everything else runs as usual.');
    }
    for (const cluster of clusters) {
      const admin = await connect({ side: 'source', connectionString: cluster.url() });
      await admin.query(`CREATE DATABASE ${DEMO_DATABASE}`).finally(() => admin.end());
    }
    const sourceUrl = source.url(DEMO_DATABASE);
    const targetUrl = target.url(DEMO_DATABASE);
    const size = demoSize(options.scale);
    options.say('Filling the source with a small application (sites, customers, devices, metrics, events)…');
    const app = await connect({ side: 'source', connectionString: sourceUrl });
    const counts = await createDemoApp(app, size)
      .then(async (result) => { await app.query(DEMO_ROLES); return result; })
      .finally(() => app.end());
    options.say(`  metrics: ${counts.metrics.toLocaleString('en-US')} rows (timestamptz), events: ` +
      `${counts.events.toLocaleString('en-US')} rows (bigint epoch ms), over ${size.days} days.`);
    checkAbort();
    writer = await startWriter({ source: { side: 'source', connectionString: sourceUrl },
      target: { side: 'target', connectionString: targetUrl }, devices: size.metricDevices,
      onWarning: (message) => options.say(message) });
    options.say('The application writer is running against the source; it starts dual-writing once the target has the tables.');
    const dir = options.dir;
    options.say(`Migration directory: ${dir}\n`);
    const active = writer;
    await options.runWizard({
      source: sourceUrl, target: targetUrl, dir, incoming: demoPlan(options.yes),
      minSize: options.scale >= 0.5 ? '1MB' : '0',
      afterStep: (id) => {
        // The hypertables exist now: the "application" switches to dual-writing, as step 6 asks.
        if (id === 'hypertables') {
          active.enableDualWrites();
          options.say('(demo) The writer now dual-writes: every new row goes to the source and the target.');
        }
      },
    });
    options.say(`\n(demo) The writer wrote ${writer.written.source} rows to the source and ${writer.written.target} to the target.`);
  } catch (error) {
    if (error instanceof InterruptedError) {
      throw new InterruptedError('The demo was interrupted.', { hint: 'Its clusters are removed; run `npm run demo` to start it again.' });
    }
    if (error instanceof MigrateError) throw error;
    throw new MigrateError(`The demo failed: ${error instanceof Error ? error.message : String(error)}`, {
      hint: 'The demo needs PostgreSQL server binaries (apt-get install postgresql, or set PG_BINDIR); ' +
        'otherwise rerun with MIGRATE_DEBUG=1 and report it.', cause: error,
    });
  } finally {
    await writer?.stop();
    stopClusters();
    process.removeListener('exit', stopClusters);
    options.say('(demo) The writer is stopped and both demo clusters are stopped and removed ' +
      '(so `migrate resume` does not apply to the demo: run it again instead).');
  }
}
