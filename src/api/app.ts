import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { BuildUseDeps } from '../build/builds.js';
import type { Actor, ControlDeps, RequestContext } from '../control/context.js';
import { authenticate } from '../control/tokens.js';
import type { DeployDeps } from '../deploy/deployments.js';
import { RondoError } from '../domain/errors.js';
import type { WebhookDeps } from '../git/webhook-receiver.js';
import type { SecretDeps } from '../secrets/secret-deps.js';
import type { TaskDeps } from '../tasks/task-runs.js';
import { sendProblem, toRondoError } from './problem.js';
import { adminRoutes } from './routes/admin.js';
import { approvalRoutes } from './routes/approvals.js';
import { auditRoutes } from './routes/audit.js';
import { buildRoutes } from './routes/builds.js';
import { componentRoutes } from './routes/components.js';
import { configurationRoutes } from './routes/configuration.js';
import { dataPlaneRoutes } from './routes/data-planes.js';
import { deploymentRoutes } from './routes/deployments.js';
import { environmentRoutes } from './routes/environments.js';
import { executionRoutes } from './routes/executions.js';
import { identityRoutes } from './routes/identity.js';
import { organizationRoutes } from './routes/organizations.js';
import { pipelineRoutes } from './routes/pipelines.js';
import { projectRoutes } from './routes/projects.js';
import { webhookReceiver, webhookRoutes } from './routes/webhooks.js';

export const BODY_LIMIT = 10 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a token (health, the OpenAPI document). */
    public?: boolean;
  }
}

export type Api = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  import('fastify').FastifyBaseLogger,
  ZodTypeProvider
>;

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The request as the control layer sees it; only call on authenticated routes. */
export function contextOf(request: FastifyRequest): RequestContext {
  if (!request.actor) throw new RondoError('RONDO_ERR_AUTH_TOKEN_MISSING', 'this route needs a token');
  return { actor: request.actor, requestId: request.id, sourceIp: request.ip };
}

/** Builds the REST API (`/api/v1`) over the control layer. No I/O happens until `ready()`. */
export async function createApi(
  deps: ControlDeps & SecretDeps,
  logger: Logger,
  deploy?: DeployDeps,
  builds?: BuildUseDeps,
  tasks?: TaskDeps,
  hooks?: WebhookDeps,
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
    if (request.routeOptions.config.public) return;
    const header = request.headers.authorization;
    if (!header) throw new RondoError('RONDO_ERR_AUTH_TOKEN_MISSING', 'send Authorization: Bearer <token>');
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (!match)
      throw new RondoError(
        'RONDO_ERR_AUTH_TOKEN_INVALID',
        'the Authorization header must be `Bearer <token>`',
      );
    request.actor = await authenticate(deps, match[1]!);
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

  app.setErrorHandler((err, request, reply) => {
    const rondo = toRondoError(err);
    if (rondo.status >= 500) request.log.error({ err, reqId: request.id }, 'request failed');
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
      organizationRoutes(api, deps);
      environmentRoutes(api, deps);
      pipelineRoutes(api, deps);
      dataPlaneRoutes(api, deps);
      projectRoutes(api, deps);
      componentRoutes(api, deps);
      auditRoutes(api, deps);
      deploymentRoutes(api, deploy);
      approvalRoutes(api, deploy);
      configurationRoutes(api, deps);
      adminRoutes(api, deps);
      buildRoutes(api, builds);
      executionRoutes(api, tasks);
      webhookRoutes(api, deps);
    },
    { prefix: '/api/v1' },
  );
  await app.register(async (scope) => webhookReceiver(scope as unknown as Api, hooks));
  return app;
}
