import { z } from 'zod';
import { RondoError } from '../../domain/errors.js';
import { componentMetrics, type MetricsDeps } from '../../observability/metrics/component-metrics.js';
import type { RondoMetrics } from '../../observability/metrics/rondo-metrics.js';
import { type Api, contextOf } from '../api.js';
import { Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';
import { platformOnly } from './platform-only.js';

const tags = ['observability'];

const MetricSeries = z.object({
  name: z.string(),
  unit: z.string(),
  labels: z.record(z.string(), z.string()).optional(),
  points: z.array(z.tuple([z.number(), z.number()])).describe('[unix seconds, value], oldest first'),
});

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * `/metrics` in Prometheus' text format, for the platform's Prometheus. It has no token to send,
 * so the answer is given only to connections from this host (loopback): workloads cannot reach
 * the host's loopback, and a control plane listening on all interfaces still refuses them.
 */
export function metricsExposition(app: Api, metrics: RondoMetrics | undefined): void {
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    if (!isLoopback(req.socket.remoteAddress))
      throw new RondoError(
        'RONDO_ERR_AUTH_FORBIDDEN',
        '/metrics answers only connections from this host; Prometheus scrapes it over loopback',
      );
    if (!metrics)
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        'this control plane runs without metrics; start it with `rondo up`',
      );
    const { contentType, text } = await metrics.scrape();
    return reply.type(contentType).send(text);
  });
}

/** Metrics of a component (§11, G3): the series the console plots, queried from Prometheus. */
export function metricRoutes(app: Api, deps: MetricsDeps | undefined): void {
  const need = platformOnly(deps, 'metrics (Prometheus)');
  app.get(
    '/orgs/:org/projects/:project/components/:component/metrics',
    {
      schema: {
        tags,
        description:
          'The component’s series in one environment from `from` to `to` every `step`: request rate, error rate (5xx and gateway failures, % of requests), latency p50/p95/p99 (ms), CPU (millicores), memory (MiB), restarts and OOM kills per step; for tasks, executions per status and duration percentiles. Times are ISO, unix seconds or a duration back from now (6h); `from` defaults to an hour before `to` (now), the step to about 240 points. Ranges past the retention and more than 11,000 points per series are refused.',
        params: z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) }),
        querystring: z.strictObject({
          environment: Name,
          from: z
            .string()
            .max(40)
            .optional()
            .describe('ISO time, unix seconds, or a duration back from now: 6h'),
          to: z.string().max(40).optional().describe('ISO time, unix seconds, or a duration back from now'),
          step: z.string().max(12).optional().describe('seconds (60) or a duration: 15s, 5m, 1h'),
        }),
        response: {
          200: z.object({
            component: z.string(),
            environment: z.string(),
            kind: z.enum(['service', 'task']),
            from: z.number(),
            to: z.number(),
            step: z.number(),
            series: z.array(MetricSeries),
          }),
          ...problemResponses,
        },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { project, component } = req.params;
      return componentMetrics(need(), ctx, orgName(ctx, req.params.org), project, component, req.query);
    },
  );
}
