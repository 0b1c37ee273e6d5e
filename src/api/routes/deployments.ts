import { z } from 'zod';
import {
  componentStatus,
  createDeployment,
  type DeployDeps,
  getDeployment,
  listDeployments,
} from '../../deploy/deployments.js';
import { RondoError } from '../../domain/errors.js';
import { Deployment, EnvironmentStatus } from '../../domain/resources.js';
import { type Api, contextOf } from '../app.js';
import { Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const tags = ['deployments'];

/** Deploy routes; without a data plane configured they answer 503 saying so. */
export function deploymentRoutes(app: Api, deploy: DeployDeps | undefined): void {
  const need = (): DeployDeps => {
    if (!deploy)
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        'this control plane runs without a data plane; start it with `rondo up`',
      );
    return deploy;
  };
  const params = z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) });

  app.post(
    '/orgs/:org/projects/:project/components/:component/deployments',
    {
      schema: {
        tags,
        description:
          'Deploys an image to an environment; the rollout runs in the background (poll the deployment or the component status).',
        params,
        body: z.strictObject({
          environment: Name,
          image: z
            .string()
            .max(512)
            .optional()
            .describe('default: the image of a bring-your-own-image component'),
          replicas: z.number().int().min(0).max(20).optional().describe('default 1'),
        }),
        response: { 202: Deployment, ...problemResponses, 503: problemResponses[409] },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const d = need();
      const created = await createDeployment(
        d,
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
        req.body,
      );
      return reply.code(202).send(created);
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
