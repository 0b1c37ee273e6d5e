import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import { organizationHealth } from '../../deploy/org-health.js';
import { type Api, contextOf } from '../api.js';
import { OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const Counts = z.object({
  active: z.number().describe('newest deployment active'),
  deploying: z.number().describe('newest deployment pending or rolling out'),
  failed: z.number().describe('newest rollout failed (an older release may still serve)'),
  notDeployed: z.number(),
});

/** The organization page's overview (G4): each project's components by state, per environment. */
export function healthRoutes(app: Api, deps: ControlDeps): void {
  app.get(
    '/orgs/:org/health',
    {
      schema: {
        tags: ['deployments'],
        description:
          'Per project and environment, how many components are active, being deployed, failed their newest rollout, or not deployed (from Rondo’s records; replica states are on each component’s status).',
        params: z.object({ org: OrgParam }),
        querystring: z.strictObject({}),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                project: z.string(),
                components: z.number(),
                environments: z.array(z.object({ environment: z.string(), counts: Counts })),
              }),
            ),
          }),
          ...problemResponses,
        },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return { items: await organizationHealth(deps, ctx, orgName(ctx, req.params.org)) };
    },
  );
}
