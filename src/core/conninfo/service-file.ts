/**
 * Connection service files, read as libpq's parseServiceInfo/parseServiceFile do: PGSERVICEFILE
 * (which must exist when set) or ~/.pg_service.conf (when it exists), then
 * PGSYSCONFDIR/pg_service.conf (libpq's compiled-in sysconfdir when PGSYSCONFDIR is unset). The
 * first file with a `[name]` group is used; `key=value` lines, no quoting and no spaces around
 * `=`, the first setting of a key wins. The values go under the connection string's own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { KEYWORDS } from './keywords.js';

type Env = NodeJS.ProcessEnv;

let compiledSysconfdir: string | undefined;

/** Where this machine's libpq looks when PGSYSCONFDIR is unset: `pg_config --sysconfdir`. */
function sysconfdir(env: Env): string {
  if (env.PGSYSCONFDIR) return env.PGSYSCONFDIR;
  if (compiledSysconfdir === undefined) {
    const result = spawnSync('pg_config', ['--sysconfdir'], { encoding: 'utf8' });
    compiledSysconfdir = result.status === 0 && result.stdout.trim() ? result.stdout.trim() : '/etc/postgresql-common';
  }
  return compiledSysconfdir;
}

function serviceError(message: string): UsageError {
  return new UsageError(message, {
    hint: 'Check PGSERVICEFILE, ~/.pg_service.conf or PGSYSCONFDIR/pg_service.conf: a [name] line, then key=value lines ' +
      'with libpq keywords (host, port, dbname, user, sslmode, …).',
  });
}

/** The settings of service `name`; throws a UsageError when no file defines it. */
export function readService(name: string, env: Env, home: string | undefined): Map<string, string> {
  const files: Array<{ file: string; mustExist: boolean }> = [];
  if (env.PGSERVICEFILE) files.push({ file: env.PGSERVICEFILE, mustExist: true });
  else if (home) files.push({ file: path.join(home, '.pg_service.conf'), mustExist: false });
  files.push({ file: path.join(sysconfdir(env), 'pg_service.conf'), mustExist: false });
  for (const { file, mustExist } of files) {
    if (!existsSync(file)) {
      if (mustExist) throw serviceError(`The service file "${file}" (PGSERVICEFILE) was not found.`);
      continue;
    }
    const group = parseServiceFile(file, name);
    if (group) return group;
  }
  throw serviceError(`The definition of service "${name}" was not found.`);
}

function parseServiceFile(file: string, name: string): Map<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw serviceError(`The service file "${file}" cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  let found: Map<string, string> | undefined;
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      if (found) return found;
      // libpq compares the name and then wants ']' right after it.
      if (line.startsWith(`[${name}]`)) found = new Map();
      continue;
    }
    if (!found) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq);
    if (key === 'service') throw serviceError(`Nested service specifications are not supported (service file "${file}", line ${index + 1}).`);
    if (line.startsWith('ldap')) throw serviceError(`LDAP lookups in service files are not supported (service file "${file}", line ${index + 1}).`);
    if (eq < 0 || !KEYWORDS.has(key)) throw serviceError(`Syntax error in service file "${file}", line ${index + 1}.`);
    if (!found.has(key)) found.set(key, line.slice(eq + 1));
  }
  return found;
}
