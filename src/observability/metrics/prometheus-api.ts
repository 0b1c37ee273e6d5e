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

  /** Evaluates `promql` at every step from `start` to `end` (unix seconds). */
  async queryRange(promql: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
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
