import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { displayName, parseTableSpec, quoteIdent, quoteQualified } from '../../src/core/identifiers.js';

describe('quoteIdent', () => {
  it('doubles embedded quotes and always quotes', () => {
    expect(quoteIdent('metrics')).toBe('"metrics"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteIdent('Sales Data')).toBe('"Sales Data"');
  });
  it('rejects empty names and NUL', () => {
    expect(() => quoteIdent('')).toThrow(UsageError);
    expect(() => quoteIdent('a\0b')).toThrow(UsageError);
  });
});

describe('parseTableSpec', () => {
  it('folds unquoted names and defaults the schema to public', () => {
    expect(parseTableSpec('Metrics')).toEqual({ schema: 'public', table: 'metrics' });
    expect(parseTableSpec('App.Metrics')).toEqual({ schema: 'app', table: 'metrics' });
  });
  it('keeps quoted names exactly, including dots, colons, spaces and quotes', () => {
    expect(parseTableSpec('"Sales Data"."Orders":"Created At"')).toEqual({
      schema: 'Sales Data', table: 'Orders', column: 'Created At',
    });
    expect(parseTableSpec('"a.b"."c:d"')).toEqual({ schema: 'a.b', table: 'c:d' });
    expect(parseTableSpec('"we""ird"')).toEqual({ schema: 'public', table: 'we"ird' });
  });
  it('reads a time column after a colon', () => {
    expect(parseTableSpec('public.metrics:time')).toEqual({ schema: 'public', table: 'metrics', column: 'time' });
    expect(parseTableSpec('metrics:"Time"')).toEqual({ schema: 'public', table: 'metrics', column: 'Time' });
  });
  it.each([
    ['', 'a name is missing'],
    ['a.', 'a name is missing at the end'],
    ['a.b.c', 'at most schema.table'],
    ['"open', 'never closed'],
    ['a:b.c', 'must come last'],
    ['a:b:c', 'must come last'],
    ['my table', 'contains a space'],
    ['""', 'quoted name is empty'],
  ])('rejects %j with a message saying why', (text, why) => {
    expect(() => parseTableSpec(text)).toThrow(why);
    expect(() => parseTableSpec(text)).toThrow(UsageError);
  });
  it('round-trips through quoting', () => {
    const spec = parseTableSpec('"Sales Data"."Orders"');
    expect(quoteQualified(spec)).toBe('"Sales Data"."Orders"');
    expect(displayName(spec)).toBe('"Sales Data"."Orders"');
    expect(displayName(parseTableSpec('public.metrics'))).toBe('public.metrics');
  });
});
