import { z } from 'zod';
import { listSchedules } from '../../tasks/schedule-states.js';
import type { TaskDeps } from '../../tasks/task-runs.js';
import { type Api, contextOf } from '../api.js';
import { OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';
import { platformOnly } from './platform-only.js';

const Schedule = z.object({
  environment: z.string(),
  cron: z.string(),
  timezone: z.string(),
  suspended: z.boolean(),
  nextRunAt: z.string().nullable(),
});

/** A scheduled task's schedules per environment (read; PUT …/schedules/{environment} suspends). */
export function scheduleRoutes(app: Api, tasks: TaskDeps | undefined): void {
  const need = platformOnly(tasks);
  app.get(
    '/orgs/:org/projects/:project/components/:component/schedules',
    {
      schema: {
        tags: ['tasks'],
        description:
          'Where a scheduled task is deployed: its cron and time zone, whether it is suspended, and its next due time. Empty for other component types.',
        params: z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) }),
        querystring: z.strictObject({}),
        response: { 200: z.object({ items: z.array(Schedule) }), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { project, component } = req.params;
      return { items: await listSchedules(need(), ctx, orgName(ctx, req.params.org), project, component) };
    },
  );
}
