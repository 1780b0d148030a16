/**
 * User triggers on backfilled tables (issue #8). The rows the backfill copies already had their
 * triggers' effects on the source, and the schema copy brought those effects (audit rows,
 * counters) over: firing the target's triggers again for them doubles AFTER effects and lets
 * BEFORE triggers change the rows, which validate then reports and --repair can never fix.
 *
 * The default ("skip") suppresses them only for the backfill's own sessions, by
 * `session_replication_role = replica`, so dual-writes keep firing them. Replica mode also changes
 * what else fires, which this module squares:
 * - triggers set ENABLE REPLICA fire *only* in replica mode: disabled for the backfill's duration
 *   (dual-writes, in origin mode, never fire them anyway);
 * - triggers set ENABLE ALWAYS fire in replica mode too: suppressing them would need DISABLE, which
 *   dual-writes would feel, so the operator has to choose (fire or disable);
 * - TimescaleDB's own triggers (the continuous-aggregate invalidation trigger of versions before
 *   2.23) must keep firing: set ENABLE ALWAYS for the duration;
 * - foreign-key checks are triggers too and do not run for the backfilled rows (as with
 *   `pg_dump --disable-triggers`): the rows are the source's, where the keys held.
 * Where the target user may not set session_replication_role (managed services without
 * superuser), or ALWAYS triggers exist, the backfill stops before copying and asks for an explicit
 * `--user-triggers fire|disable` (plan field backfill.userTriggers).
 *
 * Every trigger altered for the duration is recorded first, in the same transaction, in
 * `_migrate.altered_trigger`, and put back by whoever ends the last backfill (restore.ts), by
 * `migrate resume`, or by `migrate clean`: a crash never leaves a trigger off.
 */
import type { Client } from '../../core/db.js';
import { withTransaction } from '../../core/db.js';
import { MigrateError, UsageError, isPgError } from '../../core/errors.js';
import { displayName, quoteIdent, quoteQualified, sameTable, type QualifiedName } from '../../core/identifiers.js';
import { readTimescale } from '../schema-catalog.js';
import { ledgerExists } from './ledger.js';

export const USER_TRIGGER_CHOICES = ['skip', 'fire', 'disable'] as const;
/** skip: backfilled rows do not fire them (default); fire: they do; disable: off for everyone during the backfill. */
export type UserTriggerChoice = (typeof USER_TRIGGER_CHOICES)[number];

/** pg_trigger.tgenabled: O origin (the default), R replica only, A always, D disabled. */
export type Enabled = 'O' | 'R' | 'A' | 'D';

/** Each state in words, and the ALTER TABLE verb that sets it. */
export const ENABLED_STATES: Record<Enabled, { words: string; verb: string }> = {
  O: { words: 'enabled', verb: 'ENABLE' },
  R: { words: 'enabled for replicas only', verb: 'ENABLE REPLICA' },
  A: { words: 'enabled always', verb: 'ENABLE ALWAYS' },
  D: { words: 'disabled', verb: 'DISABLE' },
};

export interface TriggerInfo {
  /** The table it is on: the backfilled table, or one of its partitions, inheritance children or chunks. */
  table: QualifiedName;
  /** The backfilled table it belongs to. */
  root: QualifiedName;
  name: string;
  oid: number;
  /** On a partition or chunk, copied from the same-named trigger of the backfilled table (listed once, as the table's). */
  clone: boolean;
  enabled: Enabled;
  /** Its function lives in a TimescaleDB schema: TimescaleDB's own (cagg invalidation before 2.23). */
  timescale: boolean;
  /** pg_get_triggerdef, for the messages. */
  definition: string;
}

export interface TriggerHandling {
  /** none: no enabled user trigger on these tables; replica: the backfill's sessions run in replica mode. */
  mode: 'none' | 'replica' | 'fire' | 'disable';
  /** The enabled user triggers, `schema.table: name`. */
  triggers: string[];
  /** Altered for the backfill's duration (recorded in the ledger, restored at the end). */
  altered: { trigger: string; to: 'disabled' | 'always' }[];
}

export interface TriggerAlteration { trigger: TriggerInfo; to: 'disabled' | 'always' }

/** The decision, and the alterations it needs for the backfill's duration. */
export interface TriggerPlan {
  handling: TriggerHandling;
  toAlter: TriggerAlteration[];
  /** The workers' target sessions run with session_replication_role = replica. */
  replicaSessions: boolean;
}

export const ALTERED_TRIGGER_DDL = `
CREATE TABLE IF NOT EXISTS _migrate.altered_trigger (
  schema_name text NOT NULL,
  table_name text NOT NULL,
  trigger_name text NOT NULL,
  was_enabled "char" NOT NULL,
  altered_at timestamptz NOT NULL DEFAULT now(),
  altered_by text NOT NULL,
  -- Found by this when restoring: the trigger or its table may have been renamed meanwhile.
  trigger_oid oid,
  PRIMARY KEY (schema_name, table_name, trigger_name)
);`;

// The tables' own triggers and those of every partition, inheritance child and TimescaleDB chunk below
// them (at any depth): rows routed there fire those too.
const TRIGGERS_SQL = `WITH RECURSIVE tree AS (
    SELECT c.oid AS root, c.oid AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN unnest($1::text[], $2::text[]) x(s, r) ON n.nspname = x.s AND c.relname = x.r
    UNION SELECT tree.root, i.inhrelid FROM tree JOIN pg_inherits i ON i.inhparent = tree.rel)
  SELECT rn.nspname AS root_schema, rc.relname AS root_table, n.nspname AS schema, c.relname AS table, t.tgname AS name,
         t.oid::int8 AS oid, t.tgenabled AS enabled, fn.nspname LIKE '\\_timescaledb%' AS timescale, pg_get_triggerdef(t.oid) AS definition,
         tree.rel <> tree.root AND EXISTS (SELECT 1 FROM pg_trigger o WHERE o.tgrelid = tree.root AND o.tgname = t.tgname
                                             AND NOT o.tgisinternal) AS clone
    FROM tree JOIN pg_trigger t ON t.tgrelid = tree.rel
    JOIN pg_class c ON c.oid = tree.rel JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_class rc ON rc.oid = tree.root JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = p.pronamespace
   WHERE NOT t.tgisinternal
   ORDER BY clone, 1, 2, 3, 4, 5`;

/** Non-internal triggers on the tables and everything below them (see TRIGGERS_SQL); the tables' own first. */
export async function triggersOn(client: Client, tables: QualifiedName[]): Promise<TriggerInfo[]> {
  if (tables.length === 0) return [];
  const { rows } = await client.query<{ root_schema: string; root_table: string; schema: string; table: string; name: string; oid: string;
    enabled: Enabled; timescale: boolean; definition: string; clone: boolean }>(TRIGGERS_SQL, [tables.map((t) => t.schema), tables.map((t) => t.table)]);
  return rows.map((r) => ({ table: { schema: r.schema, table: r.table }, root: { schema: r.root_schema, table: r.root_table }, name: r.name,
    oid: Number(r.oid), clone: r.clone, enabled: r.enabled, timescale: r.timescale, definition: r.definition }));
}


/** Whether this session may set session_replication_role (superuser, or GRANT SET ON PARAMETER on 15+). */
export async function canUseReplicaRole(client: Client): Promise<boolean> {
  try {
    await withTransaction(client, async () => {
      await client.query('SET LOCAL session_replication_role = replica');
      // withTransaction commits; nothing was written, and SET LOCAL ends with the transaction.
    });
    return true;
  } catch (error) {
    if (isPgError(error) && error.code === '42501') return false;
    throw error;
  }
}

export const label = (t: Pick<TriggerInfo, 'table' | 'name'>): string => `${displayName(t.table)}: ${t.name}`;

/** What each choice means, for the refusal and the wizard. */
export const CHOICE_MEANINGS: Record<Exclude<UserTriggerChoice, 'skip'>, string> = {
  fire: 'the triggers fire for every backfilled row as if it were a new insert: AFTER triggers repeat effects the ' +
    'source already had (audit rows, counters: already copied with the schema), BEFORE triggers may change the rows ' +
    '(validate then reports them); dual-writes are not affected',
  disable: 'ALTER TABLE … DISABLE TRIGGER for the backfill\'s duration (needs ownership of the tables): backfilled rows do ' +
    'not fire them, but neither do dual-writes arriving meanwhile, whose effects (audit rows, counters) are then ' +
    'missing on the target; they are enabled again when the backfill ends (also after a crash: recorded in the ledger)',
};

/**
 * Decide, before anything is copied, how the backfill treats the tables' triggers. Throws a
 * UsageError (exit 2, nothing changed) when the default cannot hold and no choice was made.
 */
export async function planTriggerHandling(target: Client, tables: QualifiedName[], choice: UserTriggerChoice | undefined):
  Promise<TriggerPlan> {
  const all = await asBeforeTheBackfill(target, await triggersOn(target, tables));
  const user = all.filter((t) => !t.timescale && t.enabled !== 'D');
  const triggers = user.filter((t) => !t.clone).map(label);
  // TimescaleDB's own triggers (cagg invalidation before 2.23) must keep firing in replica sessions.
  const keepFiring = all.filter((t) => t.timescale && t.enabled === 'O').map((trigger) => ({ trigger, to: 'always' as const }));
  const plan = (mode: TriggerHandling['mode'], toAlter: TriggerAlteration[], replicaSessions: boolean): TriggerPlan =>
    ({ handling: { mode, triggers, altered: toAlter.filter((a) => !a.trigger.clone).map(describeAlteration) }, toAlter, replicaSessions });
  if (user.length === 0) {
    // No user trigger, but replica sessions still keep foreign keys' ON DELETE actions from reaching
    // the rows that reference the dual-written rows each slice deletes and copies again.
    const replica = await canUseReplicaRole(target);
    return checkedForCascades(target, tables, plan('none', replica ? keepFiring : [], replica));
  }
  const chosen = choice ?? 'skip';
  if (chosen === 'fire') return checkedForCascades(target, tables, plan('fire', [], false));
  if (chosen === 'disable') {
    const hypertables = ((await readTimescale(target))?.hypertables ?? []).filter((h) => user.some((t) => sameTable(t.root, h)));
    if (hypertables.length > 0) throw disableOnHypertable(hypertables, user);
    // Clones too, each on its own partition: whether ALTER on the parent reaches them varies by version.
    return checkedForCascades(target, tables, plan('disable', user.map((trigger) => ({ trigger, to: 'disabled' as const })), false));
  }
  const problem = await replicaProblem(target, user);
  if (problem) throw needChoice(user, problem);
  return plan('replica', [...user.filter((t) => t.enabled === 'R').map((trigger) => ({ trigger, to: 'disabled' as const })), ...keepFiring], true);
}

/**
 * Each slice deletes the target's rows in its range (the dual-written ones below T) before copying
 * the source's. A foreign key that references the table with ON DELETE CASCADE, SET NULL or SET
 * DEFAULT would then delete or change the rows referencing them — rows the application dual-wrote,
 * lost without a word. Replica sessions keep those actions from running; without them the backfill
 * refuses before anything changes. (NO ACTION / RESTRICT fail the slice loudly instead.)
 */
async function checkedForCascades(target: Client, tables: QualifiedName[], plan: TriggerPlan): Promise<TriggerPlan> {
  if (plan.replicaSessions) return plan;
  const { rows } = await target.query<{ fk: string; child: string; action: string }>(`WITH RECURSIVE tree AS (
      SELECT c.oid AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN unnest($1::text[], $2::text[]) x(s, r) ON n.nspname = x.s AND c.relname = x.r
      UNION SELECT i.inhrelid FROM tree JOIN pg_inherits i ON i.inhparent = tree.rel)
    SELECT DISTINCT k.conname AS fk, (SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                       WHERE c.oid = k.conrelid) AS child,
           CASE k.confdeltype WHEN 'c' THEN 'ON DELETE CASCADE' WHEN 'n' THEN 'ON DELETE SET NULL' ELSE 'ON DELETE SET DEFAULT' END AS action
      FROM pg_constraint k JOIN tree ON tree.rel = k.confrelid
     WHERE k.contype = 'f' AND k.confdeltype IN ('c', 'n', 'd') AND k.conparentid = 0
     ORDER BY 2, 1`, [tables.map((t) => t.schema), tables.map((t) => t.table)]);
  if (rows.length === 0) return plan;
  throw new UsageError(`Foreign keys reference the backfilled tables with actions that would change other rows: ` +
    `${rows.map((r) => `${r.child} (${r.fk}, ${r.action})`).join('; ')}. Each slice deletes the target's dual-written rows below T ` +
    'before copying them again, and these actions would delete or change the rows that reference them. Nothing was copied.', {
    hint: plan.handling.mode === 'none'
      ? 'Let the backfill set session_replication_role, which keeps those actions from running: run it as a superuser, or ' +
        'GRANT SET ON PARAMETER session_replication_role TO <target user> (PostgreSQL 15+). Or drop those foreign keys on the ' +
        'target for the backfill and add them again afterwards.'
      : `--user-triggers ${plan.handling.mode} runs the backfill without session_replication_role, which is what keeps those ` +
        'actions from running: grant it (see above) and use the default, or drop those foreign keys on the target for the ' +
        'backfill and add them again afterwards.',
  });
}

/**
 * TimescaleDB gives every chunk it creates an enabled copy of the hypertable's triggers, whatever
 * their state on the hypertable: the chunks the backfill creates would fire them for the copied rows
 * (measured on 2.28.3). So "disable" cannot hold for a hypertable; say so before anything changes.
 */
function disableOnHypertable(hypertables: QualifiedName[], user: TriggerInfo[]): UsageError {
  return new UsageError(`--user-triggers disable cannot keep the triggers of ${hypertables.map(displayName).join(', ')} from firing ` +
    `(${user.filter((t) => !t.clone).map(label).join('; ')}): TimescaleDB gives each chunk the backfill creates an enabled copy of ` +
    'them, so the rows copied into new chunks would fire them. Nothing was copied.', {
    hint: 'Let the backfill set session_replication_role (the default, --user-triggers skip): run it as a superuser, or ' +
      'GRANT SET ON PARAMETER session_replication_role TO <target user> (PostgreSQL 15+). Otherwise --user-triggers fire: ' +
      `${CHOICE_MEANINGS.fire}.`,
  });
}

function describeAlteration({ trigger, to }: TriggerAlteration): TriggerHandling['altered'][number] {
  return { trigger: label(trigger), to };
}

/**
 * Triggers another backfill of this run altered are judged by their state before it (the ledger's
 * record): disabled now, they are enabled again as soon as that backfill ends, which can be before
 * this one copies its first row. Taking them as off would let this one copy with them firing.
 */
async function asBeforeTheBackfill(client: Client, triggers: TriggerInfo[]): Promise<TriggerInfo[]> {
  if (!(await hasAlteredTriggerTable(client))) return triggers;
  const { rows } = await client.query<{ oid: string; was: Enabled }>(
    'SELECT trigger_oid::int8 AS oid, was_enabled AS was FROM _migrate.altered_trigger WHERE trigger_oid IS NOT NULL');
  const was = new Map(rows.map((r) => [Number(r.oid), r.was]));
  return triggers.map((t) => (was.has(t.oid) ? { ...t, enabled: was.get(t.oid) as Enabled } : t));
}

/** Why the default (skip, by replica mode) cannot hold for these triggers; undefined when it can. */
async function replicaProblem(target: Client, user: TriggerInfo[]): Promise<{ reason: string; permitted: boolean } | undefined> {
  const always = user.filter((t) => t.enabled === 'A');
  const permitted = await canUseReplicaRole(target);
  if (!permitted) {
    return { permitted, reason: 'the target user may not set session_replication_role (it needs superuser, or on PostgreSQL 15+ ' +
      '`GRANT SET ON PARAMETER session_replication_role`), which the backfill uses so that the rows it copies do not fire them ' +
      'while dual-writes still do' };
  }
  if (always.length > 0) {
    return { permitted, reason: `${always.map(label).join(', ')} ${always.length === 1 ? 'is' : 'are'} ENABLE ALWAYS: ` +
      `${always.length === 1 ? 'it fires' : 'they fire'} even in the replica mode the backfill uses to keep triggers from firing ` +
      'for the rows it copies' };
  }
  return undefined;
}

/**
 * For the wizard: the enabled user triggers and why the default cannot hold, when the operator must
 * choose between fire and disable; undefined when no choice is needed.
 */
export async function triggerChoiceNeeded(target: Client, tables: QualifiedName[]): Promise<{ triggers: string[]; reason: string } | undefined> {
  const user = (await triggersOn(target, tables)).filter((t) => !t.timescale && t.enabled !== 'D');
  if (user.length === 0) return undefined;
  const problem = await replicaProblem(target, user);
  return problem ? { triggers: user.map(label), reason: problem.reason } : undefined;
}

function needChoice(user: TriggerInfo[], { reason, permitted }: { reason: string; permitted: boolean }): UsageError {
  return new UsageError(`The backfilled tables have user triggers (${user.map(label).join('; ')}), and ${reason}. ` +
    'Nothing was copied.', {
    hint: 'Choose explicitly and run again with one of:\n' +
      `  --user-triggers fire      ${CHOICE_MEANINGS.fire};\n` +
      `  --user-triggers disable   ${CHOICE_MEANINGS.disable}.\n` +
      (permitted ? '' : 'Or grant the right and keep the default: GRANT SET ON PARAMETER session_replication_role TO <target user>; ') +
      '(in a plan file: backfill.userTriggers).',
  });
}

export function alterSql(table: QualifiedName, trigger: string, enabled: Enabled): string {
  return `ALTER TABLE ${quoteQualified(table)} ${ENABLED_STATES[enabled].verb} TRIGGER ${quoteIdent(trigger)}`;
}

/** For dry runs: the statements altering and restoring the triggers. */
export function alterationSql(toAlter: TriggerAlteration[]): string[] {
  return toAlter.map(({ trigger, to }) => alterSql(trigger.table, trigger.name, to === 'disabled' ? 'D' : 'A'));
}

/**
 * Alter the triggers for the backfill's duration, each recorded in the same transaction. A trigger
 * recorded already (another backfill of this run altered it) is left as it is: the record keeps its
 * original state.
 */
export async function alterTriggers(client: Client, toAlter: TriggerAlteration[], by: string): Promise<void> {
  if (toAlter.length === 0) return;
  await client.query(ALTERED_TRIGGER_DDL);
  for (const { trigger, to } of toAlter) {
    try {
      await withTransaction(client, async () => {
        // ALTER TABLE … TRIGGER waits for in-flight dual-write transactions on the table: briefly, or give up.
        await client.query("SET LOCAL lock_timeout = '30s'");
        const { rowCount } = await client.query(`INSERT INTO _migrate.altered_trigger (schema_name, table_name, trigger_name, was_enabled,
            altered_by, trigger_oid) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [trigger.table.schema, trigger.table.table, trigger.name, trigger.enabled, by, trigger.oid]);
        if (rowCount === 1) await client.query(alterSql(trigger.table, trigger.name, to === 'disabled' ? 'D' : 'A'));
      });
    } catch (error) {
      throw new MigrateError(`Could not ${to === 'disabled' ? 'disable' : 'set ENABLE ALWAYS on'} the trigger ${label(trigger)} ` +
        `for the backfill: ${isPgError(error) ? error.message : String(error)}. Nothing was copied.`, {
        hint: isPgError(error) && error.code === '42501'
          ? 'Altering a trigger needs ownership of the table: run the backfill as its owner, or choose --user-triggers fire.'
          : 'Run the backfill again; triggers already altered are put back when it ends (or by `migrate resume`).',
        cause: error,
      });
    }
  }
}

/**
 * Put every recorded trigger back the way it was and forget it. Callers make sure no backfill is
 * running (RUN_LOCK), or it would lose its alteration. A trigger or table dropped meanwhile has
 * nothing to restore.
 */
export async function restoreAlteredTriggers(client: Client): Promise<string[]> {
  if (!(await ledgerExists(client)) || !(await hasAlteredTriggerTable(client))) return [];
  const { rows } = await client.query<{ schema: string; table: string; name: string; was: Enabled; oid: string | null }>(
    `SELECT schema_name AS schema, table_name AS table, trigger_name AS name, was_enabled AS was, trigger_oid::int8 AS oid
       FROM _migrate.altered_trigger ORDER BY 1, 2, 3`);
  const restored: string[] = [];
  for (const row of rows) {
    const recorded = { table: { schema: row.schema, table: row.table }, name: row.name };
    await withTransaction(client, async () => {
      // By its oid first: a trigger or table renamed meanwhile is still the one we altered.
      const { rows: [now] } = await client.query<{ schema: string; table: string; name: string }>(
        `SELECT n.nspname AS schema, c.relname AS table, t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE ($4::oid IS NOT NULL AND t.oid = $4::oid) OR ($4::oid IS NULL AND n.nspname = $1 AND c.relname = $2 AND t.tgname = $3)`,
        [row.schema, row.table, row.name, row.oid]);
      if (now) await client.query(alterSql({ schema: now.schema, table: now.table }, now.name, row.was));
      await client.query('DELETE FROM _migrate.altered_trigger WHERE schema_name = $1 AND table_name = $2 AND trigger_name = $3',
        [row.schema, row.table, row.name]);
      const renamed = now && (now.schema !== row.schema || now.table !== row.table || now.name !== row.name)
        ? ` (now ${label({ table: { schema: now.schema, table: now.table }, name: now.name })})` : '';
      restored.push(now ? `${label(recorded)}${renamed}: ${ENABLED_STATES[row.was].words}`
        : `${label(recorded)}: no longer exists (dropped meanwhile); nothing to restore`);
    });
  }
  return restored;
}

export async function countAlteredTriggers(client: Client): Promise<number> {
  if (!(await ledgerExists(client)) || !(await hasAlteredTriggerTable(client))) return 0;
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM _migrate.altered_trigger');
  return Number(rows[0]?.n ?? 0);
}

async function hasAlteredTriggerTable(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>("SELECT to_regclass('_migrate.altered_trigger') IS NOT NULL AS ok");
  return Boolean(rows[0]?.ok);
}

/** The alterations, one line each (`schema.table: name: disabled`). */
export function alterationLines(handling: TriggerHandling): string[] {
  return handling.altered.map((a) => `${a.trigger}: ${a.to === 'disabled' ? 'disabled' : 'ENABLE ALWAYS (keeps firing)'}`);
}

/** One line for the run's log. */
export function describeHandling(handling: TriggerHandling): string | undefined {
  if (handling.mode === 'none') return undefined;
  const list = handling.triggers.join('; ');
  switch (handling.mode) {
    case 'replica': return `User triggers (${list}) do not fire for the backfilled rows (the backfill's sessions use ` +
      'session_replication_role = replica); dual-writes still fire them.';
    case 'fire': return `User triggers (${list}) fire for every backfilled row (--user-triggers fire).`;
    case 'disable': return `User triggers (${list}) are disabled until the backfill ends, for dual-writes too ` +
      '(--user-triggers disable).';
  }
}
