import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { followGatewayLogs, queryGatewayLogs } from '../../observability/gateway-logs.js';
import { LOG_LEVELS } from '../../observability/log-levels.js';
import {
  followRuntimeLogs,
  queryRuntimeLogs,
  type RuntimeLogDeps,
} from '../../observability/runtime-logs.js';
import { type Api, contextOf } from '../api.js';
import { Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';
import { platformOnly } from './platform-only.js';

const tags = ['observability'];

const RuntimeLogLine = z.object({
  timestamp: z.string(),
  stream: z.enum(['stdout', 'stderr']),
  level: z.enum(LOG_LEVELS).nullable(),
  message: z.string(),
  replica: z.string(),
  deployment: z.string(),
  release: z.string(),
});

const GatewayLogLine = z.object({
  timestamp: z.string(),
  method: z.string(),
  path: z.string(),
  status: z.number().int(),
  outcome: z.string().describe('the gateway outcome code: BACKEND_RESPONSE, NO_HEALTHY_BACKEND, …'),
  durationMs: z.number(),
  bytes: z.number().int(),
  requestId: z.string(),
  deployment: z.string().nullable(),
  release: z.string().nullable(),
});

/** Runtime logs (§11, G3): what a component's replicas printed, per environment. */
export function runtimeLogRoutes(app: Api, logs: RuntimeLogDeps | undefined): void {
  const need = platformOnly(logs);
  app.get(
    '/orgs/:org/projects/:project/components/:component/logs',
    {
      schema: {
        tags,
        description:
          'What the component’s replicas printed in one environment, kept after their containers are gone. A page holds the newest lines of the range (direction=backward, the default) or the oldest (forward), oldest first; nextCursor leads on. With follow=1 the answer is a stream of JSON lines (application/x-ndjson): the newest lines, then new ones as they are stored. Task executions keep their own logs (GET /orgs/{org}/executions/{id}/logs). type=gateway answers the gateway’s access log of the component instead (method, path, status, outcome, duration, bytes, request id), with the same paging, times, grep and follow.',
        params: z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) }),
        querystring: z.strictObject({
          environment: Name,
          type: z.enum(['application', 'gateway']).optional().describe('application (default) or gateway'),
          since: z
            .string()
            .max(40)
            .optional()
            .describe('an ISO time or a duration back from now: 30m, 6h, 7d'),
          until: z.string().max(40).optional().describe('an ISO time or a duration back from now'),
          replica: z.string().max(10).optional(),
          deployment: z.string().max(100).optional().describe('a deployment name, or a release name'),
          level: z
            .string()
            .max(40)
            .optional()
            .describe(`${LOG_LEVELS.join(' | ')}, several comma-separated`),
          grep: z.string().min(1).max(200).optional().describe('text the line contains (any case)'),
          limit: z.coerce.number().int().min(1).max(5000).optional(),
          cursor: z.string().max(200).optional(),
          direction: z.enum(['forward', 'backward']).optional(),
          follow: z.enum(['0', '1', 'true', 'false']).optional(),
        }),
        response: {
          200: z.object({
            items: z.array(z.union([RuntimeLogLine, GatewayLogLine])),
            nextCursor: z.string().nullable(),
          }),
          ...problemResponses,
        },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const { follow, type, ...filter } = req.query;
      const org = orgName(ctx, req.params.org);
      const { project, component } = req.params;
      const gateway = type === 'gateway';
      if (follow !== '1' && follow !== 'true')
        return (gateway ? queryGatewayLogs : queryRuntimeLogs)(need(), ctx, org, project, component, filter);
      const stop = new AbortController();
      reply.raw.on('close', () => stop.abort());
      const lines = (gateway ? followGatewayLogs : followRuntimeLogs)(
        need(),
        ctx,
        org,
        project,
        component,
        filter,
        stop.signal,
      );
      // The first chunk is read before answering: bad input or an unknown component still gets its status.
      const first = await lines.next();
      async function* rest() {
        if (!first.done) yield first.value;
        yield* lines;
      }
      // A stream is sent as it is (the 200 schema describes the JSON page, not the stream).
      const raw = reply as unknown as FastifyReply;
      return raw.type('application/x-ndjson; charset=utf-8').send(Readable.from(rest()));
    },
  );
}
