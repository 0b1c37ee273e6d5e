import { z } from 'zod';
import { ALERT_KINDS } from '../../domain/alerts.js';
import { listAlertHistory } from '../../observability/alert-history.js';
import {
  type AlertDeps,
  createAlertRule,
  deleteAlertRule,
  getAlertRule,
  listAlertRules,
  setAlertRuleEnabled,
} from '../../observability/alert-rules.js';
import { type Api, contextOf } from '../api.js';
import { deleteResponses, Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const tags = ['observability'];
const ComponentParams = z.object({
  org: OrgParam,
  project: z.string().max(63),
  component: z.string().max(63),
});
const RuleParams = ComponentParams.extend({ name: z.string().max(63) });
const BASE = '/orgs/:org/projects/:project/components/:component/alerts';

const AlertRule = z.object({
  name: z.string(),
  environment: z.string(),
  kind: z.enum(ALERT_KINDS),
  params: z.record(z.string(), z.unknown()),
  enabled: z.boolean(),
  state: z.enum(['ok', 'firing']),
  evaluatedBy: z.enum(['rondo', 'prometheus']),
  webhook: z.object({ url: z.string() }).nullable(),
  emails: z.array(z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const Attempt = z.object({ at: z.string(), ok: z.boolean(), detail: z.string() });
const Incident = z.object({
  id: z.string(),
  rule: z.string(),
  kind: z.string(),
  environment: z.string(),
  source: z.enum(['rondo', 'alertmanager']),
  summary: z.string(),
  firedAt: z.string(),
  resolvedAt: z.string().nullable(),
  resolution: z.string().nullable(),
  notifications: z.array(
    z.object({
      transition: z.enum(['fired', 'resolved']),
      channel: z.enum(['webhook', 'email']),
      target: z.string(),
      status: z.enum(['pending', 'delivered', 'failed']),
      attempts: z.array(Attempt),
    }),
  ),
});

/** Alert rules of a component and its alert history (G3). */
export function alertRoutes(app: Api, deps: AlertDeps): void {
  const where = (req: { params: z.infer<typeof ComponentParams> }, ctx: ReturnType<typeof contextOf>) =>
    [orgName(ctx, req.params.org), req.params.project, req.params.component] as const;

  app.get(
    BASE,
    {
      schema: {
        tags,
        description: 'The component’s alert rules (at most 10), with whether each is firing now.',
        params: ComponentParams,
        querystring: z.strictObject({ environment: Name.optional() }),
        response: { 200: z.object({ items: z.array(AlertRule) }), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return listAlertRules(deps, ctx, ...where(req, ctx), req.query);
    },
  );

  app.post(
    BASE,
    {
      schema: {
        tags,
        description:
          'Creates an alert rule in one environment. Kinds and their params: latency {percentile 50|90|95|99, thresholdMs, periodMinutes}, traffic {requestsPerMinute, periodMinutes}, resource {resource cpu|memory, threshold (millicores|MiB), periodMinutes}, log {phrase, count, intervalMinutes}, build-failure {}, status-code {codes, count, intervalMinutes}, system {events crash|oom, periodMinutes}. Notifications: a webhook (http(s) URL and a secret that signs each delivery; the secret is never shown again) and/or up to 5 email addresses. The 11th rule of a component is refused (409).',
        params: ComponentParams,
        body: z.strictObject({
          name: z.string().max(63),
          environment: Name,
          kind: z.enum(ALERT_KINDS),
          params: z.record(z.string(), z.unknown()).optional(),
          webhook: z
            .strictObject({ url: z.string().max(2000), secret: z.string().min(16).max(256) })
            .optional(),
          emails: z.array(z.string().max(254)).max(20).optional(),
          enabled: z.boolean().optional(),
        }),
        response: { 201: AlertRule, ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const created = await createAlertRule(deps, ctx, ...where(req, ctx), req.body);
      return reply.code(201).send(created);
    },
  );

  app.get(
    `${BASE}/history`,
    {
      schema: {
        tags,
        description:
          'The alert history, newest first: when each rule fired and resolved, what it saw, and every notification with its delivery attempts.',
        params: ComponentParams,
        querystring: z.strictObject({
          environment: Name.optional(),
          rule: z.string().max(63).optional(),
          limit: z.coerce.number().int().min(1).max(500).optional(),
        }),
        response: { 200: z.object({ items: z.array(Incident) }), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return listAlertHistory(deps, ctx, ...where(req, ctx), req.query);
    },
  );

  app.get(
    `${BASE}/:name`,
    {
      schema: {
        tags,
        description: 'One alert rule.',
        params: RuleParams,
        response: { 200: AlertRule, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return getAlertRule(deps, ctx, ...where(req, ctx), req.params.name);
    },
  );

  app.patch(
    `${BASE}/:name`,
    {
      schema: {
        tags,
        description: 'Enables or disables a rule; disabling a firing rule resolves it.',
        params: RuleParams,
        body: z.strictObject({ enabled: z.boolean() }),
        response: { 200: AlertRule, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return setAlertRuleEnabled(deps, ctx, ...where(req, ctx), req.params.name, req.body.enabled);
    },
  );

  app.delete(
    `${BASE}/:name`,
    {
      schema: {
        tags,
        description: 'Deletes a rule and its webhook secret; its history stays.',
        params: RuleParams,
        response: deleteResponses,
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      await deleteAlertRule(deps, ctx, ...where(req, ctx), req.params.name);
      return reply.code(204).send(null);
    },
  );
}
