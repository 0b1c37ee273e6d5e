import { describe, expect, it } from 'vitest';
import { compact, metricsTable, sparkline } from '../../src/cli/commands/metrics.js';

describe('rondo metrics output', () => {
  it('draws a sparkline from low to high, averaging points into at most 40 bars', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([5, 5, 5])).toBe('▁▁▁');
    expect(sparkline([])).toBe('');
    expect(sparkline(Array.from({ length: 1000 }, (_, i) => i))).toHaveLength(40);
  });

  it('prints one row per series with min, mean, max and last', () => {
    const text = metricsTable({
      component: 'greeter',
      environment: 'development',
      kind: 'service',
      from: 1_796_000_000,
      to: 1_796_003_600,
      step: 15,
      series: [
        {
          name: 'requestRate',
          unit: 'req/s',
          points: [
            [1, 1],
            [2, 3],
            [3, 2],
          ],
        },
        { name: 'latencyP99', unit: 'ms', points: [] },
        { name: 'executions', unit: 'count', labels: { status: 'failed' }, points: [[1, 2]] },
      ],
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'greeter in development: 2026-11-30T00:53:20.000Z → 2026-11-30T01:53:20.000Z, every 15 s',
    );
    expect(lines[1]).toMatch(/^SERIES\s+UNIT\s+MIN\s+AVG\s+MAX\s+LAST$/);
    expect(lines[2]).toMatch(/^requestRate\s+req\/s\s+1\s+2\s+3\s+2\s+▁█▅$/);
    expect(lines[3]).toMatch(/^latencyP99\s+ms\s+-\s+-\s+-\s+-\s+no data$/);
    expect(lines[4]).toMatch(/^executions failed\s+count\s+2/);
    expect([compact(0.123), compact(12.34), compact(1234.5), compact(123_456)]).toEqual([
      '0.12',
      '12.3',
      '1235',
      '123k',
    ]);
  });
});
