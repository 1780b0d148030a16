/** Words for validate's results, shared by the command, the wizard and the step's progress (no database code: cheap to load). */
import type { TableValidation } from './validate.js';

/** Where a table differs: below T (of how many slices) and/or at or after T (the dual-write window). */
export function describeDifferences(t: TableValidation): string {
  const below = t.differences.length > 0 ? `${t.differences.length} of ${t.slices} slice(s) below T differ` : '';
  const after = t.window && t.window.differences.length > 0 ? `rows at or after T differ (${t.window.differences.length} range(s))` : '';
  return [below, after].filter(Boolean).join('; ') || 'differs';
}
