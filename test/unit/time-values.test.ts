import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  castParam, columnTimeType, exampleFor, isIntegerTimeType, normalizeTimeValue, parseTimeValue, shortTypeName, toTimeType, TIME_TYPES,
  type TimeType,
} from '../../src/core/time-values.js';
import { clusterUrl } from '../helpers/databases.js';

const TZ: TimeType = 'timestamp with time zone';
const TS: TimeType = 'timestamp without time zone';

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('toTimeType', () => {
  it('maps format_type output and aliases, ignoring precision and case', () => {
    expect(toTimeType('timestamp with time zone')).toBe(TZ);
    expect(toTimeType('timestamp(3) with time zone')).toBe(TZ);
    expect(toTimeType('TIMESTAMPTZ')).toBe(TZ);
    expect(toTimeType('timestamp')).toBe(TS);
    expect(toTimeType('int8')).toBe('bigint');
    expect(toTimeType('int4')).toBe('integer');
    expect(toTimeType('int')).toBe('integer');
    expect(toTimeType('int2')).toBe('smallint');
    expect(toTimeType('date')).toBe('date');
    expect(toTimeType('text')).toBeUndefined();
    expect(toTimeType('numeric')).toBeUndefined();
  });
  it('reads a domain column by its base type', () => {
    expect(columnTimeType({ type: 'audit_time', baseType: 'timestamp(3) with time zone' })).toBe(TZ);
    expect(columnTimeType({ type: '"Odd".epoch_ms', baseType: 'bigint' })).toBe('bigint');
    expect(columnTimeType({ type: 'date' })).toBe('date');
    expect(columnTimeType({ type: 'code', baseType: 'text' })).toBeUndefined();
  });

  it('knows which types are integers and how to cast and name them', () => {
    expect(TIME_TYPES.filter(isIntegerTimeType)).toEqual(['bigint', 'integer', 'smallint']);
    expect(castParam(2, TZ)).toBe('$2::timestamp with time zone');
    expect(shortTypeName(TZ)).toBe('timestamptz');
    expect(shortTypeName(TS)).toBe('timestamp');
    for (const type of TIME_TYPES) expect(() => parseTimeValue(exampleFor(type).split(' or ')[0] as string, type)).not.toThrow();
  });
});

describe('parseTimeValue', () => {
  it('accepts timestamptz values with every offset form', () => {
    for (const value of ['2023-08-10T12:00:00Z', '2023-08-10 12:00:00z', '2023-08-10 14:00:00+02:00', '2023-08-10T14:00:00+0200',
      '2023-08-10 14:00+02', '2023-08-10 12:00:00.123456Z', '2023-08-10 06:30:00-05:30']) {
      expect(parseTimeValue(value, TZ)).toEqual({ type: TZ, text: value });
    }
    expect(parseTimeValue('  2023-08-10T12:00:00Z ', TZ).text).toBe('2023-08-10T12:00:00Z');
  });

  it('refuses a timestamptz without offset unless --timezone says which zone it is in', () => {
    const error = usageError(() => parseTimeValue('2023-08-10 12:00:00', TZ, { label: '--until' }));
    expect(error.message).toContain('--until "2023-08-10 12:00:00" does not fit a timestamptz column');
    expect(error.message).toContain('no time-zone offset');
    expect(error.hint).toContain('--timezone');
    expect(parseTimeValue('2023-08-10 12:00:00', TZ, { timezone: 'Europe/Berlin' }))
      .toEqual({ type: TZ, text: '2023-08-10 12:00:00', timezone: 'Europe/Berlin' });
    expect(parseTimeValue('2023-08-10', TZ, { timezone: 'Asia/Tokyo' }).timezone).toBe('Asia/Tokyo');
    // An explicit offset wins over --timezone.
    expect(parseTimeValue('2023-08-10 12:00:00Z', TZ, { timezone: 'Asia/Tokyo' }).timezone).toBeUndefined();
  });

  it('refuses an offset for a timestamp without time zone, and non-timestamps', () => {
    expect(usageError(() => parseTimeValue('2023-08-10T12:00:00Z', TS)).message).toContain('offset would be silently ignored');
    expect(parseTimeValue('2023-08-10T12:00:00', TS).text).toBe('2023-08-10T12:00:00');
    expect(parseTimeValue('2023-08-10', TS).text).toBe('2023-08-10');
    expect(usageError(() => parseTimeValue('yesterday', TS)).message).toContain('not a timestamp');
    expect(usageError(() => parseTimeValue('1695036737', TZ)).message).toContain('not a timestamp');
    expect(usageError(() => parseTimeValue('2023-08-10 12:00:00 Europe/Berlin', TZ)).message).toContain('not a timestamp');
  });

  it('takes only dates for date columns', () => {
    expect(parseTimeValue('2023-08-10', 'date')).toEqual({ type: 'date', text: '2023-08-10' });
    expect(usageError(() => parseTimeValue('2023-08-10T00:00:00Z', 'date')).message).toContain('date without a time');
    expect(usageError(() => parseTimeValue('10/08/2023', 'date')).hint).toBe('Write it like 2023-08-10.');
  });

  it('takes whole numbers in range for integer columns', () => {
    expect(parseTimeValue('1695036737000', 'bigint').text).toBe('1695036737000');
    expect(parseTimeValue('+42', 'integer').text).toBe('42');
    expect(parseTimeValue('-0007', 'smallint').text).toBe('-7');
    expect(parseTimeValue('9223372036854775807', 'bigint').text).toBe('9223372036854775807');
    expect(parseTimeValue('-9223372036854775808', 'bigint').text).toBe('-9223372036854775808');
    expect(usageError(() => parseTimeValue('9223372036854775808', 'bigint')).message).toContain('outside the bigint range');
    expect(usageError(() => parseTimeValue('2147483648', 'integer')).message).toContain('outside the integer range');
    expect(usageError(() => parseTimeValue('32768', 'smallint')).message).toContain('outside the smallint range');
    expect(usageError(() => parseTimeValue('1.5', 'bigint')).message).toContain('not a whole number');
    expect(usageError(() => parseTimeValue('2023-08-10T12:00:00Z', 'bigint')).hint).toBe('Write it like 1695036737000.');
  });

  it('allows infinity only where asked, and never for integers', () => {
    expect(usageError(() => parseTimeValue('-infinity', TZ)).message).toContain('infinite value cannot be used here');
    expect(parseTimeValue('-Infinity', TZ, { allowInfinite: true }).text).toBe('-infinity');
    expect(parseTimeValue('infinity', 'date', { allowInfinite: true }).text).toBe('infinity');
    // PostgreSQL does not read '+infinity'; we hand it 'infinity'.
    expect(parseTimeValue('+infinity', TS, { allowInfinite: true }).text).toBe('infinity');
    const integer = usageError(() => parseTimeValue('-infinity', 'bigint', { allowInfinite: true }));
    expect(integer.message).toContain('bigint has no infinity');
    expect(integer.message).toContain('leave the lower bound out');
  });
});

describe('normalizeTimeValue (PostgreSQL has the final word)', () => {
  let client: pg.Client;
  beforeAll(async () => {
    // Deliberately NOT through connect(): the server's zone is Europe/Berlin and the session keeps it,
    // so these tests show the output is UTC whatever the session's zone is.
    client = new pg.Client({ connectionString: clusterUrl('source') });
    await client.connect();
  });
  afterAll(async () => { await client.end(); });

  it('returns canonical UTC text for timestamptz, whatever the session zone', async () => {
    const { rows } = await client.query<{ tz: string }>("SELECT current_setting('TimeZone') AS tz");
    expect(rows[0]?.tz).toBe('Europe/Berlin');
    expect(await normalizeTimeValue(client, parseTimeValue('2023-08-10T14:00:00+02:00', TZ))).toBe('2023-08-10 12:00:00+00');
    expect(await normalizeTimeValue(client, parseTimeValue('2023-08-10 12:00:00.5Z', TZ))).toBe('2023-08-10 12:00:00.5+00');
    expect(await normalizeTimeValue(client, parseTimeValue('2023-08-10 14:00', TZ, { timezone: 'Europe/Berlin' })))
      .toBe('2023-08-10 12:00:00+00');
    // Winter: Berlin is UTC+1.
    expect(await normalizeTimeValue(client, parseTimeValue('2023-01-10 14:00', TZ, { timezone: 'Europe/Berlin' })))
      .toBe('2023-01-10 13:00:00+00');
    expect(await normalizeTimeValue(client, parseTimeValue('-infinity', TZ, { allowInfinite: true }))).toBe('-infinity');
    expect(await normalizeTimeValue(client, parseTimeValue('+infinity', TZ, { allowInfinite: true }))).toBe('infinity');
  });

  it('normalizes the other types and leaves integers alone', async () => {
    expect(await normalizeTimeValue(client, parseTimeValue('2023-08-10T07:05', TS))).toBe('2023-08-10 07:05:00');
    expect(await normalizeTimeValue(client, parseTimeValue('2023-08-10', 'date'))).toBe('2023-08-10');
    expect(await normalizeTimeValue(client, parseTimeValue('0042', 'bigint'))).toBe('42');
  });

  it('turns impossible dates and unknown zones into UsageErrors', async () => {
    await expect(normalizeTimeValue(client, parseTimeValue('2023-02-30', 'date'), '--until')).rejects.toThrow(UsageError);
    await expect(normalizeTimeValue(client, parseTimeValue('2023-13-01T00:00:00Z', TZ))).rejects.toThrow(/not a valid timestamptz/);
    const zone = await normalizeTimeValue(client, parseTimeValue('2023-08-10 12:00', TZ, { timezone: 'Mars/Olympus' }))
      .catch((error: unknown) => error);
    expect(zone).toBeInstanceOf(UsageError);
    expect((zone as UsageError).hint).toContain('--timezone');
  });

  it('does not leave a warning-producing SET LOCAL behind', async () => {
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    await normalizeTimeValue(client, parseTimeValue('2023-08-10T12:00:00Z', TZ));
    expect(notices).toEqual([]);
  });
});
