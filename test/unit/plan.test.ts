import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { parsePlan, serializePlan, validatePlan } from '../../src/core/plan.js';

function problemsOf(data: unknown): string {
  try {
    validatePlan(data);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error('expected the plan to be rejected');
}

describe('plan file', () => {
  it('accepts a full plan', () => {
    const plan = validatePlan({
      version: 1,
      source: 'postgres://app@db/prod',
      roles: { load: true },
      tables: [
        { table: 'public.metrics', timeColumn: 'time', chunkInterval: '1 day',
          compress: { segmentBy: ['device_id'], orderBy: 'time DESC', compressAfter: '7 days' } },
        { table: '"Sales Data"."Orders"', timeColumn: '"Created At"', completionPoint: 'suggested', compress: false },
      ],
      schema: { allowNonEmptyTarget: false },
      dualWrites: { confirmed: true, minRowsPerTable: 10, waitSeconds: 60 },
      backfill: { workers: 4, slice: '1 hour' },
      validate: { skip: false },
      clean: true,
    });
    expect(plan.tables?.[1]?.table).toBe('"Sales Data"."Orders"');
  });

  it('takes tables[].fix as a boolean only', () => {
    expect(validatePlan({ tables: [{ table: 'orders', fix: true }] }).tables?.[0]?.fix).toBe(true);
    expect(problemsOf({ tables: [{ table: 'orders', fix: 'yes' }] })).toContain('tables[0].fix: expected boolean, received string');
  });

  it('reports three mistakes at once, each with its path', () => {
    const message = problemsOf({
      tables: [{ table: 'public.metrics', timeColumn: 'time' }, { table: 'public.events', timeColumn: 7 }],
      dualWrites: { confirmed: 'yes' },
      backfil: { workers: 2 },
    });
    expect(message).toMatch(/has 3 problems/);
    expect(message).toContain('tables[1].timeColumn: expected string, received number');
    expect(message).toContain('dualWrites.confirmed: expected boolean, received string');
    expect(message).toContain('backfil: unknown field');
  });

  it('checks table names with the SQL rules and refuses passwords', () => {
    const message = problemsOf({ tables: [{ table: 'a.b.c.d' }], source: 'postgres://u:pw@h/db' });
    expect(message).toMatch(/tables\[0\]\.table: Cannot read the table name/);
    expect(message).toMatch(/source: contains a password/);
    expect(message).not.toContain('pw@');
  });

  it('says where invalid JSON breaks', () => {
    expect(() => parsePlan('{"tables": [}')).toThrow(/not valid JSON/);
  });

  it('serializes without passwords', () => {
    const text = serializePlan({ source: 'postgres://u:pw@h/db', tables: [] });
    expect(text).not.toContain('pw');
    expect(JSON.parse(text)).toEqual({ version: 1, source: 'postgres://u@h/db', tables: [] });
  });
});

describe('answers: flag ?? (interactive ? prompt : yes ? default : error)', async () => {
  const { answer } = await import('../../src/wizard/context.js');
  const { tableChanges } = await import('../../src/wizard/reconcile.js');
  const spec = { field: 'backfill.workers', flag: '--workers', what: 'how many workers', fallback: 4, ask: async () => 7 };

  it('takes a given answer, asks on a terminal, takes the default with --yes', async () => {
    expect(await answer({ interactive: true, yes: false }, { ...spec, given: 2 })).toBe(2);
    expect(await answer({ interactive: true, yes: false }, { ...spec, given: undefined })).toBe(7);
    expect(await answer({ interactive: false, yes: true }, { ...spec, given: undefined })).toBe(4);
  });

  it('never hangs without a terminal: a missing answer names the flag and the plan field', async () => {
    const missing = answer({ interactive: false, yes: false }, { ...spec, given: undefined });
    await expect(missing).rejects.toThrow(/Missing answer: how many workers \(plan field "backfill.workers"\); there is no terminal/);
    const noDefault = answer({ interactive: false, yes: true }, { ...spec, fallback: undefined, given: undefined });
    await expect(noDefault).rejects.toBeInstanceOf(UsageError);
    await expect(noDefault).rejects.toThrow(/no safe default, so --yes cannot answer it/);
  });

  it('describes changed table decisions', () => {
    expect(tableChanges([{ table: 'public.metrics', timeColumn: 'time' }],
      [{ table: 'metrics', timeColumn: 'ts' }, { table: 'public.events' }]))
      .toEqual(['add public.events', 'public.metrics: time column time → ts']);
  });
});
