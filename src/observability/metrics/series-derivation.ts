import type { RangeSeries } from './prometheus-api.js';

/** `[unixSeconds, value]`, oldest first. */
export type Point = [number, number];

/** Gateway outcomes that mean the service was not reached in time: errors whatever the status. */
const FAILED_OUTCOMES = new Set(['NO_HEALTHY_BACKEND', 'BACKEND_TIMEOUT', 'GATEWAY_ERROR']);

/** Each series' values by time, and every time any of them has one, in order. */
function byTime(series: RangeSeries[]): { times: number[]; at: Map<number, number>[] } {
  const times = new Set<number>();
  const at = series.map((s) => {
    const m = new Map<number, number>();
    for (const [t, v] of s.values) {
      const n = Number(v);
      if (Number.isFinite(n)) {
        m.set(t, n);
        times.add(t);
      }
    }
    return m;
  });
  return { times: [...times].sort((a, b) => a - b), at };
}

/**
 * Request rate (req/s) and error rate (% of requests answered 5xx or failed at the gateway) from
 * the rates by status class and outcome. No error rate where there were no requests.
 */
export function requestSeries(series: RangeSeries[]): { requestRate: Point[]; errorRate: Point[] } {
  const { times, at } = byTime(series);
  const failed = series.map(
    (s) => s.metric.status_class === '5xx' || FAILED_OUTCOMES.has(s.metric.outcome ?? ''),
  );
  const requestRate: Point[] = [];
  const errorRate: Point[] = [];
  for (const t of times) {
    let total = 0;
    let errors = 0;
    at.forEach((m, i) => {
      const v = m.get(t) ?? 0;
      total += v;
      if (failed[i]) errors += v;
    });
    requestRate.push([t, total]);
    if (total > 0) errorRate.push([t, (100 * errors) / total]);
  }
  return { requestRate, errorRate };
}

/**
 * The q-quantile of one histogram as Prometheus' `histogram_quantile` computes it: linear
 * interpolation within the bucket the rank falls in, the lowest bucket starting at 0, the highest
 * finite bound when the rank falls in +Inf. NaN without observations.
 */
export function bucketQuantile(q: number, buckets: { le: number; count: number }[]): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const last = sorted.at(-1);
  if (!last || last.le !== Number.POSITIVE_INFINITY || sorted.length < 2) return Number.NaN;
  // Counts of cumulative buckets never decrease; rates of them read at slightly different times may.
  for (let i = 1; i < sorted.length; i++)
    sorted[i] = { le: sorted[i]!.le, count: Math.max(sorted[i]!.count, sorted[i - 1]!.count) };
  const total = last.count === 0 ? 0 : sorted.at(-1)!.count;
  if (!(total > 0)) return Number.NaN;
  const rank = q * total;
  const i = sorted.findIndex((b) => b.count >= rank);
  if (i === sorted.length - 1) return sorted[sorted.length - 2]!.le;
  const bucket = sorted[i]!;
  if (i === 0 && bucket.le <= 0) return bucket.le;
  const start = i === 0 ? 0 : sorted[i - 1]!.le;
  const below = i === 0 ? 0 : sorted[i - 1]!.count;
  const inBucket = bucket.count - below;
  return inBucket === 0 ? bucket.le : start + (bucket.le - start) * ((rank - below) / inBucket);
}

/** Each quantile at every time the buckets (by `le`) have values, times `scale`. */
export function quantileSeries(series: RangeSeries[], quantiles: number[], scale: number): Point[][] {
  const { times, at } = byTime(series);
  const les = series.map((s) => (s.metric.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.metric.le)));
  const out: Point[][] = quantiles.map(() => []);
  for (const t of times) {
    const buckets: { le: number; count: number }[] = [];
    at.forEach((m, i) => {
      const count = m.get(t);
      const le = les[i];
      if (count !== undefined && le !== undefined && !Number.isNaN(le)) buckets.push({ le, count });
    });
    quantiles.forEach((q, k) => {
      const v = bucketQuantile(q, buckets);
      if (Number.isFinite(v)) out[k]!.push([t, v * scale]);
    });
  }
  return out;
}
