/**
 * Compatibility rules that `migrate preflight` (as checks), `migrate schema` and `migrate backfill`
 * (as errors before anything runs) apply, kept pure so they are tested without servers.
 */
import { compareVersions } from './hypertable-blockers.js';

/**
 * The minor release of each major that added `\restrict` / `\unrestrict` lines to pg_dump's plain
 * output (the 2025-08-14 releases, CVE-2025-8714). A psql older than these does not know the
 * meta-command and, with ON_ERROR_STOP, stops at the first line of the dump. 18 and later always
 * have it; 12 and older (out of support) never got it.
 */
const RESTRICT_SINCE: Record<number, number> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };

/** Whether a pg_dump of this version writes, and a psql of this version understands, `\restrict`. */
export function hasRestrict(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10) || 0);
  if (major >= 18) return true;
  const since = RESTRICT_SINCE[major];
  return since !== undefined && minor >= since;
}

export interface ToolVersion {
  version: string;
  major: number;
  path: string;
}

export interface Compatibility {
  status: 'ok' | 'warn' | 'block';
  detail: string;
  fix?: string;
}

/** Can this psql load what this pg_dump writes? */
export function dumpLoadCompatibility(pgDump: ToolVersion, psql: ToolVersion): Compatibility {
  if (hasRestrict(pgDump.version) && !hasRestrict(psql.version)) {
    return {
      status: 'block',
      detail: `pg_dump ${pgDump.version} writes \\restrict lines that psql ${psql.version} (${psql.path}) does not understand`,
      fix: `Install a psql from the same release as pg_dump (PostgreSQL ${pgDump.major}.x, or any release from ` +
        '2025-08 on), or set PG_BINDIR to a directory that holds both.',
    };
  }
  if (psql.major < pgDump.major) {
    return {
      status: 'warn',
      detail: `psql ${psql.version} is older than pg_dump ${pgDump.version}; loading a newer dump with an older psql usually works`,
      fix: `Prefer psql ${pgDump.major} or newer (set PG_BINDIR to the directory of pg_dump ${pgDump.version}).`,
    };
  }
  return { status: 'ok', detail: `psql ${psql.version} can load pg_dump ${pgDump.version}'s output` };
}

export interface TargetTimescale {
  /** Versions the target could CREATE (pg_available_extension_versions). */
  installable: string[];
  /** Installed in the target database. */
  installed?: string;
}

/**
 * From a TimescaleDB source the dump carries TimescaleDB's catalog, which only the very same
 * TimescaleDB version can restore, and the backfill copies TimescaleDB's own data (DESIGN §2).
 * Checked by preflight, by schema before the load, and again when a backfill starts (the target
 * may have been upgraded in between). Returns the problem, or undefined when it matches.
 */
export function timescaleVersionProblem(sourceVersion: string, target: TargetTimescale): Compatibility | undefined {
  if (target.installed !== undefined) {
    if (target.installed === sourceVersion) return undefined;
    // TimescaleDB cannot be downgraded: the fix is always to update the older side to the newer version.
    const sourceOlder = compareVersions(sourceVersion, target.installed) < 0;
    return {
      status: 'block',
      detail: `the source runs TimescaleDB ${sourceVersion} but the target database has ${target.installed}; ` +
        'TimescaleDB\'s catalog and data only carry over into the same version',
      fix: sourceOlder
        ? `Update TimescaleDB on the source to ${target.installed} (ALTER EXTENSION timescaledb UPDATE TO ` +
          `'${target.installed}' in the source database, as the first command of a new session), or use a ` +
          `target database with TimescaleDB ${sourceVersion}.`
        : `Update TimescaleDB in the target database to ${sourceVersion}: ALTER EXTENSION timescaledb UPDATE TO ` +
          `'${sourceVersion}', as the first command of a new session.`,
    };
  }
  if (target.installable.length === 0) {
    return {
      status: 'block',
      detail: `the source runs TimescaleDB ${sourceVersion} but the target server does not have TimescaleDB`,
      fix: `Install TimescaleDB ${sourceVersion} on the target server (and add it to shared_preload_libraries).`,
    };
  }
  if (!target.installable.includes(sourceVersion)) {
    return {
      status: 'block',
      detail: `the source runs TimescaleDB ${sourceVersion} but the target server offers ${target.installable.join(', ')}; ` +
        'a dump of TimescaleDB\'s catalog only restores into the same version',
      fix: `Install TimescaleDB ${sourceVersion} on the target server, or update the source ` +
        `(ALTER EXTENSION timescaledb UPDATE TO '${target.installable[0] ?? ''}').`,
    };
  }
  return undefined;
}
