import { describe, expect, it } from 'vitest';
import { RondoError } from '../../src/domain/errors.js';
import {
  decodeCursor,
  encodeCursor,
  isoFromMicros,
  parseLogTime,
} from '../../src/observability/log-cursor.js';
import { checkFilter } from '../../src/observability/runtime-logs.js';

describe('runtime log cursors and times', () => {
  it('a cursor stands for the exact position it was made from', () => {
    const p = { atUs: '1764500000123456', id: '9007199254740993', direction: 'backward' as const };
    expect(decodeCursor(encodeCursor(p))).toEqual(p);
    expect(decodeCursor(encodeCursor({ ...p, direction: 'forward' }))?.direction).toBe('forward');
  });

  it.each([
    '',
    'garbage',
    Buffer.from('x:1:2').toString('base64url'),
    Buffer.from('f:1:2:3').toString('base64url'),
    Buffer.from('f:-1:2').toString('base64url'),
    'a/b',
  ])('%j is not a cursor', (c) => {
    expect(decodeCursor(c)).toBeUndefined();
  });

  it('reads durations back from now and ISO times, and nothing else', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    expect(parseLogTime('1h', now)?.toISOString()).toBe('2026-11-30T11:00:00.000Z');
    expect(parseLogTime('90s', now)?.toISOString()).toBe('2026-11-30T11:58:30.000Z');
    expect(parseLogTime('7d', now)?.toISOString()).toBe('2026-11-23T12:00:00.000Z');
    expect(parseLogTime('2026-11-30T10:00:00Z', now)?.toISOString()).toBe('2026-11-30T10:00:00.000Z');
    for (const bad of ['garbage', '1w', '-1h', '12', 'yesterday', '2026-13-45'])
      expect(parseLogTime(bad, now)).toBeUndefined();
  });

  it('keeps microseconds in the timestamps it shows', () => {
    expect(isoFromMicros('1796040000123456')).toBe('2026-11-30T12:00:00.123456Z');
    expect(isoFromMicros('1796040000000007')).toBe('2026-11-30T12:00:00.000007Z');
  });

  it('refuses a bad filter naming each field, and a range beyond the retention', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    const fieldsOf = (f: Parameters<typeof checkFilter>[0]) => {
      try {
        checkFilter(f, 30, now);
        return [];
      } catch (err) {
        if (!(err instanceof RondoError)) throw err;
        expect(err.code).toBe('RONDO_ERR_INPUT_INVALID');
        return err.fields.map((x) => x.field);
      }
    };
    expect(fieldsOf({ environment: 'dev', since: 'garbage' })).toEqual(['since']);
    expect(fieldsOf({ environment: 'dev', since: '31d' })).toEqual(['since']);
    expect(fieldsOf({ environment: 'dev', since: '2h', until: '3h' })).toEqual(['until']);
    expect(fieldsOf({ environment: 'dev', level: 'error,loud' })).toEqual(['level']);
    expect(fieldsOf({ environment: 'dev', cursor: 'nope' })).toEqual(['cursor']);
    expect(fieldsOf({ environment: 'dev', replica: 'x' })).toEqual(['replica']);
    expect(fieldsOf({ environment: 'dev', since: '29d', level: 'error,warn' })).toEqual([]);
    const c = checkFilter({ environment: 'dev' }, 30, now);
    expect(c.direction).toBe('backward');
    expect(c.sinceUs).toBe(((BigInt(now) - 30n * 86_400_000n) * 1000n).toString());
  });
});
