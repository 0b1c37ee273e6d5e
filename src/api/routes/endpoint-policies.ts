import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../endpoint-policies/api-keys.js';
import {
  type EndpointAddress,
  getEndpointPolicy,
  setEndpointPolicy,
} from '../../endpoint-policies/policies.js';
import { type Api, contextOf } from '../api.js';
import { Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const tags = ['gateway'];
const EndpointParams = z.object({
  org: OrgParam,
  project: z.string().max(63),
  component: z.string().max(63),
  endpoint: z.string().max(63),
});
const KeyParams = EndpointParams.extend({ id: z.string().max(64) });
const EnvQuery = z.strictObject({ environment: Name });
const BASE = '/orgs/:org/projects/:project/components/:component/endpoints/:endpoint';

const PolicyView = z.object({
  endpoint: z.string(),
  environment: z.string(),
  policy: z.record(z.string(), z.unknown()),
  jwks: z
    .object({ keys: z.number(), fetchedAt: z.string().nullable(), error: z.string().nullable() })
    .nullable(),
  updatedBy: z.string().nullable(),
  updatedAt: z.string().nullable(),
});
const ApiKey = z.object({
  id: z.string(),
  consumer: z.string(),
  environment: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});

/** API management on a component's endpoint per environment (G7): its policy and API keys. */
export function endpointPolicyRoutes(app: Api, deps: ControlDeps): void {
  const address = (
    req: { params: z.infer<typeof EndpointParams>; query: { environment: string } },
    ctx: ReturnType<typeof contextOf>,
  ): EndpointAddress => ({
    org: orgName(ctx, req.params.org),
    project: req.params.project,
    component: req.params.component,
    endpoint: req.params.endpoint,
    environment: req.query.environment,
  });

  app.get(
    `${BASE}/policies`,
    {
      schema: {
        tags,
        description: 'The endpoint’s API management policy in one environment (`{}` when it has none).',
        params: EndpointParams,
        querystring: EnvQuery,
        response: { 200: PolicyView, ...problemResponses },
      },
    },
    async (req) => getEndpointPolicy(deps, contextOf(req), address(req, contextOf(req))),
  );

  app.put(
    `${BASE}/policies`,
    {
      schema: {
        tags,
        description:
          'Replaces the endpoint’s policy in one environment; `{}` removes it. Fields: rateLimit and consumerRateLimit {requests, per second|minute, burst (per-minute only)}, apiKey {header (default api-key)}, jwt {issuer, audience, algorithms (RS/ES/PS 256–512), publicKeyPem or jwksUrl, forwardClaims [{claim, header}]}, cors {origins, methods, headers, credentials, maxAgeSeconds}. The gateway answers 429 RATE_LIMITED (with Retry-After), 401 AUTH_FAILURE, and preflights itself (CORS_RESPONSE).',
        params: EndpointParams,
        querystring: EnvQuery,
        body: z.strictObject({ policy: z.record(z.string(), z.unknown()) }),
        response: { 200: PolicyView, ...problemResponses },
      },
    },
    async (req) => setEndpointPolicy(deps, contextOf(req), address(req, contextOf(req)), req.body.policy),
  );

  app.post(
    `${BASE}/api-keys`,
    {
      schema: {
        tags,
        description:
          'Creates an API key for a consumer. The key is in this answer only: Rondo keeps its SHA-256 hash. Clients send it in the header the policy names (default `api-key`).',
        params: EndpointParams,
        querystring: EnvQuery,
        body: z.strictObject({ consumer: z.string().max(63) }),
        response: { 201: ApiKey.extend({ key: z.string() }), ...problemResponses },
      },
    },
    async (req, reply) => {
      const created = await createApiKey(
        deps,
        contextOf(req),
        address(req, contextOf(req)),
        req.body.consumer,
      );
      // The key is in this answer only: no cache may keep it.
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.get(
    `${BASE}/api-keys`,
    {
      schema: {
        tags,
        description: 'The endpoint’s API keys in one environment, revoked ones included (never the keys).',
        params: EndpointParams,
        querystring: EnvQuery,
        response: { 200: z.object({ items: z.array(ApiKey) }), ...problemResponses },
      },
    },
    async (req) => listApiKeys(deps, contextOf(req), address(req, contextOf(req))),
  );

  app.delete(
    `${BASE}/api-keys/:id`,
    {
      schema: {
        tags,
        description: 'Revokes an API key: the gateway refuses it from its next sync, without a reload.',
        params: KeyParams,
        querystring: EnvQuery,
        response: { 200: ApiKey, ...problemResponses },
      },
    },
    async (req) => revokeApiKey(deps, contextOf(req), address(req, contextOf(req)), req.params.id),
  );
}
