/**
 * The one context the wizard's step modules share (the create-astro model): the step context for
 * the step functions, the prompts, the answers so far, and the state store. Each answer follows
 * `given ?? (interactive ? await prompt() : yes ? default : error naming the field)`.
 */
import type { StepContext } from '../core/context.js';
import { UsageError } from '../core/errors.js';
import type { Plan } from '../core/plan.js';
import type { StateStore } from '../core/state.js';
import type { Prompts } from './prompts.js';
import { displayPath, formatCommandLine } from '../core/shell.js';
import { repeatArgs } from '../core/suggest.js';

export interface WizardContext {
  step: StepContext;
  prompts: Prompts;
  /** Prompts allowed: a TTY, and neither --yes nor CI. */
  interactive: boolean;
  /** --yes: take defaults for anything not given; never for destructive choices. */
  yes: boolean;
  /** The answers so far: recorded ones, overlaid by the plan file and flags. Written back to state. */
  answers: Plan;
  store: StateStore;
  /** A line for the operator (stderr; never under a spinner). */
  say(text: string): void;
  /** `wizard` or `resume`, for messages. */
  command: string;
  /** Candidate listing threshold (`--min-size`), bytes. */
  minBytes?: number;
}

export interface StepResult {
  status: 'done' | 'skipped';
  /** One line for status and the closing summary. */
  message: string;
  /** JSON facts for later steps, status and summary.md (never passwords). */
  outcome?: unknown;
}

export type WizardStep = (ctx: WizardContext) => Promise<StepResult>;

export interface AnswerSpec<T> {
  /** The plan field, e.g. `dualWrites.confirmed` (named in the error when it is missing). */
  field: string;
  /** The flag that also sets it, if any. */
  flag?: string;
  /** What the question is about, for the error: "which tables to convert". */
  what: string;
  given: T | undefined;
  /** Taken with --yes; undefined = there is no safe default, the answer must be given. */
  fallback?: T;
  ask: () => Promise<T>;
}

/** `given ?? (interactive ? ask() : yes ? fallback : error)`. Never hangs without a terminal. */
export async function answer<T>(ctx: Pick<WizardContext, 'interactive' | 'yes'>, spec: AnswerSpec<T>): Promise<T> {
  if (spec.given !== undefined) return spec.given;
  if (ctx.interactive) return spec.ask();
  if (ctx.yes && spec.fallback !== undefined) return spec.fallback;
  throw missingAnswer(ctx, spec);
}

export function missingAnswer(ctx: Pick<WizardContext, 'yes'>, spec: Pick<AnswerSpec<unknown>, 'field' | 'flag' | 'what'>): UsageError {
  const why = ctx.yes ? 'it has no safe default, so --yes cannot answer it' : 'there is no terminal to ask on (or CI is set)';
  const where = spec.flag ? `pass ${spec.flag} or set "${spec.field}" in the plan file (--plan FILE)` :
    `set "${spec.field}" in the plan file (--plan FILE)`;
  return new UsageError(`Missing answer: ${spec.what} (plan field "${spec.field}"); ${why}.`, {
    hint: `${where[0]?.toUpperCase()}${where.slice(1)}, or run \`migrate wizard\` in a terminal without --yes to be asked.`,
  });
}

/** Keep the answers in the state file as soon as they are given. */
export async function remember(ctx: WizardContext, answers: Partial<Plan>): Promise<void> {
  Object.assign(ctx.answers, answers);
  await ctx.store.setAnswers(answers);
}

/** A recorded outcome of an earlier step (from this run or a previous one). */
export function outcomeOf<T>(ctx: WizardContext, stepId: string): T | undefined {
  return ctx.store.step(stepId).outcome as T | undefined;
}

/** `migrate resume --dir DIR`, with the --source/--target this run was given (without passwords): what a hint tells the operator to run. */
export function resumeLine(ctx: Pick<WizardContext, 'step'>): string {
  return formatCommandLine(['migrate', 'resume', '--dir', displayPath(ctx.step.dir),
    ...repeatArgs('resume', { source: ctx.step.repeat?.source, target: ctx.step.repeat?.target })]);
}

/** `migrate status --dir DIR --target T`: where the migration stands. */
export function statusLine(ctx: Pick<WizardContext, 'step'>): string {
  return formatCommandLine(['migrate', 'status', '--dir', displayPath(ctx.step.dir), ...repeatArgs('status', { target: ctx.step.repeat?.target })]);
}
