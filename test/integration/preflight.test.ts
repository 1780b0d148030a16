/**
 * `migrate preflight` against the real clusters: a healthy pair passes; connection problems fail
 * with the side, the reason and the fix (and never the password); blockers exit 1 with their fix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_PASSWORD, freePort } from '../../src/core/local-cluster.js';
import type { PreflightReport } from '../../src/steps/preflight.js';
import { runCli } from '../helpers/cli.js';
import { clusterUrl, createDatabases, hasTimescale, sql, type TestDatabases } from '../helpers/databases.js';

const relaxed = hasTimescale ? [] : ['--no-require-timescale'];

function parseReport(stdout: string): PreflightReport {
  return JSON.parse(stdout) as PreflightReport;
}

function check(report: PreflightReport, id: string): PreflightReport['checks'][number] | undefined {
  return report.checks.find((c) => c.id === id);
}

describe('migrate preflight', () => {
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createDatabases('preflight');
    await sql(dbs.source, `CREATE EXTENSION IF NOT EXISTS pgcrypto;
      CREATE TABLE public.metrics (time timestamptz NOT NULL, value float8);`);
  });

  afterAll(async () => {
    await dbs.drop();
  });

  it('passes a plain source and the TimescaleDB target, as JSON', async () => {
    const result = await runCli(['preflight', '--source', dbs.source, '--target', dbs.target, '--json', ...relaxed]);
    expect(result.code, result.stderr).toBe(0);
    const report = parseReport(result.stdout);
    expect(report.ok).toBe(true);
    expect(report.checks.filter((c) => c.status === 'block')).toEqual([]);
    expect(report.source.major).toBeGreaterThanOrEqual(13);
    expect(report.source.database).toBe(dbs.sourceName);
    expect(report.target.database).toBe(dbs.targetName);
    expect(report.sourceIsTimescale).toBe(false);
    expect(report.canReadAuthid).toBe(true);
    expect(report.target.isSuperuser).toBe(true);
    expect(report.missingExtensions).toEqual([]);
    expect(check(report, 'extensions')?.detail).toContain('pgcrypto');
    expect(Object.keys(report.tools).sort()).toEqual(['pg_dump', 'pg_dumpall', 'psql']);
    expect(report.tools.pg_dump?.version.split('.')[0]).toBe(String(report.source.major));
    expect(report.target.timescaleAvailable).toBe(hasTimescale);
    if (hasTimescale) {
      expect(report.target.timescaleVersion).toMatch(/^\d+\.\d+\.\d+$/);
      expect(report.target.timescaleInstalled).toBeUndefined();
      expect(report.target.timescalePreloaded).toBe(true);
    }
    expect(result.stdout + result.stderr).not.toContain(CLUSTER_PASSWORD);
  });

  it('prints a table and a verdict without --json', async () => {
    const result = await runCli(['preflight', '--source', dbs.source, '--target', dbs.target, ...relaxed]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^check\s+status\s+detail/);
    expect(result.stdout).toMatch(/pg_dump\s+ok/);
    expect(result.stdout).toContain('Nothing blocks the migration');
  });

  it('fails with exit 1 for an unreachable server, naming the side and the fix', async () => {
    const port = await freePort();
    const unreachable = `postgres://postgres:${CLUSTER_PASSWORD}@127.0.0.1:${port}/postgres`;
    const result = await runCli(['preflight', '--source', unreachable, '--target', dbs.target]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Cannot reach the source');
    expect(result.stderr).toContain('--source');
    expect(result.stdout + result.stderr).not.toContain(CLUSTER_PASSWORD);
  });

  it('fails with exit 2 for a wrong password and never shows it', async () => {
    const wrong = 'Wrong-Pass-93xq';
    const result = await runCli(['preflight', '--source', dbs.source,
      '--target', clusterUrl('target', dbs.targetName, 'postgres', wrong)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('target server refused the login');
    expect(result.stderr).toContain('password');
    expect(result.stdout + result.stderr).not.toContain(wrong);
    expect(result.stdout + result.stderr).not.toContain(CLUSTER_PASSWORD);
  });

  it('fails with exit 2 for a database that does not exist', async () => {
    const result = await runCli(['preflight', '--source', clusterUrl('source', 'no_such_database_pf'), '--target', dbs.target]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('source database does not exist');
    expect(result.stderr).toContain('createdb');
  });

  it('blocks (exit 1) when pg_dump is missing, with the fix', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'migrate-empty-bin-'));
    try {
      const result = await runCli(['preflight', '--source', dbs.source, '--target', dbs.target, '--json', ...relaxed],
        { env: { PG_BINDIR: empty } });
      expect(result.code).toBe(1);
      const report = parseReport(result.stdout);
      expect(report.ok).toBe(false);
      const pgDump = check(report, 'tool-pg_dump');
      expect(pgDump?.status).toBe('block');
      expect(pgDump?.detail).toContain(`pg_dump was not found in PG_BINDIR (${empty})`);
      expect(pgDump?.fix).toContain('PG_BINDIR');
      expect(result.stderr).toContain('block the migration: pg_dump, pg_dumpall, psql');
      expect(result.stderr).toContain('Install the PostgreSQL client tools');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('blocks a target whose TimescaleDB is not preloaded, and only warns with --no-require-timescale', async () => {
    // The source cluster has TimescaleDB's files (same installation) but does not preload it.
    const plainTarget = `pf_plain_target_${Math.random().toString(36).slice(2, 8)}`;
    await sql(clusterUrl('source'), `CREATE DATABASE "${plainTarget}"`);
    try {
      const args = ['preflight', '--source', dbs.source, '--target', clusterUrl('source', plainTarget), '--json'];
      const strict = await runCli(args);
      expect(strict.code).toBe(1);
      const blocked = check(parseReport(strict.stdout), 'target-timescale');
      expect(blocked?.status).toBe('block');
      expect(blocked?.fix).toMatch(/shared_preload_libraries|Install TimescaleDB/);
      const lenient = await runCli([...args, '--no-require-timescale']);
      expect(lenient.code, lenient.stderr).toBe(0);
      expect(check(parseReport(lenient.stdout), 'target-timescale')?.status).toBe('warn');
    } finally {
      await sql(clusterUrl('source'), `DROP DATABASE IF EXISTS "${plainTarget}" WITH (FORCE)`);
    }
  });

  describe('with a source user that cannot read everything', () => {
    const role = `pf_reader_${Math.random().toString(36).slice(2, 8)}`;
    const rolePassword = 'Reader-Pass-71zz';

    beforeAll(async () => {
      await sql(clusterUrl('source'), `CREATE ROLE "${role}" LOGIN PASSWORD '${rolePassword}'`);
      await sql(dbs.source, `CREATE SCHEMA vault; CREATE TABLE vault."Secret Keys" (k text);
        GRANT USAGE ON SCHEMA vault TO "${role}"; GRANT SELECT ON public.metrics TO "${role}";`);
    });

    afterAll(async () => {
      await sql(dbs.source, `DROP SCHEMA vault CASCADE; REVOKE ALL ON public.metrics FROM "${role}";`);
      await sql(clusterUrl('source'), `DROP ROLE IF EXISTS "${role}"`);
    });

    it('blocks on unreadable tables and warns that role passwords cannot be read', async () => {
      const source = clusterUrl('source', dbs.sourceName, role, rolePassword);
      const result = await runCli(['preflight', '--source', source, '--target', dbs.target, '--json', ...relaxed]);
      expect(result.code).toBe(1);
      const report = parseReport(result.stdout);
      expect(report.canReadAuthid).toBe(false);
      expect(check(report, 'source-authid')?.status).toBe('warn');
      const readable = check(report, 'source-readable');
      expect(readable?.status).toBe('block');
      expect(readable?.detail).toContain('vault."Secret Keys"');
      expect(readable?.detail).not.toContain('metrics');
      expect(result.stderr).toContain('GRANT');
      expect(result.stdout + result.stderr).not.toContain(rolePassword);
    });
  });

  it.skipIf(!hasTimescale)('[timescaledb] recognises a TimescaleDB source with the same version as the target', async () => {
    // The target cluster preloads TimescaleDB, so a second database there serves as a TimescaleDB source.
    const tsSource = `pf_ts_source_${Math.random().toString(36).slice(2, 8)}`;
    await sql(clusterUrl('target'), `CREATE DATABASE "${tsSource}"`);
    try {
      await sql(clusterUrl('target', tsSource), 'CREATE EXTENSION timescaledb');
      const result = await runCli(['preflight', '--source', clusterUrl('target', tsSource), '--target', dbs.target, '--json']);
      expect(result.code, result.stderr).toBe(0);
      const report = parseReport(result.stdout);
      expect(report.sourceIsTimescale).toBe(true);
      expect(report.source.timescaleVersion).toBe(report.target.timescaleVersion);
      expect(check(report, 'source-timescale')?.status).toBe('ok');
    } finally {
      await sql(clusterUrl('target'), `DROP DATABASE IF EXISTS "${tsSource}" WITH (FORCE)`);
    }
  });
});
