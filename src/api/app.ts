import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { LogController } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { BuildUseDeps } from '../builds/builds.js';
import type { AuthFailureLimits } from '../config.js';
import type { ComponentChanges } from '../control/component-changes.js';
import type { ControlDeps } from '../control/context.js';
import type { DeployDeps } from '../deploy/deployments.js';
import { RondoError } from '../domain/errors.js';
import type { WebhookDeps } from '../git/webhook-receiver.js';
import type { MetricsDeps } from '../observability/metrics/component-metrics.js';
import type { RondoMetrics } from '../observability/metrics/rondo-metrics.js';
import type { RuntimeLogDeps } from '../observability/runtime-logs.js';
import type { SecretDeps } from '../secrets/secret-deps.js';
import type { TaskDeps } from '../tasks/task-runs.js';
import type { Api } from './api.js';
import { AuthFailures, authenticationHook } from './authentication.js';
import { consolePlugin } from './console.js';
import { refuseUnstorableText } from './input-guard.js';
import { answerClientError, sendProblem, toRondoError } from './problem.js';
import { adminRoutes } from './routes/admin.js';
import { type AlertmanagerHookDeps, alertmanagerHook } from './routes/alertmanager-hook.js';
import { alertRoutes } from './routes/alerts.js';
import { approvalRoutes } from './routes/approvals.js';
import { auditRoutes } from './routes/audit.js';
import { buildRoutes } from './routes/builds.js';
import { componentEventRoutes } from './routes/component-events.js';
import { componentRoutes } from './routes/components.js';
import { configurationRoutes } from './routes/configuration.js';
import { dataPlaneRoutes } from './routes/data-planes.js';
import { deploymentCompareRoutes } from './routes/deployment-compare.js';
import { deploymentRoutes } from './routes/deployments.js';
import { endpointPolicyRoutes } from './routes/endpoint-policies.js';
import { environmentRoutes } from './routes/environments.js';
import { executionRoutes } from './routes/executions.js';
import { healthRoutes } from './routes/health.js';
import { identityRoutes } from './routes/identity.js';
import { insightRoutes } from './routes/insights.js';
import { liveRoutes } from './routes/live.js';
import { metricRoutes, metricsExposition } from './routes/metrics.js';
import { organizationRoutes } from './routes/organizations.js';
import { pipelineRoutes } from './routes/pipelines.js';
import { projectRoutes } from './routes/projects.js';
import { runtimeLogRoutes } from './routes/runtime-logs.js';
import { scheduleRoutes } from './routes/schedules.js';
import { sessionRoutes } from './routes/session.js';
import { webhookReceiver, webhookRoutes } from './routes/webhooks.js';
import { registerSessionAuthentication } from './session-auth.js';

export const BODY_LIMIT = 10 * 1024 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface ApiOptions {
  /** RONDO_PUBLIC_URL: where Git providers reach this control plane (webhook URLs). */
  publicUrl?: string;
  /** The configured listen address, for webhook URLs when there is no public URL. */
  listen?: { host: string; port: number };
  authFailures?: AuthFailureLimits;
  /** Runtime log queries (G3), when the platform runs. */
  runtimeLogs?: RuntimeLogDeps;
  /** Wakes the console's live views at a component's changes, when the platform runs. */
  componentChanges?: ComponentChanges;
  /** Metrics queries (G3) and the `/metrics` exposition, when the platform runs Prometheus. */
  metrics?: MetricsDeps;
  metricsExporter?: RondoMetrics;
  /** Alert emails can be sent (an SMTP server is configured). */
  alertEmail?: boolean;
  /** Alertmanager's notifications (latency, traffic, resource alerts), when Prometheus evaluates them. */
  alertmanager?: AlertmanagerHookDeps;
}

/** Builds the REST API (`/api/v1`) over the control layer. No I/O happens until `ready()`. */
export async function createApi(
  deps: ControlDeps & SecretDeps,
  logger: Logger,
  deploy?: DeployDeps,
  builds?: BuildUseDeps,
  tasks?: TaskDeps,
  hooks?: WebhookDeps,
  options: ApiOptions = {},
): Promise<Api> {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Rondo logs one line per request itself (onResponse), without headers that carry tokens.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Errors Fastify meets before routing (a malformed percent-encoding, an over-long path
    // segment) and requests Node cannot parse (431, 408, 400) answer problem+json too.
    frameworkErrors: (err, request, reply) => {
      request.log.info({ code: err.code }, 'request refused');
      return sendProblem(reply, request, toRondoError(err));
    },
    clientErrorHandler: (err, socket) => {
      const id = answerClientError(err, socket);
      if (id) logger.info({ reqId: id, code: err.code, source: socket.remoteAddress }, 'request refused');
    },
  }).withTypeProvider<ZodTypeProvider>() as unknown as Api;

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('actor', null);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Rondo API',
        version: '1',
        description: 'The Rondo control plane: organizations, projects, components, environments, pipelines.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // A bearer token (CLI), or the console's session cookie with its CSRF header for changes.
  await registerSessionAuthentication(
    app,
    deps,
    authenticationHook(deps, new AuthFailures(options.authFailures)),
  );
  // Every answer, errors included: browsers must not guess a type other than the one declared.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: request.routeOptions.url ?? request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  // Before any schema or use case: text the database cannot store is refused, never a 500.
  app.addHook('preValidation', refuseUnstorableText);

  app.setErrorHandler((err, request, reply) => {
    const rondo = toRondoError(err);
    if (rondo.code === 'RONDO_ERR_INTERNAL') request.log.error({ err, reqId: request.id }, 'request failed');
    // Refusals and a part known to be down (503) are expected: what and why, without a stack.
    else request.log.info({ code: rondo.code, detail: rondo.message }, 'request refused');
    return sendProblem(reply, request, rondo);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      request,
      new RondoError('RONDO_ERR_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );

  app.get('/api/v1/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({
    status: 'ok',
  }));
  app.get('/api/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  await app.register(
    async (v1) => {
      const api = v1 as unknown as Api;
      identityRoutes(api, deps);
      sessionRoutes(api, deps);
      organizationRoutes(api, deps);
      environmentRoutes(api, deps);
      pipelineRoutes(api, deps);
      // A data plane's status is read through its driver: only where the platform runs.
      dataPlaneRoutes(api, deploy ? { ...deps, dataPlanes: deploy.dataPlanes } : deps);
      projectRoutes(api, deps);
      componentRoutes(api, deps);
      auditRoutes(api, deps);
      deploymentRoutes(api, deploy);
      approvalRoutes(api, deploy);
      configurationRoutes(api, deps);
      endpointPolicyRoutes(api, deps);
      adminRoutes(api, deps);
      buildRoutes(api, builds);
      executionRoutes(api, tasks);
      runtimeLogRoutes(api, options.runtimeLogs);
      metricRoutes(api, options.metrics);
      liveRoutes(api, { deploy, builds, tasks, changes: options.componentChanges });
      scheduleRoutes(api, tasks);
      deploymentCompareRoutes(api, deps);
      componentEventRoutes(api, deps);
      insightRoutes(api, deps);
      healthRoutes(api, deps);
      alertRoutes(api, { ...deps, emailConfigured: options.alertEmail ?? false });
      webhookRoutes(api, deps, options);
    },
    { prefix: '/api/v1' },
  );
  await app.register(async (scope) => webhookReceiver(scope as unknown as Api, hooks));
  await app.register(async (scope) => alertmanagerHook(scope as unknown as Api, options.alertmanager));
  await app.register(async (scope) => metricsExposition(scope as unknown as Api, options.metricsExporter));
  await app.register(async (scope) => consolePlugin(scope as unknown as Api));
  return app;
}
