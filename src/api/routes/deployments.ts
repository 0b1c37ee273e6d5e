import { z } from 'zod';
import { componentStatus } from '../../deploy/component-status.js';
import {
  createDeployment,
  type DeployDeps,
  getDeployment,
  listDeployments,
} from '../../deploy/deployments.js';
import { promote, rollback } from '../../deploy/promotions.js';
import { ResourceLimits } from '../../domain/resource-limits.js';
import { ApprovalRequest, Deployment, EnvironmentStatus } from '../../domain/resources.js';
import { CONCURRENCY_POLICIES } from '../../domain/task.js';
import { type Api, contextOf } from '../api.js';
import { Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';
import { platformOnly } from './platform-only.js';

const tags = ['deployments'];

/** Deploy routes; without a data plane configured they answer 503 saying so. */
export function deploymentRoutes(app: Api, deploy: DeployDeps | undefined): void {
  const need = platformOnly(deploy);
  const params = z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) });

  app.post(
    '/orgs/:org/projects/:project/components/:component/deployments',
    {
      schema: {
        tags,
        description:
          'Deploys a build (or an image, or the pending configuration) to an environment as a new deployment of a release; the rollout runs in the background (poll the deployment or the component status).',
        params,
        body: z.strictObject({
          environment: Name,
          buildId: z
            .string()
            .max(100)
            .optional()
            .describe(
              'a succeeded build of this component; default: what runs there now, else the newest build',
            ),
          image: z
            .string()
            .max(512)
            .optional()
            .describe('default: the image of a bring-your-own-image component'),
          replicas: z.number().int().min(0).max(20).optional().describe('default 1'),
          resources: ResourceLimits.optional().describe(
            'limits per replica or task run; default: what the environment runs now (none: unlimited)',
          ),
          cron: z
            .string()
            .max(200)
            .optional()
            .describe(
              'scheduled tasks: 5-field cron expression; default: the environment’s current schedule',
            ),
          timezone: z.string().max(64).optional().describe('scheduled tasks: IANA time zone (default UTC)'),
          concurrencyPolicy: z
            .enum(CONCURRENCY_POLICIES)
            .optional()
            .describe('tasks: forbid (default) | allow | replace'),
          timeoutSeconds: z.number().int().min(1).max(86_400).optional().describe('tasks: default 300'),
          startingDeadlineSeconds: z
            .number()
            .int()
            .min(0)
            .max(86_400)
            .optional()
            .describe('scheduled tasks: how late a run missed during downtime may still start (default 300)'),
        }),
        response: { 202: Deployment, ...problemResponses, 503: problemResponses[409] },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const d = need();
      const { cron, timezone, concurrencyPolicy, timeoutSeconds, startingDeadlineSeconds, ...rest } =
        req.body;
      const task = { cron, timezone, concurrencyPolicy, timeoutSeconds, startingDeadlineSeconds };
      const created = await createDeployment(
        d,
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
        { ...rest, task },
      );
      return reply.code(202).send(created);
    },
  );

  app.post(
    '/orgs/:org/projects/:project/components/:component/promotions',
    {
      schema: {
        tags,
        description:
          'Promotes the release active in `from` to `to` (default: the next environment of the pipeline) with the target’s configuration. Into an environment with an approval policy, records an approval request instead.',
        params,
        body: z.strictObject({
          from: Name.optional(),
          to: Name.optional(),
          force: z.boolean().optional().describe('admins: promote out of pipeline order'),
          comment: z.string().max(2000).optional(),
        }),
        response: {
          202: z.object({ deployment: Deployment.optional(), approvalRequest: ApprovalRequest.optional() }),
          ...problemResponses,
        },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      return reply
        .code(202)
        .send(await promote(need(), ctx, orgName(ctx, org), project, component, req.body));
    },
  );

  app.post(
    '/orgs/:org/projects/:project/components/:component/rollbacks',
    {
      schema: {
        tags,
        description:
          'Makes an earlier deployment (exact image digest and configuration revision) active again; default: the one active before.',
        params,
        body: z.strictObject({
          environment: Name,
          to: z.string().max(100).optional().describe('a deployment id or name'),
        }),
        response: { 202: Deployment, ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      return reply
        .code(202)
        .send(await rollback(need(), ctx, orgName(ctx, org), project, component, req.body));
    },
  );

  app.post(
    '/orgs/:org/projects/:project/components/:component/redeployments',
    {
      schema: {
        tags,
        description: 'The active release and configuration again, on fresh replicas (a rolling restart).',
        params,
        body: z.strictObject({ environment: Name }),
        response: { 202: Deployment, ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      return reply.code(202).send(
        await rollback(need(), ctx, orgName(ctx, org), project, component, {
          environment: req.body.environment,
          redeploy: true,
        }),
      );
    },
  );

  app.get(
    '/orgs/:org/projects/:project/components/:component/deployments',
    {
      schema: {
        tags,
        params,
        querystring: z.strictObject({
          environment: z.string().max(63).optional(),
          limit: z.coerce.number().int().min(1).max(200).optional(),
        }),
        response: { 200: z.object({ items: z.array(Deployment) }), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return {
        items: await listDeployments(
          need(),
          ctx,
          orgName(ctx, req.params.org),
          req.params.project,
          req.params.component,
          req.query,
        ),
      };
    },
  );

  app.get(
    '/orgs/:org/deployments/:id',
    {
      schema: {
        tags,
        params: z.object({ org: OrgParam, id: z.string().max(100) }),
        response: { 200: Deployment, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return getDeployment(need(), ctx, orgName(ctx, req.params.org), req.params.id);
    },
  );

  app.get(
    '/orgs/:org/projects/:project/components/:component/status',
    {
      schema: {
        tags,
        description:
          'Per environment (pipeline order): the active and latest deployment, replicas and endpoint URLs.',
        params,
        response: { 200: z.object({ items: z.array(EnvironmentStatus) }), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return {
        items: await componentStatus(
          need(),
          ctx,
          orgName(ctx, req.params.org),
          req.params.project,
          req.params.component,
        ),
      };
    },
  );
}
