import { describe, expect, it } from 'vitest';
import { paramsOf } from './alerts.js';
import { humanDuration } from './insights.js';

describe('rondo alerts create flags', () => {
  it('become the params of the rule’s kind, numbers as numbers', () => {
    expect(
      paramsOf({ env: 'e', kind: 'latency', email: [], percentile: '95', thresholdMs: '250', period: '10' }),
    ).toEqual({ percentile: 95, thresholdMs: 250, periodMinutes: 10 });
    expect(
      paramsOf({ env: 'e', kind: 'status-code', email: [], codes: '500,502', count: '3', interval: '1' }),
    ).toEqual({
      codes: [500, 502],
      count: 3,
      intervalMinutes: 1,
    });
    expect(paramsOf({ env: 'e', kind: 'system', email: [], events: 'crash, oom' })).toEqual({
      events: ['crash', 'oom'],
    });
  });

  it('refuse a number that is not one, naming the flag', () => {
    expect(() => paramsOf({ env: 'e', kind: 'log', email: [], count: 'many' })).toThrow(
      /--count takes a number/,
    );
  });
});

describe('insights durations', () => {
  it('are read in the two largest units', () => {
    expect(humanDuration(null)).toBe('–');
    expect(humanDuration(42)).toBe('42s');
    expect(humanDuration(5400)).toBe('1h 30m');
    expect(humanDuration(3 * 86_400 + 7200 + 60)).toBe('3d 2h');
  });
});
