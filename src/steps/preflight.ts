/**
 * `migrate preflight`: connect to both ends, read what matters (versions, client tools,
 * TimescaleDB, extensions, permissions) and judge whether anything blocks the migration.
 * Read-only. Connection failures are not checks: they throw connect()'s errors (wrong side,
 * reason, fix) because nothing else can be checked without the connection.
 */
import type { StepContext } from '../core/context.js';
import { withClient } from '../core/db.js';
import { MigrateError } from '../core/errors.js';
import { requirePgTool, type PgToolName } from '../core/pg-tools.js';
import { displayName } from '../core/identifiers.js';
import { evaluateChecks, missingExtensions, type PreflightCheck, type ToolLookup } from './preflight-checks.js';
import { readSourceFacts, readTargetFacts, type ServerFacts } from './preflight-facts.js';

export type { PreflightCheck } from './preflight-checks.js';

/** A server as the report shows it: the facts, without the extensions' schemas. */
export type ServerSummary = Omit<ServerFacts, 'extensions'> & { extensions: { name: string; version: string }[] };

export interface PreflightReport {
  /** Nothing blocks the migration. */
  ok: boolean;
  checks: PreflightCheck[];
  source: ServerSummary & { timescaleVersion?: string };
  target: ServerSummary & {
    timescaleAvailable: boolean;
    /** The version CREATE EXTENSION would install (pg_available_extensions.default_version). */
    timescaleVersion?: string;
    /** Installed in the target database. */
    timescaleInstalled?: string;
    /** undefined when this user may not read shared_preload_libraries. */
    timescalePreloaded?: boolean;
    /** User tables already in the target database (display names). */
    tables: string[];
  };
  tools: Partial<Record<PgToolName, { path: string; version: string }>>;
  canReadAuthid: boolean;
  sourceIsTimescale: boolean;
  missingExtensions: string[];
}

export interface PreflightInput {
  /** Block (not just warn) when the target has no TimescaleDB. Default true: that is the point. */
  requireTimescale?: boolean;
}

export async function runPreflight(input: PreflightInput, ctx: StepContext): Promise<PreflightReport> {
  // Source first: its major version decides which pg_dump is new enough.
  const source = await withClient(ctx.source, readSourceFacts, { applicationName: 'migrate preflight' });
  const target = await withClient(ctx.target, readTargetFacts, { applicationName: 'migrate preflight' });
  const tools = (['pg_dump', 'pg_dumpall', 'psql'] as const).map((name) => lookUpTool(name, source.major));
  const checks = evaluateChecks({ source, target, tools, requireTimescale: input.requireTimescale ?? true });

  const sourceTimescale = source.extensions.find((e) => e.name === 'timescaledb')?.version;
  const available = target.available.find((e) => e.name === 'timescaledb');
  const summary = (s: typeof source | typeof target): ServerSummary => ({
    version: s.version, versionNum: s.versionNum, major: s.major, database: s.database, user: s.user,
    isSuperuser: s.isSuperuser, extensions: s.extensions.map((e) => ({ name: e.name, version: e.version })),
  });
  const report: PreflightReport = {
    ok: checks.every((c) => c.status !== 'block'),
    checks,
    source: { ...summary(source), ...(sourceTimescale ? { timescaleVersion: sourceTimescale } : {}) },
    target: {
      ...summary(target),
      timescaleAvailable: available !== undefined,
      ...(available?.defaultVersion ? { timescaleVersion: available.defaultVersion } : {}),
      ...(available?.installedVersion ? { timescaleInstalled: available.installedVersion } : {}),
      ...(target.timescalePreloaded === undefined ? {} : { timescalePreloaded: target.timescalePreloaded }),
      tables: target.userTables.map((t) => displayName(t)),
    },
    tools: Object.fromEntries(tools.filter((t) => t.tool).map((t) => [t.name, { path: t.tool?.path ?? '', version: t.tool?.version ?? '' }])),
    canReadAuthid: source.canReadAuthid,
    sourceIsTimescale: sourceTimescale !== undefined,
    missingExtensions: missingExtensions(source, target),
  };
  return report;
}

/** pg_dump and pg_dumpall must be at least the source's major version; psql just has to exist. */
function lookUpTool(name: PgToolName, sourceMajor: number): ToolLookup {
  try {
    return { name, tool: requirePgTool(name, name === 'psql' ? undefined : sourceMajor) };
  } catch (error) {
    if (!(error instanceof MigrateError)) throw error;
    return { name, problem: { message: error.message, ...(error.hint ? { hint: error.hint } : {}) } };
  }
}
