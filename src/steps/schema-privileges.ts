/**
 * Owners and privileges (issue #8.1). The main load uses the reference procedure's `--no-owner
 * --no-privileges`, in one transaction, because a single statement the target refuses (a managed
 * service's admin cannot give a table to another role) would otherwise roll back the whole schema.
 * Here they come across afterwards, one statement at a time: a second, schema-only dump keeps them,
 * its ownership, GRANT/REVOKE and default-privilege statements are applied each on its own, and
 * each one the target refuses is reported with the reason instead of stopping the load.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { StepContext } from '../core/context.js';
import { withClient, type Client } from '../core/db.js';
import { describeError } from '../core/errors.js';
import { writeFileAtomic } from '../core/files.js';
import { runPgTool, type PgTool } from '../core/pg-tools.js';
import { splitSegments } from '../core/sql-split.js';

/** pg_dump arguments (after the connection arguments) for the statements that carry owners and privileges. */
export const PRIVILEGE_DUMP_FLAGS = ['--schema-only', '--format=plain', '--quote-all-identifiers', '--no-tablespaces'];

export type PrivilegeKind = 'owner' | 'privilege';

export interface PrivilegeStatement { kind: PrivilegeKind; sql: string }

export interface PrivilegeOutcome {
  /** Statements applied. */
  applied: number;
  /** Statements the target refused, with its reason (they changed nothing). */
  refused: { sql: string; reason: string }[];
  /** Left out on purpose (TimescaleDB's own schemas, migrate's ledger). */
  skipped: number;
}

const OWNER = /^ALTER\s+[A-Z ]+?\s[\s\S]*\sOWNER\s+TO\s/i;
const PRIVILEGE = /^(GRANT|REVOKE|ALTER\s+DEFAULT\s+PRIVILEGES)\s/i;
// Objects of the extension's and our own schemas: the extension sets those up itself.
const INTERNAL = /"(_timescaledb_[^"]*|timescaledb_(information|experimental)|_migrate)"\./;

/** The owner and privilege statements of a dump, in dump order (owners come before the grants that need them). */
export function privilegeStatements(dump: string, wanted: { owners: boolean; privileges: boolean }):
  { statements: PrivilegeStatement[]; skipped: number } {
  const statements: PrivilegeStatement[] = [];
  let skipped = 0;
  for (const segment of splitSegments(dump)) {
    if (!segment.statement) continue;
    const sql = segment.text.trim();
    const kind: PrivilegeKind | undefined = PRIVILEGE.test(sql) ? 'privilege' : OWNER.test(sql) ? 'owner' : undefined;
    if (kind === undefined || (kind === 'owner' ? !wanted.owners : !wanted.privileges)) continue;
    if (INTERNAL.test(sql)) { skipped += 1; continue; }
    statements.push({ kind, sql });
  }
  return { statements, skipped };
}

/** Apply each statement on its own (autocommit): one the target refuses is recorded, never fatal. */
export async function applyPrivilegeStatements(client: Client, statements: PrivilegeStatement[], skipped: number):
  Promise<PrivilegeOutcome> {
  const outcome: PrivilegeOutcome = { applied: 0, refused: [], skipped };
  for (const statement of statements) {
    try {
      await client.query(statement.sql);
      outcome.applied += 1;
    } catch (error) {
      outcome.refused.push({ sql: statement.sql, reason: describeError(error).split('\n')[0] ?? String(error) });
    }
  }
  return outcome;
}

/** What the operator must do about the refused statements (kept in `file`), one line per cause. */
export function refusalAdvice(outcome: PrivilegeOutcome, file: string): string[] {
  const advice: string[] = [];
  const missingRole = (r: { reason: string }): boolean => /role .* does not exist/i.test(r.reason);
  if (outcome.refused.some(missingRole)) {
    advice.push(`Some roles do not exist on the target: create them (\`migrate roles\`), then run ${file} with psql.`);
  }
  if (outcome.refused.some((r) => !missingRole(r))) {
    advice.push(`The target user may not apply the others (a managed service's admin is not a superuser): run ${file} ` +
      'with psql as a role that may (the objects\' owner, or a member of the roles named).');
  }
  return advice;
}

/** The refused statements as a script the operator can run by hand. */
export function refusedScript(outcome: PrivilegeOutcome): string {
  return outcome.refused.map((r) => `-- refused: ${r.reason.replace(/\n/g, ' ')}\n${r.sql}\n`).join('\n');
}

export interface CarriedPrivileges extends PrivilegeOutcome {
  /** privileges-refused.sql, when the target refused some. */
  refusedFile?: string;
  /** Set when the schema-only dump itself failed: nothing of this kind was carried. */
  error?: string;
}

export interface CarryOptions {
  pgDump: PgTool;
  /** pg_dump arguments: connection, then PRIVILEGE_DUMP_FLAGS. */
  args: string[];
  env: Record<string, string>;
  /** Where the schema-only dump goes (0600). */
  file: string;
  wanted: { owners: boolean; privileges: boolean };
  /** The same rewrite as the loaded dump's (trees): statements about relations that are not on the target go. */
  rewrite?: (dump: string) => string;
}

/**
 * After the load: dump, pick out and apply the owner and privilege statements. Nothing here fails
 * the step — the schema is loaded by now — but everything not carried is said, with what to run.
 */
export async function carryPrivileges(ctx: StepContext, options: CarryOptions): Promise<CarriedPrivileges> {
  ctx.emit({ type: 'phase', id: 'schema-privileges', message: 'Carrying owners and privileges, one statement at a time…' });
  try {
    await runPgTool(options.pgDump, options.args, { stdoutFile: options.file, fileMode: 0o600, env: options.env, signal: ctx.signal });
  } catch (error) {
    const reason = describeError(error).split('\n').slice(0, 3).join(' ');
    ctx.emit({ type: 'done', id: 'schema-privileges', ok: false, message: 'Owners and privileges were not carried' });
    ctx.emit({ type: 'warn', message: `The schema is loaded, but the schema-only dump for owners and privileges failed: ${reason}`,
      detail: ['Carry them by hand: pg_dump --schema-only from the source, then apply its OWNER TO / GRANT / REVOKE statements.'] });
    return { applied: 0, refused: [], skipped: 0, error: reason };
  }
  const dump = await readFile(options.file, 'utf8');
  const { statements, skipped } = privilegeStatements(options.rewrite ? options.rewrite(dump) : dump, options.wanted);
  const outcome: CarriedPrivileges = await withClient(ctx.target,
    (client) => applyPrivilegeStatements(client, statements, skipped), { applicationName: 'migrate schema' });
  ctx.emit({ type: 'done', id: 'schema-privileges', ok: outcome.refused.length === 0,
    message: `Owners and privileges: ${outcome.applied} statement(s) applied, ${outcome.refused.length} refused by the target` });
  if (outcome.refused.length > 0) {
    outcome.refusedFile = path.join(ctx.dir, 'privileges-refused.sql');
    await writeFileAtomic(outcome.refusedFile, refusedScript(outcome), { mode: 0o600 });
    ctx.emit({ type: 'warn', message: `The target refused ${outcome.refused.length} ownership/privilege statement(s); the rest of ` +
      'the schema is loaded. Do these by hand:', detail: [
      ...outcome.refused.slice(0, 10).map((r) => `${r.sql}  -- ${r.reason}`),
      ...(outcome.refused.length > 10 ? [`… and ${outcome.refused.length - 10} more`] : []),
      ...refusalAdvice(outcome, outcome.refusedFile)] });
  }
  return outcome;
}
