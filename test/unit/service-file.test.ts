/**
 * The connection service file reader (src/core/conninfo/service-file.ts) against libpq's rules:
 * which files are read in which order, how a group is found, and how its lines are read.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readService } from '../../src/core/conninfo/service-file.js';
import { UsageError } from '../../src/core/errors.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'migrate-service-file-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A fresh HOME and sysconfdir, with the files given (relative to the new directory). */
function world(files: Record<string, string>): { home: string; env: NodeJS.ProcessEnv } {
  const dir = path.join(root, String(counter++));
  const home = path.join(dir, 'home');
  const sysconf = path.join(dir, 'etc');
  mkdirSync(home, { recursive: true });
  mkdirSync(sysconf, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return { home, env: { PGSYSCONFDIR: sysconf } };
}

const entries = (map: Map<string, string>): Record<string, string> => Object.fromEntries(map);

function refusal(work: () => unknown): UsageError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('service file reader', () => {
  it('reads the named group only, keeps values literally, trims the line, and the first setting of a key wins', () => {
    const { home, env } = world({
      'home/.pg_service.conf': '# comment\n[other]\nhost=wrong\n\n  [app]  \n  host=db.example  \ndbname=my db\n' +
        "options='-c x=1'\nhost=later\n   # indented comment\n[app2]\nport=1\n",
    });
    expect(entries(readService('app', env, home))).toEqual({ host: 'db.example', dbname: 'my db', options: "'-c x=1'" });
  });

  it('matches [name] exactly: [app2] is not app, and app is not [app2]', () => {
    const { home, env } = world({ 'home/.pg_service.conf': '[app2]\nport=2\n[app]\nport=1\n' });
    expect(entries(readService('app', env, home))).toEqual({ port: '1' });
    expect(entries(readService('app2', env, home))).toEqual({ port: '2' });
  });

  it('PGSERVICEFILE replaces ~/.pg_service.conf; the sysconfdir file comes after either', () => {
    const { home, env } = world({
      'home/.pg_service.conf': '[app]\nhost=home\n',
      'etc/pg_service.conf': '[app]\nhost=system\n[sysonly]\nhost=system-only\n',
      'mine.conf': '[app]\nhost=mine\n',
    });
    const mine = path.join(path.dirname(home), 'mine.conf');
    expect(readService('app', env, home).get('host')).toBe('home');
    expect(readService('app', { ...env, PGSERVICEFILE: mine }, home).get('host')).toBe('mine');
    expect(readService('sysonly', { ...env, PGSERVICEFILE: mine }, home).get('host')).toBe('system-only');
    expect(readService('sysonly', env, home).get('host')).toBe('system-only');
    expect(readService('app', env, undefined).get('host')).toBe('system');
  });

  it('an empty group is found (and gives nothing)', () => {
    const { home, env } = world({ 'home/.pg_service.conf': '[empty]\n[app]\nhost=h\n' });
    expect(entries(readService('empty', env, home))).toEqual({});
  });

  it('refuses what libpq refuses, naming the file and line', () => {
    const { home, env } = world({
      'home/.pg_service.conf': '[spaced]\nhost = h\n[nested]\nservice=other\n[ldap]\nldap://ldap.example/x\n' +
        '[unknown]\nhostname=h\n[noeq]\nhost\n',
    });
    const file = path.join(home, '.pg_service.conf');
    expect(refusal(() => readService('spaced', env, home)).message).toBe(`Syntax error in service file "${file}", line 2.`);
    expect(refusal(() => readService('nested', env, home)).message).toContain('Nested service');
    expect(refusal(() => readService('ldap', env, home)).message).toContain('LDAP');
    expect(refusal(() => readService('unknown', env, home)).message).toContain('line 8');
    expect(refusal(() => readService('noeq', env, home)).message).toContain('line 10');
  });

  it('a PGSERVICEFILE that does not exist is an error, as in libpq; an unknown service is too', () => {
    const { home, env } = world({ 'home/.pg_service.conf': '[app]\nhost=h\n' });
    const missing = path.join(home, 'nope.conf');
    expect(refusal(() => readService('app', { ...env, PGSERVICEFILE: missing }, home)).message).toContain(`"${missing}" (PGSERVICEFILE) was not found`);
    const unknown = refusal(() => readService('nope', env, home));
    expect(unknown.message).toBe('The definition of service "nope" was not found.');
    expect(unknown.hint).toContain('PGSERVICEFILE');
  });
});
