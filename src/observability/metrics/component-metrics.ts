import type { ControlDeps, RequestContext } from '../../control/context.js';
import { findComponent, findEnvironment } from '../../control/lookups.js';
import { readInOrg } from '../../control/org-access.js';
import { isTask } from '../../domain/task.js';
import { checkRange, type MetricQuery, type MetricRange, metricQueries } from './metric-queries.js';
import type { MetricsSettings } from './metrics-settings.js';
import type { PrometheusApi, RangeSeries } from './prometheus-api.js';
import { type Point, quantileSeries, requestSeries } from './series-derivation.js';

/** What the metrics API needs besides the store. */
export interface MetricsDeps extends ControlDeps {
  prometheus: Pick<PrometheusApi, 'queryRange'>;
  settings: Pick<MetricsSettings, 'retentionSeconds' | 'scrapeIntervalSeconds'>;
}

/** One plotted series: `points` are `[unixSeconds, value]`, oldest first, without gaps filled. */
export interface MetricSeries {
  name: string;
  unit: string;
  /** Set when a query splits into several series (`{ status: 'failed' }` for executions). */
  labels?: Record<string, string>;
  points: [number, number][];
}

export interface ComponentMetrics {
  component: string;
  environment: string;
  kind: 'service' | 'task';
  from: number;
  to: number;
  step: number;
  series: MetricSeries[];
}

/**
 * The series the console plots for one component in one environment (issue G3): request rate,
 * error rate, latency percentiles, CPU, memory, restarts and OOM kills for services, web apps and
 * webhooks; executions per status and durations for tasks. The caller must be able to read the
 * component (another organization's is a 404); the queries are Rondo's own, scoped to its ids.
 */
export async function componentMetrics(
  deps: MetricsDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  query: MetricRange & { environment: string },
  now = Date.now(),
): Promise<ComponentMetrics> {
  const range = checkRange(query, deps.settings, now);
  const { org } = await readInOrg(deps, ctx, orgName);
  const c = await findComponent(deps.store.db, org.id, project, component);
  const e = await findEnvironment(deps.store.db, org.id, query.environment);
  const kind = isTask(c.type) ? 'task' : 'service';
  const queries = metricQueries(kind, { componentId: c.id, environmentId: e.id }, range.windowSeconds);
  const answers = await Promise.all(
    queries.map((q) => deps.prometheus.queryRange(q.promql, range.start, range.end, range.stepSeconds)),
  );
  const series = queries.flatMap((q, i) => seriesOf(q, answers[i] ?? []));
  return {
    component: c.name,
    environment: e.name,
    kind,
    from: range.start,
    to: range.end,
    step: range.stepSeconds,
    series,
  };
}

/** The plotted series of one query's answer; no data yet is an empty series, so every chart is drawn. */
function seriesOf(q: MetricQuery, found: RangeSeries[]): MetricSeries[] {
  switch (q.shape) {
    case 'single':
      return [{ name: q.name, unit: q.unit, points: rounded(pointsOf(found[0]?.values ?? [])) }];
    case 'by':
      return found.map((s) => ({
        name: q.name,
        unit: q.unit,
        labels: { [q.by]: s.metric[q.by] ?? '' },
        points: rounded(pointsOf(s.values)),
      }));
    case 'requests': {
      const { requestRate, errorRate } = requestSeries(found);
      return [
        { name: 'requestRate', unit: 'req/s', points: rounded(requestRate) },
        { name: 'errorRate', unit: '%', points: rounded(errorRate) },
      ];
    }
    case 'quantiles': {
      const all = quantileSeries(
        found,
        q.quantiles.map(([, v]) => v),
        q.scale,
      );
      return q.quantiles.map(([name], k) => ({ name, unit: q.unit, points: rounded(all[k] ?? []) }));
    }
  }
}

/** Numbers; NaN and infinities (no traffic in a window) are left out. */
function pointsOf(values: [number, string][]): Point[] {
  const out: Point[] = [];
  for (const [t, v] of values) {
    const n = Number(v);
    if (Number.isFinite(n)) out.push([t, n]);
  }
  return out;
}

/** To 3 decimals: more is noise on a chart and bytes on the wire. */
const rounded = (points: Point[]): Point[] => points.map(([t, v]) => [t, Math.round(v * 1000) / 1000]);
