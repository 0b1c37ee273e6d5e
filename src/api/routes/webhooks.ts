import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_PORT } from '../../config.js';
import { type ErrorCode, RondoError } from '../../domain/errors.js';
import {
  listDeliveries,
  rotateWebhookSecret,
  setPolling,
  showWebhook,
  type WebhookAdminDeps,
} from '../../git/webhook-admin.js';
import { PROVIDERS } from '../../git/webhook-events.js';
import { receiveDelivery, type WebhookDeps } from '../../git/webhook-receiver.js';
import { type Api, contextOf } from '../api.js';
import { OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';
import { platformOnly } from './platform-only.js';

const tags = ['webhooks'];

const REFUSALS: Record<number, ErrorCode> = {
  400: 'RONDO_ERR_WEBHOOK_PAYLOAD',
  401: 'RONDO_ERR_WEBHOOK_SIGNATURE',
  404: 'RONDO_ERR_NOT_FOUND',
  409: 'RONDO_ERR_WEBHOOK_REPLAYED',
  413: 'RONDO_ERR_INPUT_BODY_TOO_LARGE',
};

/**
 * Where providers reach this control plane: RONDO_PUBLIC_URL, else the address it listens on —
 * never the request's Host header, which the client chooses.
 */
/** Where Git providers reach this control plane (`ApiOptions`' fields of the same names). */
export interface WebhookUrlOptions {
  publicUrl?: string;
  listen?: { host: string; port: number };
}

function baseUrlOf(app: Api, options: WebhookUrlOptions): () => string {
  return () => {
    if (options.publicUrl) return options.publicUrl;
    const bound = app.server.address();
    const listening = typeof bound === 'object' && bound !== null;
    const host = listening ? bound.address : (options.listen?.host ?? '127.0.0.1');
    const port = listening ? bound.port : (options.listen?.port ?? DEFAULT_PORT);
    // A wildcard address is no address to reach: the machine's name is the best guess.
    const named = host === '0.0.0.0' || host === '::' ? hostname() : host;
    return `http://${named.includes(':') ? `[${named}]` : named}:${port}`;
  };
}

/** `/hooks/{provider}/{hook}` (public: the signature is the authentication) with the raw body it verifies. */
export async function webhookReceiver(app: Api, hooks: WebhookDeps | undefined): Promise<void> {
  const need = platformOnly(hooks, 'builds');
  // The signature covers the exact bytes: keep the body raw for this plugin's routes.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.post(
    '/hooks/:provider/:hook',
    {
      config: { public: true },
      schema: {
        hide: true,
        params: z.object({ provider: z.enum(PROVIDERS), hook: z.string().max(100) }),
      },
    },
    async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const answer = await receiveDelivery(need(), req.params.provider, req.params.hook, body, req.headers);
      if (answer.status >= 400)
        throw new RondoError(REFUSALS[answer.status] ?? 'RONDO_ERR_WEBHOOK_PAYLOAD', answer.body.message);
      return reply.code(answer.status).send(answer.body);
    },
  );
}

export function webhookRoutes(app: Api, deps: WebhookAdminDeps, options: WebhookUrlOptions = {}): void {
  const baseUrl = baseUrlOf(app, options);
  const params = z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) });
  const View = z.object({
    repository: z.string(),
    configured: z.boolean(),
    urls: z.record(z.string(), z.string()),
    setup: z.record(z.string(), z.string()),
    rotatedAt: z.string().nullable(),
    polling: z
      .object({
        intervalSeconds: z.number().int(),
        polledAt: z.string().nullable(),
        failures: z.number().int(),
        error: z.string().nullable(),
      })
      .nullable(),
  });
  app.get(
    '/orgs/:org/projects/:project/components/:component/webhook',
    {
      schema: {
        tags,
        description:
          'The webhook of the component’s repository: its URL per provider and how to set it up (never the secret).',
        params,
        response: { 200: View, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      return showWebhook(deps, ctx, orgName(ctx, org), project, component, baseUrl());
    },
  );
  app.post(
    '/orgs/:org/projects/:project/components/:component/webhook/secret',
    {
      schema: {
        tags,
        description:
          'Creates the repository’s webhook or gives it a new secret; the secret is in this answer only.',
        params,
        response: { 200: View.extend({ secret: z.string() }), ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      // The secret is shown once: no cache may keep a copy.
      reply.header('cache-control', 'no-store');
      return rotateWebhookSecret(deps, ctx, orgName(ctx, org), project, component, baseUrl());
    },
  );
  app.put(
    '/orgs/:org/projects/:project/components/:component/webhook/polling',
    {
      schema: {
        tags,
        description:
          'Polls the component’s repository (`git ls-remote`) every intervalSeconds, for repositories that cannot send webhooks; null turns polling off.',
        params,
        body: z.strictObject({ intervalSeconds: z.number().int().min(1).max(86_400).nullable() }),
        response: { 200: View, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      return setPolling(
        deps,
        ctx,
        orgName(ctx, org),
        project,
        component,
        req.body.intervalSeconds,
        baseUrl(),
      );
    },
  );
  app.get(
    '/orgs/:org/webhook-deliveries',
    {
      schema: {
        tags,
        description: 'Recent webhook deliveries, newest first: outcome, builds started, or why not.',
        params: z.object({ org: OrgParam }),
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).optional() }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.string(),
                provider: z.string(),
                deliveryId: z.string().nullable(),
                status: z.number().int(),
                outcome: z.string(),
                detail: z.record(z.string(), z.unknown()),
                receivedAt: z.string(),
              }),
            ),
          }),
          ...problemResponses,
        },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return { items: await listDeliveries(deps, ctx, orgName(ctx, req.params.org), req.query.limit) };
    },
  );
}
