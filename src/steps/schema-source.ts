/**
 * What `migrate schema` reads from the source before anything runs: the given tables must all
 * exist (every unknown one is reported at once), their time columns too; plus the tables whose
 * data is left out (partitions and inheritance children of the given ones, a TimescaleDB source's
 * hypertables) and the tables that arrive with their data.
 */
import { resolveTable, resolveTimeColumn, type TableInfo } from '../core/catalog.js';
import type { Client } from '../core/db.js';
import { serverMajorVersion } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { displayName, quoteIdent, quoteQualified, sameTable, type QualifiedName, type TableSpec } from '../core/identifiers.js';
import { listDescendants, listUserTables, readTimescale, type SourceTimescale } from './schema-catalog.js';

export interface SourcePlan {
  major: number;
  /** The given tables, as found (deduplicated). */
  given: QualifiedName[];
  /** Every table whose data stays out of the dump: the given ones, their descendants, hypertables. */
  excluded: QualifiedName[];
  /** Top-level tables that arrive empty. */
  empty: QualifiedName[];
  /** Top-level tables that arrive with their rows. */
  withData: QualifiedName[];
  /** A TimescaleDB source's hypertables that were not given: they arrive empty too. */
  extraHypertables: QualifiedName[];
  timescale?: SourceTimescale;
}

export async function readSourcePlan(client: Client, specs: TableSpec[]): Promise<SourcePlan> {
  const major = await serverMajorVersion(client);
  const problems: string[] = [];
  const given: TableInfo[] = [];
  for (const spec of specs) {
    try {
      const info = await resolveTable(client, spec, 'source');
      if (spec.column !== undefined) await resolveTimeColumn(client, info, spec.column);
      if (!given.some((g) => g.oid === info.oid)) given.push(info);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problems.push(error.hint ? `${error.message} (${error.hint})` : error.message);
    }
  }
  if (problems.length > 0) {
    throw new UsageError(problems.length === 1 ? (problems[0] as string)
      : `${problems.length} of the tables given cannot be used:\n  - ${problems.join('\n  - ')}`, {
      hint: 'Run `migrate candidates` to list the source\'s tables and time columns; write names with capitals or spaces ' +
        `in double quotes inside single quotes, e.g. --table '"Sales Data"."Orders":"Created At"'. Nothing was changed.`,
    });
  }
  const excluded: QualifiedName[] = [];
  const addExcluded = (name: QualifiedName): void => { if (!excluded.some((e) => sameTable(e, name))) excluded.push(name); };
  for (const table of given) {
    addExcluded(table.name);
    for (const child of await listDescendants(client, table.oid)) addExcluded(child);
  }
  const timescale = await readTimescale(client);
  const extraHypertables = (timescale?.hypertables ?? []).filter((h) => !given.some((g) => sameTable(g.name, h)));
  extraHypertables.forEach(addExcluded);
  await refuseDanglingForeignKeys(client, given, excluded);
  const all = await listUserTables(client);
  const isExcluded = (t: QualifiedName): boolean => excluded.some((e) => sameTable(e, t));
  const empty = [...given.map((g) => g.name), ...all.filter((t) => isExcluded(t) && !given.some((g) => sameTable(g.name, t)))];
  const plan: SourcePlan = {
    major, given: given.map((g) => g.name), excluded, empty, extraHypertables,
    withData: all.filter((t) => !isExcluded(t)),
  };
  if (timescale) plan.timescale = timescale;
  return plan;
}

export function listNames(names: QualifiedName[], max = 10): string {
  const shown = names.slice(0, max).map((n) => displayName(n)).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/**
 * A table that keeps its rows but references a table whose rows stay out would make the load fail
 * at the end (the FOREIGN KEY is added after the data and validated). Say so before anything runs.
 */
async function refuseDanglingForeignKeys(client: Client, given: TableInfo[], excluded: QualifiedName[]): Promise<void> {
  const problems: string[] = [];
  for (const table of given) {
    for (const ref of table.referencedBy) {
      if (excluded.some((e) => sameTable(e, ref.from))) continue;
      const { rows } = await client.query<{ used: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM ${quoteQualified(ref.from)} WHERE ${
          ref.columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ')}) AS used`);
      if (rows[0]?.used) {
        problems.push(`${displayName(ref.from)} (foreign key ${JSON.stringify(ref.name)}) has rows that reference ${displayName(table.name)}`);
      }
    }
  }
  if (problems.length === 0) return;
  throw new UsageError('Leaving out these tables\' data would break foreign keys, and the load would fail:\n  - ' +
    `${problems.join('\n  - ')}`, {
    hint: 'Also name the referencing tables with --table (their data is then backfilled too), or drop those foreign keys ' +
      'on the source first (hypertables rarely keep them). Nothing was changed.',
  });
}
