/**
 * `migrate sequences`: before the switch-over, put every target sequence past every id.
 *
 * The schema copy left each sequence at its dump-time value; since then the application wrote rows
 * to both databases with ids taken on the source, and the backfill copied rows with their ids. The
 * first insert on the target after the switch would take an id that exists: `duplicate key`. So
 * each target sequence is set to at least the largest of: the source sequence's last value, and
 * the highest value in every column that uses the sequence (serial, identity, or a nextval()
 * default), on either side — plus a margin for ids the source hands out until the switch.
 * Sequences only ever move forward (backward for descending ones); running again is safe.
 */
import type { StepContext } from '../core/context.js';
import { withClient, type Client } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { displayName, quoteIdent, quoteQualified, type QualifiedName } from '../core/identifiers.js';

export interface SequencesInput {
  /** Added beyond the highest id (in the sequence's direction); default 0. */
  margin?: number;
}

export interface SequenceChange {
  sequence: string;
  /** The columns that take their values from it, "schema.table.column". */
  columns: string[];
  /** The target sequence's last value before (null: never used). */
  before: string | null;
  /** The source sequence's last value (null: never used, or no such sequence on the source). */
  sourceLastValue: string | null;
  /** The highest id in those columns on either side (lowest, for a descending sequence). */
  highestId: string | null;
  /** What the sequence was set to (or would be, with --dry-run); equal to before when already ahead. */
  after: string | null;
  action: 'advanced' | 'already ahead' | 'unused' | 'out of range';
  /** Why the highest id of some columns was not read, or why it could not be set. */
  note?: string;
}

export interface SequencesResult {
  dryRun: boolean;
  margin: number;
  sequences: SequenceChange[];
  /** Sequences that could not be set (the value needed lies past their MAXVALUE/MINVALUE). */
  outOfRange: string[];
}

interface TargetSequence {
  schema: string;
  name: string;
  increment: string;
  last_value: string | null;
  min_value: string;
  max_value: string;
  /** `integer`: a number column whose highest value matters (not e.g. text built from nextval()). */
  columns: { schema: string; table: string; column: string; integer: boolean }[];
}

// Every user sequence of the target, with the columns that use it: owned by a column (serial,
// identity) or named by a column default's nextval() (pg_depend 'n' from pg_attrdef).
const SEQUENCES_SQL = `
SELECT s.schemaname AS schema, s.sequencename AS name, s.increment_by::text AS increment, s.last_value::text AS last_value,
       s.min_value::text AS min_value, s.max_value::text AS max_value,
       coalesce((SELECT json_agg(DISTINCT jsonb_build_object('schema', n.nspname, 'table', c.relname, 'column', a.attname,
                 'integer', a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)))
          FROM pg_depend d
          LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
          JOIN pg_class c ON c.oid = CASE WHEN d.classid = 'pg_attrdef'::regclass THEN ad.adrelid ELSE d.refobjid END
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid
           AND a.attnum = CASE WHEN d.classid = 'pg_attrdef'::regclass THEN ad.adnum ELSE d.refobjsubid END
         WHERE (d.classid = 'pg_class'::regclass AND d.objid = q.oid AND d.refclassid = 'pg_class'::regclass
                AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i'))
            OR (d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = q.oid)), '[]') AS columns
  FROM pg_sequences s
  JOIN pg_class q ON q.relname = s.sequencename AND q.relkind = 'S'
  JOIN pg_namespace qn ON qn.oid = q.relnamespace AND qn.nspname = s.schemaname
 WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema', '_migrate')
   AND s.schemaname NOT LIKE '\\_timescaledb%' AND s.schemaname NOT LIKE 'timescaledb\\_%'
 ORDER BY 1, 2`;

export async function runSequences(input: SequencesInput, ctx: StepContext): Promise<SequencesResult> {
  const margin = input.margin ?? 0;
  if (!Number.isSafeInteger(margin) || margin < 0) {
    throw new UsageError(`--margin ${margin} is not a whole number of ids ≥ 0.`, { hint: 'Try --margin 1000.' });
  }
  return withClient(ctx.source, (source) => withClient(ctx.target, async (target) => {
    ctx.emit({ type: 'phase', id: 'sequences', message: 'Reading sequences and the ids that use them on both sides' });
    const planned = await planSequences(source, target, margin);
    for (const { name, change } of planned) {
      if (change.note) ctx.emit({ type: 'warn', message: `${change.sequence}: ${change.note}` });
      if (change.action !== 'advanced') continue;
      // is_called = true: the next nextval() returns after + increment, past every id.
      const sql = 'SELECT setval($1::regclass, $2::bigint, true)';
      const params = [quoteQualified(name), change.after];
      if (ctx.dryRun) ctx.emit({ type: 'sql', side: 'target', sql, params });
      else await target.query(sql, params);
    }
    const changes = planned.map((p) => p.change);
    ctx.emit({ type: 'done', id: 'sequences', message: `Checked ${changes.length} sequence${changes.length === 1 ? '' : 's'}` });
    return { dryRun: ctx.dryRun, margin, sequences: changes,
      outOfRange: changes.filter((c) => c.action === 'out of range').map((c) => c.sequence) };
  }));
}

/** What runSequences would do to each target sequence, read-only (also `migrate readiness`'s check). */
export async function planSequences(source: Client, target: Client, margin = 0):
  Promise<{ name: QualifiedName; change: SequenceChange }[]> {
  const { rows } = await target.query<TargetSequence>(SEQUENCES_SQL);
  const planned: { name: QualifiedName; change: SequenceChange }[] = [];
  for (const seq of rows) planned.push({ name: { schema: seq.schema, table: seq.name }, change: await planSequence(source, target, seq, margin) });
  return planned;
}

async function planSequence(source: Client, target: Client, seq: TargetSequence, margin: number): Promise<SequenceChange> {
  const name: QualifiedName = { schema: seq.schema, table: seq.name };
  const descending = BigInt(seq.increment) < 0n;
  const pick = (values: (string | null | undefined)[]): string | null => {
    const present = values.filter((v): v is string => typeof v === 'string').map((v) => BigInt(v));
    if (present.length === 0) return null;
    return present.reduce((a, b) => (descending ? (b < a ? b : a) : (b > a ? b : a))).toString();
  };
  const { rows: [onSource] } = await source.query<{ v: string | null }>(
    `SELECT last_value::text AS v FROM pg_sequences WHERE schemaname = $1 AND sequencename = $2`, [seq.schema, seq.name]);
  const ids: (string | null)[] = [];
  const notNumbers = seq.columns.filter((c) => !c.integer);
  for (const column of seq.columns.filter((c) => c.integer)) {
    const table = { schema: column.schema, table: column.table };
    const agg = descending ? 'min' : 'max';
    // ceil/floor: a numeric id column may hold fractions; the sequence must pass the whole number above.
    const round = descending ? 'floor' : 'ceil';
    const query = `SELECT ${round}(${agg}(${quoteIdent(column.column)})::numeric)::text AS v FROM ${quoteQualified(table)}`;
    ids.push((await target.query<{ v: string | null }>(query)).rows[0]?.v ?? null);
    // The same table on the source, when it is there with that column (it may be a target-only table).
    const exists = await source.query(`SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped`,
      [quoteQualified(table), column.column]);
    if (exists.rowCount) ids.push((await source.query<{ v: string | null }>(query)).rows[0]?.v ?? null);
  }
  const highestId = pick(ids);
  const needed = pick([onSource?.v ?? null, highestId]);
  const base: Omit<SequenceChange, 'after' | 'action'> = {
    sequence: displayName(name),
    columns: seq.columns.map((c) => `${displayName({ schema: c.schema, table: c.table })}.${c.column}`),
    before: seq.last_value, sourceLastValue: onSource?.v ?? null, highestId,
    ...(notNumbers.length > 0 ? { note: `not a number column, so its highest value was not read (the source's last value ` +
      `counts): ${notNumbers.map((c) => `${displayName({ schema: c.schema, table: c.table })}.${c.column}`).join(', ')}` } : {}),
  };
  if (needed === null) return { ...base, after: seq.last_value, action: 'unused' };
  const target_ = BigInt(needed) + (descending ? -BigInt(margin) : BigInt(margin));
  const ahead = seq.last_value !== null && (descending ? BigInt(seq.last_value) <= target_ : BigInt(seq.last_value) >= target_);
  if (ahead) return { ...base, after: seq.last_value, action: 'already ahead' };
  if (descending ? target_ < BigInt(seq.min_value) : target_ > BigInt(seq.max_value)) {
    return { ...base, after: seq.last_value, action: 'out of range',
      note: `needs ${target_} but its ${descending ? `MINVALUE is ${seq.min_value}` : `MAXVALUE is ${seq.max_value}`}: lower --margin, ` +
        `or widen it (ALTER SEQUENCE ${quoteQualified(name)} ${descending ? 'MINVALUE' : 'MAXVALUE'} …) and run this again.` };
  }
  return { ...base, after: target_.toString(), action: 'advanced' };
}
