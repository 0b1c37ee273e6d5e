import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import { componentInsights } from '../../observability/insights.js';
import { type Api, contextOf } from '../api.js';
import { Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const Seconds = z.number().nullable();

/** DORA figures of a component (G3) from Rondo's own deployments, releases and builds. */
export function insightRoutes(app: Api, deps: ControlDeps): void {
  app.get(
    '/orgs/:org/projects/:project/components/:component/insights',
    {
      schema: {
        tags: ['observability'],
        description:
          'DORA figures in one environment (default: the last of the project’s pipeline) since a time (default 30d): deployment frequency, lead time for change (commit → active), change failure rate (failed or rolled back), time to restore.',
        params: z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) }),
        querystring: z.strictObject({
          environment: Name.optional(),
          since: z.string().max(40).optional().describe('a duration back from now (7d, 30d) or an ISO time'),
        }),
        response: {
          200: z.object({
            component: z.string(),
            environment: z.string(),
            since: z.string(),
            until: z.string(),
            deploymentFrequency: z.object({
              deployments: z.number(),
              perDay: z.number(),
              perWeek: z.number(),
            }),
            leadTimeForChange: z.object({
              measured: z.number(),
              medianSeconds: Seconds,
              p95Seconds: Seconds,
            }),
            changeFailureRate: z.object({
              changes: z.number(),
              failed: z.number(),
              rolledBack: z.number(),
              rate: z.number().nullable(),
            }),
            timeToRestore: z.object({ failures: z.number(), restored: z.number(), medianSeconds: Seconds }),
          }),
          ...problemResponses,
        },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { project, component } = req.params;
      return componentInsights(deps, ctx, orgName(ctx, req.params.org), project, component, req.query);
    },
  );
}
