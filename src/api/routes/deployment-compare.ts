import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import { compareDeployments } from '../../deploy/deployment-compare.js';
import { Deployment } from '../../domain/resources.js';
import { type Api, contextOf } from '../api.js';
import { OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const Keys = z.array(z.string());

/** Two deployments of a component side by side (the console's deployment history). */
export function deploymentCompareRoutes(app: Api, deps: ControlDeps): void {
  app.get(
    '/orgs/:org/deployments/:id/compare',
    {
      schema: {
        tags: ['deployments'],
        description:
          'What changed from this deployment to another of the same component (`with`): release, image, commit, replicas, endpoints, the frozen configuration’s keys (added, changed, removed; never values), and the release descriptor (declared configurations).',
        params: z.object({ org: OrgParam, id: z.string().max(100) }),
        querystring: z.strictObject({ with: z.string().min(1).max(100) }),
        response: {
          200: z.object({
            from: Deployment,
            to: Deployment,
            release: z.boolean(),
            image: z.boolean(),
            commit: z.boolean(),
            replicas: z.boolean(),
            resources: z.boolean().describe('memory or CPU limits differ'),
            endpoints: z.boolean(),
            config: z.object({ added: Keys, changed: Keys, removed: Keys }),
            descriptor: z
              .object({ changed: z.boolean(), declaredAdded: Keys, declaredRemoved: Keys })
              .describe('the release descriptor: whether it differs, and the configurations it declares'),
          }),
          ...problemResponses,
        },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return compareDeployments(deps, ctx, orgName(ctx, req.params.org), req.params.id, req.query.with);
    },
  );
}
