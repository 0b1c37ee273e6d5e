import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import { listComponentEvents } from '../../observability/component-events.js';
import { type Api, contextOf } from '../api.js';
import { Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

/** Deployment events and replica conditions of a component (§11, G3). */
export function componentEventRoutes(app: Api, deps: ControlDeps): void {
  app.get(
    '/orgs/:org/projects/:project/components/:component/events',
    {
      schema: {
        tags: ['observability'],
        description:
          'The component’s deployment events, newest first: rollout failures, liveness restarts, crashes (exit code and last log lines), crash loops and OOM kills of its replicas.',
        params: z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) }),
        querystring: z.strictObject({
          environment: Name.optional(),
          limit: z.coerce.number().int().min(1).max(500).optional(),
        }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                createdAt: z.string(),
                environment: z.string(),
                deployment: z.string(),
                kind: z.string(),
                message: z.string(),
              }),
            ),
          }),
          ...problemResponses,
        },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return listComponentEvents(
        deps,
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
        req.query,
      );
    },
  );
}
