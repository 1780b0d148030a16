/**
 * The plan: every answer the wizard can ask for, as one JSON document. `migrate wizard --yes --plan
 * plan.json` runs from it without prompts; the interactive wizard writes the plan it followed to
 * `<dir>/plan.json`, so a rehearsal can be replayed against production.
 *
 * Validated at the edge with zod: every problem is reported at once, each with its path in the file
 * (`tables[1].timeColumn: expected string`). Plans never hold passwords: those come from flags, the
 * environment, ~/.pgpass or a masked prompt at run time.
 */
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { connectionStringProblem, hasSecret, redact } from './connection.js';
import { UsageError } from './errors.js';
import { parseColumnName, parseTableSpec } from './identifiers.js';

export const PLAN_VERSION = 1;

/** Report a UsageError thrown by our own parsers as a zod issue, so it joins the others. */
function checkedBy(parse: (value: string) => unknown): (value: string, ctx: z.RefinementCtx) => void {
  return (value, ctx) => {
    try {
      parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
  };
}

const tableName = z.string().min(1).superRefine(checkedBy((v) => parseTableSpec(v)));
const columnName = z.string().min(1).superRefine(checkedBy(parseColumnName));

// Any secret in any form: userinfo, ?password=, password= in any case, sslpassword, … (plans and state.json).
const connection = z.string().min(1).superRefine((value, ctx) => {
  if (hasSecret(value)) {
    ctx.addIssue({
      code: 'custom',
      message: 'contains a password; plans never hold passwords (use PGPASSWORD, ~/.pgpass, or --source/--target)',
    });
  }
});

/** A plan file's strings must also read as libpq reads them (state.json is not refused for that). */
function connectionProblems(data: unknown): string[] {
  const problems: string[] = [];
  for (const side of ['source', 'target'] as const) {
    const value = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[side] : undefined;
    if (typeof value !== 'string' || value === '' || hasSecret(value)) continue;
    const found = connectionStringProblem(value);
    if (found) problems.push(`${side}: is not a valid connection string (${found.problem}): ${redact(value)}`);
  }
  return problems;
}

const compress = z.strictObject({
  /** Columns for timescaledb.compress_segmentby. */
  segmentBy: z.array(columnName).optional(),
  /** timescaledb.compress_orderby, e.g. "time DESC". */
  orderBy: z.string().min(1).optional(),
  /** The compression policy's compress_after, e.g. "7 days" (or an integer for integer time). */
  compressAfter: z.string().min(1).optional(),
});

export const planTableSchema = z.strictObject({
  /** `schema.table`, SQL quoting rules (see parseTableSpec). */
  table: tableName,
  timeColumn: columnName.optional(),
  /** "1 day" for timestamps, "86400000" for integer time; default: the candidate's suggestion. */
  chunkInterval: z.string().min(1).optional(),
  /** false (or absent) = no compression. */
  compress: z.union([z.literal(false), compress]).optional(),
  /** The completion point T for this table, typed like its time column; "suggested" = take the suggestion. */
  completionPoint: z.string().min(1).optional(),
  /**
   * Let the wizard remove the blockers it can fix (a key without the time column, inheritance leftovers)
   * on the target after the schema load, as `migrate hypertables --fix` does. Default false.
   */
  fix: z.boolean().optional(),
});

export const planSchema = z.strictObject({
  version: z.literal(PLAN_VERSION).optional(),
  /** Connection strings without passwords (flags and SOURCE/TARGET take precedence). */
  source: connection.optional(),
  target: connection.optional(),
  roles: z.strictObject({
    /** Load the rewritten roles into the target (default true). */
    load: z.boolean().optional(),
  }).optional(),
  /** The tables to convert to hypertables; [] = none. */
  tables: z.array(planTableSchema).optional(),
  schema: z.strictObject({
    /** Load the schema even though the target already holds user tables (destructive; default false). */
    allowNonEmptyTarget: z.boolean().optional(),
    /** Carry ownership from the source (default true; like `migrate schema --no-owner` when false). */
    owners: z.boolean().optional(),
    /** Carry GRANT/REVOKE and default privileges (default true; like `--no-privileges` when false). */
    privileges: z.boolean().optional(),
  }).optional(),
  dualWrites: z.strictObject({
    /** The operator's word that the application now writes to both databases. */
    confirmed: z.boolean(),
    /** Unattended: wait until every chosen table holds at least this many rows on the target (default 1). */
    minRowsPerTable: z.number().int().min(0).optional(),
    /** Unattended: give up after this many seconds (default 600). */
    waitSeconds: z.number().positive().optional(),
  }).optional(),
  completionPoint: z.strictObject({
    /** How long after the first dual-written row every writer is surely dual-writing (default 5 minutes). */
    margin: z.string().min(1).optional(),
    /** How late rows may arrive (default 10 minutes). */
    lateness: z.string().min(1).optional(),
    /** Zone of timestamp/date columns' wall-clock values and of offset-less T values. */
    timezone: z.string().min(1).optional(),
    /** Unattended: how long to wait for the consistency range to open (default 1200 seconds). */
    waitSeconds: z.number().positive().optional(),
  }).optional(),
  backfill: z.strictObject({
    workers: z.number().int().min(1).max(64).optional(),
    /** Slice length, e.g. "1 hour" (or an integer for integer time). */
    slice: z.string().min(1).optional(),
    /** Start of the backfill range (default -infinity). */
    from: z.string().min(1).optional(),
    /** Also copy source rows at +infinity (backfill --include-infinity; default false: such rows stop the backfill). */
    includeInfinity: z.boolean().optional(),
    /**
     * The backfilled tables' user triggers for copied rows (backfill --user-triggers): skip (default; needs the right
     * to set session_replication_role), fire, or disable (for dual-writes too, during the backfill).
     */
    userTriggers: z.enum(['skip', 'fire', 'disable']).optional(),
  }).optional(),
  switchOver: z.strictObject({
    /** Ids to set the sequences beyond the highest in use (`migrate sequences --margin`; default 0). */
    sequenceMargin: z.number().int().min(0).optional(),
  }).optional(),
  validate: z.strictObject({
    /** Skip validation (default false). */
    skip: z.boolean().optional(),
  }).optional(),
  /** Drop the `_migrate` ledger schema from the target at the end (default false). */
  clean: z.boolean().optional(),
});

export type Plan = z.infer<typeof planSchema>;
export type PlanTable = z.infer<typeof planTableSchema>;

/** `["tables", 1, "timeColumn"]` → `tables[1].timeColumn`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text === '' ? '(top level)' : text;
}

/** One line per problem: `tables[1].timeColumn: expected string, received number`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const message = issue.message.replace(/^Invalid input: /, '');
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? formatPath(issue.path) : '(top level)';
      return issue.keys.map((key) => `${where === '(top level)' ? key : `${where}.${key}`}: unknown field`).join('\n');
    }
    return `${formatPath(issue.path)}: ${message}`;
  }).flatMap((line) => line.split('\n'));
}

/** Validate a parsed plan; every problem at once in one UsageError (exit 2). */
export function validatePlan(data: unknown, label = 'The plan'): Plan {
  const result = planSchema.safeParse(data);
  const problems = [...(result.success ? [] : formatIssues(result.error.issues)), ...connectionProblems(data)];
  if (result.success && problems.length === 0) return result.data;
  throw new UsageError(`${label} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
    problems.map((p) => `  - ${p}`).join('\n'), {
    hint: 'Fix these fields and run again; README "Plan file" lists every field.',
  });
}

export function parsePlan(text: string, label = 'The plan'): Plan {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${label} is not valid JSON: ${error instanceof Error ? error.message : String(error)}.`, {
      hint: 'Check the file with `node -e "JSON.parse(require(\'fs\').readFileSync(process.argv[1]))" FILE` or a JSON linter.',
    });
  }
  return validatePlan(data, label);
}

export async function readPlanFile(file: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read the plan file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`, {
      hint: 'Check the path given to --plan.',
      cause: error,
    });
  }
  return parsePlan(text, `The plan file ${file}`);
}

/** The plan as written to disk: connection strings without passwords, stable key order. */
export function serializePlan(plan: Plan): string {
  return `${JSON.stringify(withoutPasswords({ version: PLAN_VERSION, ...plan }), null, 2)}\n`;
}

/** The answers with their connection strings' passwords cut out (plan.json, state.json). */
export function withoutPasswords(plan: Plan): Plan {
  const safe: Plan = { ...plan };
  for (const side of ['source', 'target'] as const) {
    const value = safe[side];
    if (value === undefined) continue;
    // A string that was nothing but a password means libpq's defaults: absent, not "".
    const clean = redact(value);
    if (clean.trim() === '') delete safe[side];
    else safe[side] = clean;
  }
  return safe;
}
