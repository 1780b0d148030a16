import { describe, expect, it } from 'vitest';
import { evaluateChecks, missingExtensions, type CheckInput, type PreflightCheck } from '../../src/steps/preflight-checks.js';
import { parsePreloadLibraries, type SourceFacts, type TargetFacts } from '../../src/steps/preflight-facts.js';

const server = { version: '15.18', versionNum: 150018, major: 15, database: 'app', user: 'migrator', isSuperuser: false };

function source(overrides: Partial<SourceFacts> = {}): SourceFacts {
  return { ...server, extensions: [{ name: 'plpgsql', version: '1.0', schema: 'pg_catalog' }], canReadAuthid: true,
    unreadable: [], rowSecurity: [], ...overrides };
}

function target(overrides: Partial<TargetFacts> = {}): TargetFacts {
  return { ...server, database: 'tsdb', user: 'tsdbadmin', extensions: [{ name: 'plpgsql', version: '1.0', schema: 'pg_catalog' }],
    available: [{ name: 'plpgsql', defaultVersion: '1.0', installedVersion: '1.0' },
      { name: 'timescaledb', defaultVersion: '2.28.3', installedVersion: null }],
    timescaleInstallable: ['2.28.3'], timescalePreloaded: undefined, canCreateSchemas: true, userTables: [], ...overrides };
}

const tool = (name: 'pg_dump' | 'pg_dumpall' | 'psql', version = '15.18'): CheckInput['tools'][number] =>
  ({ name, tool: { name, path: `/usr/lib/postgresql/15/bin/${name}`, version, major: Number(version.split('.')[0]) } });
const tools = [tool('pg_dump'), tool('pg_dumpall'), tool('psql')];

function check(checks: PreflightCheck[], id: string): PreflightCheck {
  const found = checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${checks.map((c) => c.id).join(', ')}`);
  return found;
}

const run = (input: Partial<CheckInput>): PreflightCheck[] =>
  evaluateChecks({ source: source(), target: target(), tools, requireTimescale: true, ...input });

describe('evaluateChecks', () => {
  it('passes a plain source and a target that offers TimescaleDB', () => {
    const checks = run({});
    expect(checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(check(checks, 'target-timescale').detail).toContain('2.28.3 available');
    expect(check(checks, 'source-timescale').detail).toContain('plain PostgreSQL');
    expect(check(checks, 'target-superuser').detail).toContain('not a superuser');
  });

  it('blocks a missing or too old pg_dump with the lookup\'s own message and fix', () => {
    const checks = run({ tools: [{ name: 'pg_dump', problem: { message: 'pg_dump was not found in PG_BINDIR (/x).', hint: 'Install it.' } },
      tool('pg_dumpall'), tool('psql')] });
    expect(check(checks, 'tool-pg_dump')).toMatchObject({ status: 'block', detail: 'pg_dump was not found in PG_BINDIR (/x).', fix: 'Install it.' });
    expect(checks.some((c) => c.id === 'dump-load')).toBe(false);
  });

  it('blocks a psql that cannot load the \\restrict lines of a newer pg_dump', () => {
    const checks = run({ tools: [tool('pg_dump', '17.6'), tool('pg_dumpall', '17.6'), tool('psql', '17.2')] });
    expect(check(checks, 'dump-load').status).toBe('block');
  });

  it('blocks a target without TimescaleDB, or only warns when it is not required', () => {
    const bare = target({ available: [], timescaleInstallable: [] });
    expect(check(run({ target: bare }), 'target-timescale').status).toBe('block');
    const relaxed = check(run({ target: bare, requireTimescale: false }), 'target-timescale');
    expect(relaxed.status).toBe('warn');
    expect(relaxed.fix).toContain('Install TimescaleDB');
  });

  it('blocks TimescaleDB that is available but provably not preloaded', () => {
    const result = check(run({ target: target({ timescalePreloaded: false }) }), 'target-timescale');
    expect(result.status).toBe('block');
    expect(result.fix).toContain('shared_preload_libraries');
  });

  it('requires the same TimescaleDB version on both sides for a TimescaleDB source', () => {
    const tsSource = source({ extensions: [{ name: 'timescaledb', version: '2.17.0', schema: 'public' }] });
    const mismatch = check(run({ source: tsSource }), 'source-timescale');
    expect(mismatch.status).toBe('block');
    expect(mismatch.detail).toContain('2.17.0');
    const same = check(run({ source: tsSource, target: target({ timescaleInstallable: ['2.28.3', '2.17.0'] }) }), 'source-timescale');
    expect(same.status).toBe('ok');
    // Even with requireTimescale off, a TimescaleDB source needs TimescaleDB on the target.
    const bare = run({ source: tsSource, target: target({ available: [], timescaleInstallable: [] }), requireTimescale: false });
    expect(check(bare, 'target-timescale').status).toBe('block');
  });

  it('warns (not blocks) when the source cannot read pg_authid', () => {
    const result = check(run({ source: source({ canReadAuthid: false }) }), 'source-authid');
    expect(result.status).toBe('warn');
    expect(result.fix).toContain('--no-role-passwords');
  });

  it('blocks unreadable source tables and warns about row-level security', () => {
    expect(check(run({ source: source({ unreadable: ['secret.keys'] }) }), 'source-readable'))
      .toMatchObject({ status: 'block', detail: expect.stringContaining('secret.keys') });
    expect(check(run({ source: source({ rowSecurity: ['public.tenants'] }) }), 'source-readable').status).toBe('warn');
  });

  it('blocks extensions the target lacks, and lists them', () => {
    const withExtensions = source({ extensions: [{ name: 'plpgsql', version: '1.0', schema: 'pg_catalog' },
      { name: 'postgis', version: '3.4', schema: 'public' }, { name: 'hstore', version: '1.8', schema: 'public' }] });
    const tgt = target({ available: [...target().available, { name: 'hstore', defaultVersion: '1.8', installedVersion: null }] });
    expect(missingExtensions(withExtensions, tgt)).toEqual(['postgis']);
    expect(check(run({ source: withExtensions, target: tgt }), 'extensions'))
      .toMatchObject({ status: 'block', detail: expect.stringContaining('postgis') });
  });

  it('warns about an older target server, missing CREATE privilege and tables already in the target', () => {
    const checks = run({ target: target({ major: 14, version: '14.12', canCreateSchemas: false,
      userTables: [{ schema: 'public', table: 'old' }, { schema: 'Sales Data', table: 'Orders' }] }) });
    expect(check(checks, 'target-server').status).toBe('warn');
    expect(check(checks, 'target-create').status).toBe('warn');
    expect(check(checks, 'target-empty')).toMatchObject({ status: 'warn', detail: expect.stringContaining('"Sales Data"."Orders"') });
    expect(checks.every((c) => c.status !== 'block')).toBe(true);
  });
});

describe('parsePreloadLibraries', () => {
  it('splits and unquotes', () => {
    expect(parsePreloadLibraries(`timescaledb, "$libdir/pg_stat_statements",'auto_explain'`))
      .toEqual(['timescaledb', '$libdir/pg_stat_statements', 'auto_explain']);
    expect(parsePreloadLibraries('')).toEqual([]);
  });
});
