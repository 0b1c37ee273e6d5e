import { RondoError } from '../../domain/errors.js';

/** One series of a `query_range` answer: its labels and `[unixSeconds, "value"]` pairs. */
export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

interface RangeAnswer {
  status: 'success' | 'error';
  data?: { resultType: string; result: RangeSeries[] };
  error?: string;
}

/** The part of Prometheus' HTTP API the metrics queries use (`/api/v1/query_range`). */
export class PrometheusApi {
  readonly #base: string;
  readonly #timeoutMs: number;

  /** `listen`: Prometheus' `host:port` (loopback). */
  constructor(listen: string, timeoutMs = 10_000) {
    this.#base = `http://${listen}`;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Evaluates `promql` at every step from `start` to `end` (unix seconds). A long range is cut in
   * two halves asked side by side: Prometheus evaluates one query on one core, and the histogram
   * buckets over a day at 1-minute steps are the long pole (docs/observability.md, figures).
   */
  async queryRange(promql: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
    const steps = Math.floor((end - start) / step);
    if (steps < SPLIT_STEPS) return this.#queryRange(promql, start, end, step);
    const middle = start + Math.floor(steps / 2) * step;
    const [first, second] = await Promise.all([
      this.#queryRange(promql, start, middle, step),
      this.#queryRange(promql, middle + step, end, step),
    ]);
    return joinSeries(first, second);
  }

  async #queryRange(promql: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
    const body = new URLSearchParams({
      query: promql,
      start: String(start),
      end: String(end),
      step: String(step),
    });
    let res: Response;
    try {
      res = await fetch(`${this.#base}/api/v1/query_range`, {
        method: 'POST',
        body,
        // On loopback, gzip only costs both sides CPU: a day of buckets is ~1 MB of JSON.
        headers: { 'accept-encoding': 'identity' },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `the metrics store (Prometheus) does not answer at ${this.#base}; \`rondo up\` starts it, \`rondo doctor\` says why it is down`,
        { cause: err },
      );
    }
    const answer = (await res.json().catch(() => ({}))) as RangeAnswer;
    // Rondo writes every query, so a refused one is Rondo's fault, not the caller's.
    if (answer.status !== 'success' || !answer.data)
      throw new Error(`Prometheus refused a metrics query (${res.status}): ${answer.error ?? 'no answer'}`);
    return answer.data.result;
  }
}

/** Ranges of at least this many steps are asked in two halves. */
const SPLIT_STEPS = 720;

/** A series' identity: its labels in a fixed order. */
export const seriesId = (metric: Record<string, string>) =>
  JSON.stringify(Object.entries(metric).sort(([a], [b]) => (a < b ? -1 : 1)));

/** `series` with `later`'s points appended to the series of the same labels (new ones added). */
export function appendSeries(
  series: Map<string, RangeSeries>,
  later: RangeSeries[],
): Map<string, RangeSeries> {
  const out = new Map(series);
  for (const s of later) {
    const id = seriesId(s.metric);
    const had = out.get(id);
    out.set(id, had ? { metric: s.metric, values: had.values.concat(s.values) } : s);
  }
  return out;
}

/** The series of two consecutive ranges joined by their labels, the earlier points first. */
export function joinSeries(earlier: RangeSeries[], later: RangeSeries[]): RangeSeries[] {
  return [...appendSeries(appendSeries(new Map(), earlier), later).values()];
}
