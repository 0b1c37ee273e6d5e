import { type FieldError, invalid } from '../../domain/errors.js';
import { parseLogTime } from '../log-cursor.js';

/**
 * One PromQL query of the fixed set and how its answer becomes plotted series: `single` is one
 * series; `by` splits by a label; `requests` (by status class and outcome) gives the request and
 * error rates; `quantiles` (histogram buckets by `le`) gives each percentile. The last two are
 * derived by Rondo so Prometheus reads the buckets once rather than once per percentile.
 */
export type MetricQuery =
  | { shape: 'single'; name: string; unit: string; promql: string }
  | { shape: 'by'; name: string; unit: string; by: string; promql: string }
  | { shape: 'requests'; promql: string }
  | { shape: 'quantiles'; unit: string; scale: number; quantiles: [string, number][]; promql: string };

/** The component and environment a query is scoped to: ids resolved under the caller's authorization. */
export interface MetricScope {
  componentId: string;
  environmentId: string;
}

/** Prometheus refuses more than 11,000 points per series; the API stays under that. */
export const MAX_POINTS = 11_000;

const STEP_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** A label value inside double quotes in PromQL (ids are UUIDs; escaped all the same). */
const quoted = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The selector every query has: only this component in this environment. */
export function selectorOf(scope: MetricScope, extra = ''): string {
  return `{component_id=${quoted(scope.componentId)},environment_id=${quoted(scope.environmentId)}${extra}}`;
}

/**
 * CPU in millicores per replica, aggregated by `how`: the rate of the CPU counter where the data
 * plane keeps one (Docker, the kubelet's summary), else the average of the rate it reports (the
 * metrics API). A replica has one or the other, so `or` joins them without counting any twice.
 */
export function cpuMillicores(sel: string, window: string, how: 'sum' | 'max'): string {
  return `${how}(1000 * rate(rondo_replica_cpu_seconds_total${sel}${window}) or avg_over_time(rondo_replica_cpu_millicores${sel}${window}))`;
}

/**
 * The fixed set of queries: users choose a component, an environment and a range, never the
 * PromQL. `windowSeconds` is each point's look-back for rates: at least the step, and at least
 * four scrapes so a rate always has two samples.
 */
export function metricQueries(
  kind: 'service' | 'task',
  scope: MetricScope,
  windowSeconds: number,
): MetricQuery[] {
  const w = `[${windowSeconds}s]`;
  const sel = selectorOf(scope);
  const buckets = (metric: string) => `sum by (le) (rate(${metric}_bucket${sel}${w}))`;
  if (kind === 'task')
    return [
      {
        shape: 'by',
        name: 'executions',
        unit: 'count',
        by: 'status',
        promql: `sum by (status) (round(increase(rondo_task_executions_total${sel}${w})))`,
      },
      {
        shape: 'quantiles',
        unit: 's',
        scale: 1,
        quantiles: [
          ['executionDurationP50', 0.5],
          ['executionDurationP95', 0.95],
        ],
        promql: buckets('rondo_task_execution_duration_seconds'),
      },
    ];
  return [
    {
      shape: 'requests',
      promql: `sum by (status_class, outcome) (rate(rondo_gateway_requests_total${sel}${w}))`,
    },
    {
      shape: 'quantiles',
      unit: 'ms',
      scale: 1000,
      quantiles: [
        ['latencyP50', 0.5],
        ['latencyP95', 0.95],
        ['latencyP99', 0.99],
      ],
      promql: buckets('rondo_gateway_request_duration_seconds'),
    },
    {
      shape: 'single',
      name: 'cpu',
      unit: 'millicores',
      promql: cpuMillicores(sel, w, 'sum'),
    },
    {
      shape: 'single',
      name: 'memory',
      unit: 'MiB',
      promql: `sum(rondo_replica_memory_bytes${sel}) / 1048576`,
    },
    {
      shape: 'single',
      name: 'restarts',
      unit: 'count',
      promql: `sum(round(increase(rondo_replica_restarts_total${sel}${w})))`,
    },
    {
      shape: 'single',
      name: 'oomKills',
      unit: 'count',
      promql: `sum(round(increase(rondo_replica_oom_kills_total${sel}${w})))`,
    },
  ];
}

/** What the caller asks for; every field optional but the environment (checked by the route). */
export interface MetricRange {
  from?: string;
  to?: string;
  step?: string;
}

export interface CheckedRange {
  /** Unix seconds. */
  start: number;
  end: number;
  stepSeconds: number;
  windowSeconds: number;
}

/** A time: ISO, unix seconds, or a duration back from now (`30m`, `6h`, `7d`). */
function parseTime(value: string, now: number): Date | undefined {
  if (/^\d{9,11}(\.\d{1,3})?$/.test(value)) return new Date(Number(value) * 1000);
  return parseLogTime(value, now);
}

/** `15 days`, `1 day`, `36 hours`. */
function retentionText(seconds: number): string {
  const days = seconds / 86_400;
  if (Number.isInteger(days)) return `${days} day${days === 1 ? '' : 's'}`;
  return `${seconds / 3600} hours`;
}

/** `60`, `60s`, `5m`, `1h` → seconds; undefined when it is none of those. */
export function parseStep(value: string): number | undefined {
  const m = /^(\d{1,6})([smh]?)$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * (STEP_UNITS[m[2] || 's'] ?? 1);
}

/**
 * The range's times and step, or a 400 naming each field at fault and how to fix it: a range
 * that reaches past the retention, an end before the start, more points than Prometheus answers.
 * Without a step: about 240 points, never finer than one scrape.
 */
export function checkRange(
  r: MetricRange,
  limits: { retentionSeconds: number; scrapeIntervalSeconds: number },
  now = Date.now(),
): CheckedRange {
  const problems: FieldError[] = [];
  const hint =
    'give an ISO time (2026-11-30T10:00:00Z), unix seconds, or a duration back from now (30m, 6h, 7d)';
  const to = r.to === undefined ? new Date(now) : parseTime(r.to, now);
  const from = r.from === undefined ? new Date((to?.getTime() ?? now) - 3_600_000) : parseTime(r.from, now);
  if (!from) problems.push({ field: 'from', message: hint });
  if (!to) problems.push({ field: 'to', message: hint });
  const oldest = now - limits.retentionSeconds * 1000;
  if (from && from.getTime() < oldest - 60_000)
    problems.push({
      field: 'from',
      message: `is beyond the metrics retention (${retentionText(limits.retentionSeconds)}); give ${new Date(oldest).toISOString()} or later`,
    });
  if (from && to && to.getTime() <= from.getTime())
    problems.push({ field: 'to', message: 'must be after from' });
  let step: number | undefined;
  if (r.step !== undefined) {
    step = parseStep(r.step);
    if (step === undefined || step < 1)
      problems.push({ field: 'step', message: 'give seconds (60) or a duration (15s, 5m, 1h)' });
  }
  if (problems.length) throw invalid(problems);
  const start = Math.floor(from!.getTime() / 1000);
  const end = Math.floor(to!.getTime() / 1000);
  const range = end - start;
  const stepSeconds = step ?? Math.max(limits.scrapeIntervalSeconds, Math.ceil(range / 240));
  const points = Math.floor(range / stepSeconds) + 1;
  if (points > MAX_POINTS)
    throw invalid([
      {
        field: 'step',
        message: `gives ${points} points per series (at most ${MAX_POINTS}); use a step of at least ${Math.ceil(range / (MAX_POINTS - 1))} s or a shorter range`,
      },
    ]);
  return { start, end, stepSeconds, windowSeconds: Math.max(stepSeconds, 4 * limits.scrapeIntervalSeconds) };
}
