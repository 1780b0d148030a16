import { describe, expect, it } from 'vitest';
import { dumpLoadCompatibility, hasRestrict, timescaleVersionProblem } from '../../src/core/compat.js';

const tool = (version: string): { version: string; major: number; path: string } =>
  ({ version, major: Number(version.split('.')[0]), path: `/opt/pg/${version}/bin/tool` });

describe('hasRestrict', () => {
  it.each([
    ['18.0', true], ['19.1', true], ['17.6', true], ['17.5', false], ['16.10', true], ['16.9', false],
    ['15.14', true], ['15.13', false], ['15.18', true], ['14.19', true], ['14.18', false], ['13.22', true],
    ['13.21', false], ['12.22', false], ['9.6', false], ['17', false],
  ])('%s → %s', (version, expected) => {
    expect(hasRestrict(version)).toBe(expected);
  });
});

describe('dumpLoadCompatibility', () => {
  it('blocks a psql that cannot read the \\restrict lines pg_dump writes', () => {
    const result = dumpLoadCompatibility(tool('17.6'), tool('17.5'));
    expect(result.status).toBe('block');
    expect(result.detail).toContain('\\restrict');
    expect(result.fix).toContain('PG_BINDIR');
  });

  it('warns when psql is an older major than pg_dump but understands its output', () => {
    expect(dumpLoadCompatibility(tool('17.6'), tool('16.10')).status).toBe('warn');
  });

  it('accepts matching tools, and an old pg_dump with any psql', () => {
    expect(dumpLoadCompatibility(tool('15.18'), tool('15.18')).status).toBe('ok');
    expect(dumpLoadCompatibility(tool('15.13'), tool('15.10')).status).toBe('ok');
    expect(dumpLoadCompatibility(tool('15.18'), tool('17.6')).status).toBe('ok');
  });
});

describe('timescaleVersionProblem', () => {
  it('accepts the same installed version, or an installable one', () => {
    expect(timescaleVersionProblem('2.28.3', { installable: ['2.28.3'], installed: '2.28.3' })).toBeUndefined();
    expect(timescaleVersionProblem('2.17.0', { installable: ['2.28.3', '2.17.0'] })).toBeUndefined();
  });

  it('blocks a different installed version, naming both, and updates the older side (there is no downgrade)', () => {
    const problem = timescaleVersionProblem('2.17.0', { installable: ['2.28.3'], installed: '2.28.3' });
    expect(problem?.status).toBe('block');
    expect(problem?.detail).toContain('2.17.0');
    expect(problem?.detail).toContain('2.28.3');
    expect(problem?.fix).toMatch(/^Update TimescaleDB on the source to 2\.28\.3 \(ALTER EXTENSION timescaledb UPDATE TO '2\.28\.3' in the source/);
    const targetOlder = timescaleVersionProblem('2.28.3', { installable: ['2.28.3'], installed: '2.27.0' });
    expect(targetOlder?.fix).toMatch(/^Update TimescaleDB in the target database to 2\.28\.3: ALTER EXTENSION timescaledb UPDATE TO '2\.28\.3'/);
  });

  it('blocks a target without TimescaleDB or without the source version', () => {
    expect(timescaleVersionProblem('2.17.0', { installable: [] })?.detail).toContain('does not have TimescaleDB');
    const other = timescaleVersionProblem('2.17.0', { installable: ['2.28.3'] });
    expect(other?.status).toBe('block');
    expect(other?.fix).toContain('Install TimescaleDB 2.17.0');
  });
});
