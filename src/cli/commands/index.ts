/**
 * Every subcommand, in the order the procedure runs them (DESIGN.md §5). Each module exports one
 * `register(program)` that wires flags to its step function.
 */
import type { Command } from 'commander';
import { register as registerWizard } from './wizard.js';
import { register as registerResume } from './resume.js';
import { register as registerStatus } from './status.js';
import { register as registerPreflight } from './preflight.js';
import { register as registerRoles } from './roles.js';
import { register as registerCandidates } from './candidates.js';
import { register as registerSchema } from './schema.js';
import { register as registerHypertables } from './hypertables.js';
import { register as registerCompletionPoint } from './completion-point.js';
import { register as registerBackfill } from './backfill.js';
import { register as registerValidate } from './validate.js';
import { register as registerSequences } from './sequences.js';
import { register as registerReadiness } from './readiness.js';
import { register as registerClean } from './clean.js';
import { register as registerDemo } from './demo.js';

export function registerCommands(program: Command): void {
  for (const register of [registerWizard, registerResume, registerStatus, registerPreflight, registerRoles,
    registerCandidates, registerSchema, registerHypertables, registerCompletionPoint, registerBackfill,
    registerValidate, registerSequences, registerReadiness, registerClean, registerDemo]) {
    register(program);
  }
}
