import { describe, expect, it } from 'vitest';
import type { RangeSeries } from '../../src/observability/metrics/prometheus-api.js';
import {
  bucketQuantile,
  quantileSeries,
  requestSeries,
} from '../../src/observability/metrics/series-derivation.js';

const series = (metric: Record<string, string>, values: [number, number][]): RangeSeries => ({
  metric,
  values: values.map(([t, v]) => [t, String(v)]),
});

describe('series derived by Rondo', () => {
  it('request rate sums every class; error rate is 5xx and failed gateway outcomes over all', () => {
    const { requestRate, errorRate } = requestSeries([
      series({ status_class: '2xx', outcome: 'BACKEND_RESPONSE' }, [
        [10, 8],
        [20, 0],
      ]),
      series({ status_class: '5xx', outcome: 'BACKEND_RESPONSE' }, [[10, 1]]),
      series({ status_class: '4xx', outcome: 'RATE_LIMITED' }, [[10, 0.5]]),
      series({ status_class: '4xx', outcome: 'BACKEND_TIMEOUT' }, [[10, 0.5]]),
    ]);
    expect(requestRate).toEqual([
      [10, 10],
      [20, 0],
    ]);
    // No requests at 20: no error rate there rather than 0 % or NaN.
    expect(errorRate).toEqual([[10, 15]]);
  });

  it('quantiles as histogram_quantile computes them', () => {
    const b = (pairs: [number, number][]) => pairs.map(([le, count]) => ({ le, count }));
    // 100 observations: 90 under 25 ms, 8 in (25, 50], 2 in (300, 400].
    const h = b([
      [0.025, 90],
      [0.05, 98],
      [0.3, 98],
      [0.4, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    expect(bucketQuantile(0.5, h)).toBeCloseTo(0.025 * (50 / 90));
    expect(bucketQuantile(0.95, h)).toBeCloseTo(0.025 + 0.025 * (5 / 8));
    expect(bucketQuantile(0.99, h)).toBeCloseTo(0.3 + 0.1 * 0.5);
    // In +Inf: the highest finite bound. Without observations: NaN. Without +Inf: NaN.
    expect(
      bucketQuantile(
        0.99,
        b([
          [0.1, 0],
          [Number.POSITIVE_INFINITY, 10],
        ]),
      ),
    ).toBe(0.1);
    expect(
      bucketQuantile(
        0.5,
        b([
          [0.1, 0],
          [Number.POSITIVE_INFINITY, 0],
        ]),
      ),
    ).toBeNaN();
    expect(bucketQuantile(0.5, b([[0.1, 3]]))).toBeNaN();
    // A bucket read lower than the one below it counts as equal to it.
    expect(
      bucketQuantile(
        0.5,
        b([
          [0.1, 4],
          [0.2, 3],
          [Number.POSITIVE_INFINITY, 4],
        ]),
      ),
    ).toBeCloseTo(0.05);
  });

  it('one bucket answer gives every percentile at each time, scaled', () => {
    const [p50, p99] = quantileSeries(
      [
        series({ le: '0.1' }, [
          [1, 10],
          [2, 0],
        ]),
        series({ le: '+Inf' }, [
          [1, 10],
          [2, 0],
        ]),
      ],
      [0.5, 0.99],
      1000,
    );
    expect(p50).toEqual([[1, 50]]);
    expect(p99?.[0]?.[1]).toBeCloseTo(99);
  });
});
