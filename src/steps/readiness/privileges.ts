/**
 * Owners and grants, compared live: schemas, tables, views, materialized views, foreign tables,
 * sequences, functions, procedures, aggregates, types and domains of the migrated schemas, by kind
 * and name. Only roles both sides know are compared (the target's own admin roles, or a source role
 * the role copy left out, are its business). Extension members (TimescaleDB's API), TimescaleDB's
 * internal schemas and the ledger are left out, and so are objects on one side only (partitions stay
 * behind; the other checks cover missing data). A schema step run with --no-owner or
 * --no-privileges (state.json) is honoured: what it did not carry is not expected.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { quoteIdent, quoteQualified } from '../../core/identifiers.js';
import { displayPath } from '../../core/shell.js';
import type { Client } from '../../core/db.js';
import { readOwnership, type Grant, type Owned } from '../ownership.js';
import { capped, type Check, type Scope } from './types.js';

/** The words GRANT and ALTER … OWNER use for each kind. */
const GRANT_ON: Record<string, string> = { schema: 'SCHEMA', table: 'TABLE', view: 'TABLE', 'materialized view': 'TABLE',
  'foreign table': 'TABLE', sequence: 'SEQUENCE', function: 'FUNCTION', procedure: 'PROCEDURE', aggregate: 'FUNCTION', type: 'TYPE',
  domain: 'DOMAIN' };
const ALTER: Record<string, string> = { ...GRANT_ON, view: 'VIEW', 'materialized view': 'MATERIALIZED VIEW', 'foreign table': 'FOREIGN TABLE',
  aggregate: 'AGGREGATE' };

const carriedSchema = z.object({ carried: z.object({ owners: z.boolean(), privileges: z.boolean() }) });
const FIX_LINES = 40;

async function readObjects(client: Client): Promise<{ objects: Map<string, Owned>; roles: Set<string> }> {
  const { objects, roles } = await readOwnership(client);
  return { objects: new Map(objects.map((o) => [keyOf(o), o])), roles };
}

function keyOf(o: Owned): string {
  return JSON.stringify([o.kind, o.schema, o.name, o.args]);
}

function sqlName(o: Owned): string {
  if (o.name === null) return quoteIdent(o.schema);
  const name = quoteQualified({ schema: o.schema, table: o.name });
  return o.args === null ? name : `${name}(${o.args})`;
}

function describe(o: Owned): string {
  return `${o.kind} ${o.name === null ? o.schema : `${o.schema}.${o.name}`}${o.args === null ? '' : `(${o.args})`}`;
}

const role = (name: string): string => (name === 'PUBLIC' ? 'PUBLIC' : quoteIdent(name));
const grantKey = (g: Grant): string => JSON.stringify([g.grantee, g.privilege, g.grantable]);

export async function checkPrivileges(scope: Scope): Promise<Check> {
  const base = { id: 'privileges', title: 'owners and grants as on the source' };
  const parsed = carriedSchema.safeParse(scope.state?.steps.schema?.outcome);
  const carried = parsed.success ? parsed.data.carried : { owners: true, privileges: true };
  if (!carried.owners && !carried.privileges) {
    return { ...base, status: 'skipped', detail: 'the schema was loaded with --no-owner --no-privileges: neither was carried' };
  }
  const [source, target] = [await readObjects(scope.source), await readObjects(scope.target)];
  const known = (name: string): boolean => name === 'PUBLIC' || (source.roles.has(name) && target.roles.has(name));
  const exceptions: string[] = [];
  const fixes: string[] = [];
  let compared = 0;
  for (const [key, mine] of source.objects) {
    const theirs = target.objects.get(key);
    if (!theirs) continue;
    compared += 1;
    if (carried.owners && mine.owner !== theirs.owner && known(mine.owner)) {
      exceptions.push(`${describe(mine)}: owner ${theirs.owner} (source: ${mine.owner})`);
      fixes.push(`ALTER ${ALTER[mine.kind]} ${sqlName(mine)} OWNER TO ${role(mine.owner)};`);
    }
    if (!carried.privileges) continue;
    const wanted = new Map(mine.grants.filter((g) => known(g.grantee)).map((g) => [grantKey(g), g]));
    const present = new Map(theirs.grants.filter((g) => known(g.grantee)).map((g) => [grantKey(g), g]));
    for (const [k, g] of wanted) {
      if (present.has(k)) continue;
      exceptions.push(`${describe(mine)}: ${g.privilege} for ${g.grantee} missing`);
      fixes.push(`GRANT ${g.privilege} ON ${GRANT_ON[mine.kind]} ${sqlName(mine)} TO ${role(g.grantee)}${g.grantable ? ' WITH GRANT OPTION' : ''};`);
    }
    for (const [k, g] of present) {
      if (wanted.has(k)) continue;
      exceptions.push(`${describe(mine)}: ${g.privilege} for ${g.grantee} only on the target`);
      fixes.push(`REVOKE ${g.privilege} ON ${GRANT_ON[mine.kind]} ${sqlName(mine)} FROM ${role(g.grantee)};`);
    }
  }
  const scopeNote = carried.owners && carried.privileges ? '' : carried.owners ? ' (owners only: schema ran with --no-privileges)'
    : ' (grants only: schema ran with --no-owner)';
  if (exceptions.length === 0) return { ...base, status: 'ok', detail: `${compared} object(s) as on the source${scopeNote}` };
  const refused = path.join(scope.dir, 'privileges-refused.sql');
  const refusedExists = await access(refused).then(() => true, () => false);
  return { ...base, status: 'fail', detail: `${exceptions.length} of ${compared} object(s) differ${scopeNote}: ${capped(exceptions)}`,
    fix: `On the target, as the objects' owner or a superuser${refusedExists ? ` (the statements the target refused during ` +
      `\`migrate schema\` are in ${displayPath(refused)})` : ''}:\n${fixes.slice(0, FIX_LINES).join('\n')}` +
      (fixes.length > FIX_LINES ? `\n-- … and ${fixes.length - FIX_LINES} more statements like these` : '') };
}
