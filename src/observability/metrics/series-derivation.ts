import type { RangeSeries } from './prometheus-api.js';

/** `[unixSeconds, value]`, oldest first. */
export type Point = [number, number];

/** Gateway outcomes that mean the service was not reached in time: errors whatever the status. */
const FAILED_OUTCOMES = new Set(['NO_HEALTHY_BACKEND', 'BACKEND_TIMEOUT', 'GATEWAY_ERROR']);

/**
 * Each series' values on one time axis: `times` (every time any series has a finite value, in
 * order) and per series a column of values at those times (NaN where it has none). Columns, not
 * maps: a day at 1-minute steps is ~1,440 times × 20 buckets, read once per percentile.
 */
function byTime(series: RangeSeries[]): { times: number[]; columns: Float64Array[] } {
  const parsed = series.map((s) => s.values.map(([, v]) => Number(v)));
  // The usual answer: every series on the same grid, all values finite. No lookup needed.
  const first = series[0]?.values;
  const aligned =
    first !== undefined &&
    series.every((s, k) => {
      if (s.values.length !== first.length) return false;
      const values = parsed[k]!;
      for (let i = 0; i < values.length; i++)
        if (s.values[i]![0] !== first[i]![0] || !Number.isFinite(values[i]!)) return false;
      return true;
    });
  if (aligned)
    return { times: first.map(([t]) => t), columns: parsed.map((values) => Float64Array.from(values)) };
  const seen = new Set<number>();
  series.forEach((s, k) => {
    s.values.forEach(([t], i) => {
      if (Number.isFinite(parsed[k]![i]!)) seen.add(t);
    });
  });
  const times = [...seen].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s, k) => {
    const column = new Float64Array(times.length).fill(Number.NaN);
    s.values.forEach(([t], i) => {
      const n = parsed[k]![i]!;
      if (Number.isFinite(n)) column[index.get(t)!] = n;
    });
    return column;
  });
  return { times, columns };
}

/**
 * Request rate (req/s) and error rate (% of requests answered 5xx or failed at the gateway) from
 * the rates by status class and outcome. No error rate where there were no requests.
 */
export function requestSeries(series: RangeSeries[]): { requestRate: Point[]; errorRate: Point[] } {
  const { times, columns } = byTime(series);
  const failed = series.map(
    (s) => s.metric.status_class === '5xx' || FAILED_OUTCOMES.has(s.metric.outcome ?? ''),
  );
  const requestRate: Point[] = [];
  const errorRate: Point[] = [];
  times.forEach((t, i) => {
    let total = 0;
    let errors = 0;
    columns.forEach((column, k) => {
      const v = column[i]!;
      if (Number.isNaN(v)) return;
      total += v;
      if (failed[k]) errors += v;
    });
    requestRate.push([t, total]);
    if (total > 0) errorRate.push([t, (100 * errors) / total]);
  });
  return { requestRate, errorRate };
}

/**
 * The q-quantile of one histogram as Prometheus' `histogram_quantile` computes it: linear
 * interpolation within the bucket the rank falls in, the lowest bucket starting at 0, the highest
 * finite bound when the rank falls in +Inf. NaN without observations.
 */
export function bucketQuantile(q: number, buckets: { le: number; count: number }[]): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const counts = Float64Array.from(sorted, (b) => b.count);
  return sortedQuantile(
    q,
    sorted.map((b) => b.le),
    counts,
    monotone(counts, sorted.length),
  );
}

/**
 * Makes the first `n` counts non-decreasing in place (counts of cumulative buckets never
 * decrease; rates of them read at slightly different times may). Returns `n`, or 0 when the
 * `+Inf` bucket counted nothing.
 */
function monotone(counts: Float64Array, n: number): number {
  if (n === 0 || counts[n - 1] === 0) return 0;
  for (let i = 1; i < n; i++) if (counts[i]! < counts[i - 1]!) counts[i] = counts[i - 1]!;
  return n;
}

/** `bucketQuantile` over the first `n` buckets, in `le` order, their counts made `monotone`. */
function sortedQuantile(q: number, les: readonly number[], counts: Float64Array, n: number): number {
  if (n < 2 || les[n - 1] !== Number.POSITIVE_INFINITY) return Number.NaN;
  const total = counts[n - 1]!;
  if (!(total > 0)) return Number.NaN;
  const rank = q * total;
  let i = 0;
  while (i < n && counts[i]! < rank) i++;
  if (i === n - 1) return les[n - 2]!;
  const le = les[i]!;
  if (i === 0 && le <= 0) return le;
  const start = i === 0 ? 0 : les[i - 1]!;
  const below = i === 0 ? 0 : counts[i - 1]!;
  const inBucket = counts[i]! - below;
  return inBucket === 0 ? le : start + (le - start) * ((rank - below) / inBucket);
}

/** Each quantile at every time the buckets (by `le`) have values, times `scale`. */
export function quantileSeries(series: RangeSeries[], quantiles: number[], scale: number): Point[][] {
  const { times, columns } = byTime(series);
  const leOf = (s: RangeSeries) => (s.metric.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.metric.le));
  // The buckets in `le` order, once, rather than sorting them again at every time.
  const order = series
    .map((s, k) => ({ le: leOf(s), column: columns[k]! }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  const out: Point[][] = quantiles.map(() => []);
  const les: number[] = [];
  const counts = new Float64Array(order.length);
  times.forEach((t, i) => {
    les.length = 0;
    let n = 0;
    for (const b of order) {
      const count = b.column[i]!;
      if (Number.isNaN(count)) continue;
      les.push(b.le);
      counts[n++] = count;
    }
    n = monotone(counts, n);
    quantiles.forEach((q, k) => {
      const v = sortedQuantile(q, les, counts, n);
      if (Number.isFinite(v)) out[k]!.push([t, v * scale]);
    });
  });
  return out;
}
