import type { Command } from 'commander';
import { Option } from 'commander';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareRuntime } from '../run.js';
import { runWizardCommand } from './wizard.js';

interface DemoFlags { dir?: string; yes?: boolean; scale: string }

export function register(program: Command): void {
  program.command('demo')
    .description('try the whole migration on two throwaway local clusters with a small dual-writing application')
    .option('--dir <path>', 'migration directory (default: a new temporary directory)')
    .option('-y, --yes', 'run unattended with a generated plan (no prompts)')
    .addOption(new Option('--scale <factor>', 'data volume; 1 ≈ 400,000 rows').default('1'))
    .addHelpText('after', `
Starts two local PostgreSQL clusters (the target preloads TimescaleDB when it is installed), fills
the source with sites, customers, devices, metrics (timestamptz) and events (bigint epoch ms),
starts a writer that dual-writes once the target has the tables, and opens the wizard against
them. When it ends (or on Ctrl-C) the writer stops and both clusters are stopped and removed.
Needs the PostgreSQL server binaries (initdb, pg_ctl): PG_BINDIR, pg_config, or /usr/lib/postgresql.`)
    .action(async (flags: DemoFlags) => {
      const scale = Number(flags.scale);
      if (!(scale > 0 && scale <= 20)) {
        const { UsageError } = await import('../../core/errors.js');
        throw new UsageError(`--scale ${JSON.stringify(flags.scale)} is not a number between 0 and 20.`, { hint: 'Try --scale 0.1 for a quick run.' });
      }
      const dir = flags.dir ?? await mkdtemp(path.join(os.tmpdir(), 'migrate-demo-'));
      const runtime = await prepareRuntime({ dir }, { writesDir: true, yes: flags.yes });
      const { runDemo } = await import('../../demo/run-demo.js');
      await runDemo({
        dir: runtime.ctx.dir, yes: Boolean(flags.yes), scale, signal: runtime.ctx.signal,
        say: (text) => runtime.renderer.line(text),
        runWizard: async (input) => {
          runtime.ctx.source = { side: 'source', connectionString: input.source };
          runtime.ctx.target = { side: 'target', connectionString: input.target };
          return runWizardCommand({ dir: input.dir, yes: Boolean(flags.yes), minSize: input.minSize }, 'wizard',
            { runtime, incoming: input.incoming, afterStep: (id) => input.afterStep(id) });
        },
      });
    });
}
