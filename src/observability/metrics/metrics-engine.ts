import type { Logger } from 'pino';
import type { DataPlaneRegistry } from '../../dataplane/registry.js';
import type { Store } from '../../store/store.js';
import type { MetricsDeps } from './component-metrics.js';
import { MetricsSampler } from './metrics-sampler.js';
import type { MetricsSettings } from './metrics-settings.js';
import { PrometheusApi } from './prometheus-api.js';
import { RangeCache } from './range-cache.js';
import { RondoMetrics } from './rondo-metrics.js';

/**
 * The metrics half of the deploy engine: what `/metrics` exposes (`exporter`, which also takes the
 * gateway's requests), the sampler that feeds it, and what the metrics API queries.
 */
export function createMetrics(
  settings: MetricsSettings,
  deps: { store: Store; dataPlanes: DataPlaneRegistry; instance: string; logger: Logger },
) {
  const exporter = new RondoMetrics();
  const sampler = new MetricsSampler({ ...deps, metrics: exporter }, settings.sampleMs ?? 5000);
  const api: MetricsDeps = { store: deps.store, prometheus: cachedPrometheus(settings), settings };
  return { exporter, sampler, deps: api };
}

/** What the metrics API queries: Prometheus behind the range cache. */
export function cachedPrometheus(
  settings: Pick<MetricsSettings, 'listen' | 'scrapeIntervalSeconds'>,
): RangeCache {
  // Points settle two scrapes after their time; 500,000 points is about 40 MB of answers.
  return new RangeCache(new PrometheusApi(settings.listen), {
    settleSeconds: 2 * settings.scrapeIntervalSeconds + 5,
    maxPoints: 500_000,
  });
}
