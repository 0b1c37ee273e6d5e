import { appendSeries, type PrometheusApi, type RangeSeries } from './prometheus-api.js';

type QueryRange = Pick<PrometheusApi, 'queryRange'>;

/** The settled points of one query on one step's grid, from `from` to `to` (unix seconds). */
interface Entry {
  from: number;
  to: number;
  series: Map<string, RangeSeries>;
  points: number;
}

export interface RangeCacheOptions {
  /** A point this many seconds old no longer changes: every sample it reads has been scraped. */
  settleSeconds: number;
  /** Points kept in all; the least recently used queries are dropped first. */
  maxPoints: number;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

/**
 * The settled part of each range query's answer, kept so that a chart refreshed, or viewed by
 * someone else, asks Prometheus only for the steps since (what Thanos' and Cortex's query
 * frontends do). Points fall on the step's grid (multiples of `step`: the first at or after
 * `start`), so successive views of a moving range share them, plus one point at `end` itself
 * when it is off the grid, so the newest value is always there. Each evaluation of a range query
 * is independent of the others, so the joined answer holds the values one query would have.
 */
export class RangeCache implements QueryRange {
  readonly #inner: QueryRange;
  readonly #options: RangeCacheOptions;
  // Map order is use order: the first entry is the least recently used.
  readonly #entries = new Map<string, Entry>();
  #points = 0;

  constructor(inner: QueryRange, options: RangeCacheOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  async queryRange(promql: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
    const first = Math.ceil(start / step) * step;
    const last = Math.floor(end / step) * step;
    const [grid, tail] = await Promise.all([
      first <= last ? this.#grid(promql, first, last, step) : new Map<string, RangeSeries>(),
      last < end ? this.#inner.queryRange(promql, end, end, step) : [],
    ]);
    return [...appendSeries(grid, tail).values()];
  }

  /** The grid points from `start` to `end` (both on the grid): held ones, and the rest asked. */
  async #grid(promql: string, start: number, end: number, step: number): Promise<Map<string, RangeSeries>> {
    const key = `${step} ${promql}`;
    const entry = this.#entries.get(key);
    const reusable = entry !== undefined && entry.from <= start && entry.to >= start - step;
    const fetchFrom = reusable ? Math.max(start, entry.to + step) : start;
    const fresh = fetchFrom <= end ? await this.#inner.queryRange(promql, fetchFrom, end, step) : [];
    const held = new Map<string, RangeSeries>();
    if (reusable)
      for (const [id, s] of entry.series) {
        const values = s.values.filter(([t]) => t >= start && t <= end);
        if (values.length) held.set(id, { metric: s.metric, values });
      }
    const merged = appendSeries(held, fresh);
    this.#keep(key, merged, start, end, step);
    return merged;
  }

  /** Records the points of `merged` that have settled, replacing what the key held. */
  #keep(key: string, merged: Map<string, RangeSeries>, start: number, end: number, step: number): void {
    this.#forget(key);
    const settled = Math.floor((this.#options.now ?? Date.now)() / 1000) - this.#options.settleSeconds;
    const last = Math.min(end, settled);
    if (last < start) return;
    // The newest grid time evaluated and settled: every series' points up to it are final.
    const to = start + Math.floor((last - start) / step) * step;
    const series = new Map<string, RangeSeries>();
    let points = 0;
    for (const [id, s] of merged) {
      const values = s.values.filter(([t]) => t <= to);
      points += values.length;
      if (values.length) series.set(id, { metric: s.metric, values });
    }
    if (points > this.#options.maxPoints) return;
    this.#entries.set(key, { from: start, to, series, points });
    this.#points += points;
    for (const [oldest, e] of this.#entries) {
      if (this.#points <= this.#options.maxPoints) break;
      this.#entries.delete(oldest);
      this.#points -= e.points;
    }
  }

  #forget(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    this.#points -= e.points;
  }
}
