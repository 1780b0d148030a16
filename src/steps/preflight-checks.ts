/**
 * Preflight's verdicts: plain facts in, a list of checks out (ok / warn / block, each problem with
 * its fix). Pure, so every rule is unit-tested without servers.
 */
import { dumpLoadCompatibility, timescaleVersionProblem } from '../core/compat.js';
import { displayName } from '../core/identifiers.js';
import type { PgTool, PgToolName } from '../core/pg-tools.js';
import type { SourceFacts, TargetFacts } from './preflight-facts.js';

export interface PreflightCheck {
  id: string;
  label: string;
  status: 'ok' | 'warn' | 'block';
  detail: string;
  /** What to do about a warn or block. */
  fix?: string;
}

export interface ToolLookup {
  name: PgToolName;
  tool?: PgTool;
  /** Why it cannot be used (missing, too old), and the fix. */
  problem?: { message: string; hint?: string };
}

export interface CheckInput {
  source: SourceFacts;
  target: TargetFacts;
  tools: ToolLookup[];
  /** Block (rather than warn) when the target has no TimescaleDB. */
  requireTimescale: boolean;
}

/** Extensions that every server has, or that pg_dump never emits. */
const BUILT_IN = new Set(['plpgsql']);

export function missingExtensions(source: SourceFacts, target: TargetFacts): string[] {
  const available = new Set(target.available.map((e) => e.name));
  return source.extensions.map((e) => e.name).filter((name) => !BUILT_IN.has(name) && !available.has(name));
}

function listSome(names: string[], max = 10): string {
  return names.length > max ? `${names.slice(0, max).join(', ')}, …` : names.join(', ');
}

export function evaluateChecks(input: CheckInput): PreflightCheck[] {
  const { source, target } = input;
  const checks: PreflightCheck[] = [];
  const add = (check: PreflightCheck): void => { checks.push(check); };

  add({ id: 'source-server', label: 'source server', status: 'ok',
    detail: `PostgreSQL ${source.version}, database ${source.database} as ${source.user}` });
  add(target.major < source.major
    ? { id: 'target-server', label: 'target server', status: 'warn',
      detail: `PostgreSQL ${target.version} is older than the source (${source.major}); the dump may use syntax it lacks`,
      fix: `Use a target running PostgreSQL ${source.major} or newer.` }
    : { id: 'target-server', label: 'target server', status: 'ok',
      detail: `PostgreSQL ${target.version}, database ${target.database} as ${target.user}` });

  for (const lookup of input.tools) {
    add(lookup.tool
      ? { id: `tool-${lookup.name}`, label: lookup.name, status: 'ok', detail: `${lookup.tool.version} (${lookup.tool.path})` }
      : { id: `tool-${lookup.name}`, label: lookup.name, status: 'block',
        detail: lookup.problem?.message ?? `${lookup.name} cannot be used`, fix: lookup.problem?.hint });
  }
  const pgDump = input.tools.find((t) => t.name === 'pg_dump')?.tool;
  const psql = input.tools.find((t) => t.name === 'psql')?.tool;
  if (pgDump && psql) add({ id: 'dump-load', label: 'psql loads pg_dump output', ...dumpLoadCompatibility(pgDump, psql) });

  add(targetTimescaleCheck(input));
  const sourceTimescale = source.extensions.find((e) => e.name === 'timescaledb');
  if (sourceTimescale) {
    const installed = target.extensions.find((e) => e.name === 'timescaledb')?.version;
    const problem = timescaleVersionProblem(sourceTimescale.version, {
      installable: target.timescaleInstallable, ...(installed === undefined ? {} : { installed }) });
    add(problem
      ? { id: 'source-timescale', label: 'source TimescaleDB', ...problem }
      : { id: 'source-timescale', label: 'source TimescaleDB', status: 'ok',
        detail: `TimescaleDB ${sourceTimescale.version}, same as the target; hypertable data is left out of the dump and backfilled` });
  } else {
    add({ id: 'source-timescale', label: 'source TimescaleDB', status: 'ok', detail: 'no (plain PostgreSQL source)' });
  }

  add(source.canReadAuthid
    ? { id: 'source-authid', label: 'source reads pg_authid', status: 'ok', detail: 'yes: role passwords can be copied' }
    : { id: 'source-authid', label: 'source reads pg_authid', status: 'warn',
      detail: `no: ${source.user} cannot read password hashes (usual on managed services)`,
      fix: '`migrate roles` dumps the roles without passwords (--no-role-passwords); set them on the target ' +
        'afterwards (ALTER ROLE … PASSWORD …), or use a source user that can read pg_authid.' });

  if (source.unreadable.length > 0) {
    add({ id: 'source-readable', label: 'source tables readable', status: 'block',
      detail: `${source.user} cannot read ${listSome(source.unreadable)}; pg_dump would fail`,
      fix: `GRANT USAGE on their schemas and SELECT on them to ${source.user}, or use a source user that can read every table.` });
  } else if (source.rowSecurity.length > 0) {
    add({ id: 'source-readable', label: 'source tables readable', status: 'warn',
      detail: `row-level security hides rows of ${listSome(source.rowSecurity)} from ${source.user}; pg_dump refuses to dump their data`,
      fix: `Use the tables' owner or a role with BYPASSRLS as the source user (or name them with --table so their data is left out).` });
  } else {
    add({ id: 'source-readable', label: 'source tables readable', status: 'ok', detail: `${source.user} can read every table` });
  }

  const missing = missingExtensions(source, target);
  const used = source.extensions.filter((e) => !BUILT_IN.has(e.name)).map((e) => e.name);
  add(missing.length > 0
    ? { id: 'extensions', label: 'extensions', status: 'block',
      detail: `the target lacks ${missing.join(', ')} (installed in the source); the schema load would fail`,
      fix: `Install ${missing.join(', ')} on the target server, or drop ${missing.length === 1 ? 'it' : 'them'} from the source if unused.` }
    : { id: 'extensions', label: 'extensions', status: 'ok',
      detail: used.length > 0 ? `all available on the target: ${used.join(', ')}` : 'the source uses none' });

  add({ id: 'target-superuser', label: 'target superuser', status: 'ok',
    detail: target.isSuperuser ? `${target.user} is a superuser`
      : `${target.user} is not a superuser (normal on managed services; \`migrate roles\` leaves out superuser-only attributes)` });
  if (!target.canCreateSchemas) {
    add({ id: 'target-create', label: 'target CREATE privilege', status: 'warn',
      detail: `${target.user} cannot create schemas or extensions in ${target.database}; the schema load fails if the dump needs to`,
      fix: `GRANT CREATE ON DATABASE ${target.database} TO ${target.user}, or use the database owner.` });
  }
  if (target.userTables.length > 0) {
    const names = target.userTables.map((t) => displayName(t));
    add({ id: 'target-empty', label: 'target database empty', status: 'warn',
      detail: `the target already holds ${names.length} table${names.length === 1 ? '' : 's'}: ${listSome(names)}`,
      fix: 'Use an empty target database; `migrate schema` refuses to load into this one unless given --yes.' });
  } else {
    add({ id: 'target-empty', label: 'target database empty', status: 'ok', detail: 'no user tables yet' });
  }
  return checks;
}

function targetTimescaleCheck(input: CheckInput): PreflightCheck {
  const { target } = input;
  const base = { id: 'target-timescale', label: 'target TimescaleDB' };
  const entry = target.available.find((e) => e.name === 'timescaledb');
  const sourceIsTimescale = input.source.extensions.some((e) => e.name === 'timescaledb');
  if (!entry) {
    return { ...base, status: input.requireTimescale || sourceIsTimescale ? 'block' : 'warn',
      detail: 'not available on the target server: tables can be copied but not turned into hypertables',
      fix: 'Install TimescaleDB on the target server (or use Timescale Cloud), then run `migrate preflight` again.' };
  }
  if (entry.installedVersion) {
    return { ...base, status: 'ok', detail: `TimescaleDB ${entry.installedVersion} installed in ${target.database}` };
  }
  if (target.timescalePreloaded === false) {
    return { ...base, status: input.requireTimescale || sourceIsTimescale ? 'block' : 'warn',
      detail: `TimescaleDB ${entry.defaultVersion ?? ''} is available but not in shared_preload_libraries, so it cannot be created`,
      fix: 'Add timescaledb to shared_preload_libraries on the target (postgresql.conf; keep the libraries already listed) ' +
        'and restart it, then run `migrate preflight` again.' };
  }
  return { ...base, status: 'ok',
    detail: `TimescaleDB ${entry.defaultVersion ?? ''} available; \`migrate schema\` creates the extension` };
}
