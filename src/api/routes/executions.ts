import { z } from 'zod';
import { Execution } from '../../domain/resources.js';
import { EXECUTION_STATUSES } from '../../domain/task.js';
import {
  cancelExecution,
  executionLogText,
  getExecution,
  listExecutions,
  runTask,
  setScheduleSuspended,
  type TaskDeps,
} from '../../tasks/task-runs.js';
import { type Api, contextOf } from '../api.js';
import { Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';
import { platformOnly, sendTextStream } from './platform-only.js';

const tags = ['tasks'];

/** Task routes (§8): run, executions, logs, cancel, suspend/resume. */
export function executionRoutes(app: Api, tasks: TaskDeps | undefined): void {
  const need = platformOnly(tasks);
  const params = z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) });
  const idParams = z.object({ org: OrgParam, id: z.string().max(100) });

  app.post(
    '/orgs/:org/projects/:project/components/:component/executions',
    {
      schema: {
        tags,
        description:
          'Runs a task now in an environment where it is deployed; `args` are appended to the image’s entrypoint as an argv array (no shell). Answers at once with the running execution.',
        params,
        body: z.strictObject({
          environment: Name,
          args: z.array(z.string().max(4096)).max(100).optional(),
          trigger: z
            .enum(['manual', 'api'])
            .optional()
            .describe('manual: a person asked (CLI, console); api: a program did (default)'),
        }),
        response: { 202: Execution, ...problemResponses, 503: problemResponses[409] },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const run = await runTask(
        need(),
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
        req.body,
      );
      return reply.code(202).send(run);
    },
  );

  app.get(
    '/orgs/:org/projects/:project/components/:component/executions',
    {
      schema: {
        tags,
        description:
          'A task’s executions, newest first, with the number of executions per status in the last 30 days.',
        params,
        querystring: z.strictObject({
          environment: Name.optional(),
          status: z.string().max(20).optional().describe(EXECUTION_STATUSES.join(' | ')),
          since: z
            .string()
            .max(40)
            .optional()
            .describe('an ISO time or a duration back from now: 30m, 6h, 7d'),
          limit: z.coerce.number().int().min(1).max(500).optional(),
        }),
        response: {
          200: z.object({ items: z.array(Execution), last30Days: z.record(z.string(), z.number()) }),
          ...problemResponses,
        },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return listExecutions(
        need(),
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
        req.query,
      );
    },
  );

  app.get(
    '/orgs/:org/executions/:id',
    { schema: { tags, params: idParams, response: { 200: Execution, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return getExecution(need(), ctx, orgName(ctx, req.params.org), req.params.id);
    },
  );

  app.get(
    '/orgs/:org/executions/:id/logs',
    {
      schema: {
        tags,
        description:
          'The execution’s output as text (kept after the container is gone); with follow=1 the response streams until the run ends.',
        params: idParams,
        querystring: z.strictObject({ follow: z.enum(['0', '1', 'true', 'false']).optional() }),
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const follow = req.query.follow === '1' || req.query.follow === 'true';
      return sendTextStream(
        reply,
        executionLogText(need(), ctx, orgName(ctx, req.params.org), req.params.id, follow),
      );
    },
  );

  app.post(
    '/orgs/:org/executions/:id/cancel',
    {
      schema: {
        tags,
        description: 'Stops a running execution (SIGTERM, then SIGKILL after a grace period).',
        params: idParams,
        response: { 200: Execution, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return cancelExecution(need(), ctx, orgName(ctx, req.params.org), req.params.id);
    },
  );

  app.put(
    '/orgs/:org/projects/:project/components/:component/schedules/:environment',
    {
      schema: {
        tags,
        description:
          'Suspends or resumes a scheduled task in one environment. A resumed schedule goes on from now; runs due while suspended are not made up.',
        params: params.extend({ environment: Name }),
        body: z.strictObject({ suspended: z.boolean() }),
        response: {
          200: z.object({
            environment: z.string(),
            suspended: z.boolean(),
            cron: z.string(),
            timezone: z.string(),
            nextRunAt: z.string().nullable(),
          }),
          ...problemResponses,
        },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return setScheduleSuspended(
        need(),
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
        req.params.environment,
        req.body.suspended,
      );
    },
  );
}
