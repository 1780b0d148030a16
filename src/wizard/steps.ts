/** Which wizard module runs each step of the one ordered list (src/steps/index.ts). */
import type { StepId } from '../steps/index.js';
import type { WizardStep } from './context.js';
import { backfillStep } from './backfill.js';
import { completionPointStep } from './completion-point.js';
import { dualWritesStep } from './dual-writes.js';
import { finishStep } from './finish.js';
import { hypertablesStep } from './hypertables.js';
import { preflightStep } from './preflight.js';
import { rolesStep } from './roles.js';
import { schemaStep } from './schema.js';
import { selectHypertablesStep } from './select-hypertables.js';
import { switchOverStep } from './switch-over.js';
import { validateStep } from './validate.js';

export const WIZARD_STEPS: Record<StepId, WizardStep> = {
  preflight: preflightStep,
  roles: rolesStep,
  'select-hypertables': selectHypertablesStep,
  schema: schemaStep,
  hypertables: hypertablesStep,
  'dual-writes': dualWritesStep,
  'completion-point': completionPointStep,
  backfill: backfillStep,
  validate: validateStep,
  'switch-over': switchOverStep,
  finish: finishStep,
};
