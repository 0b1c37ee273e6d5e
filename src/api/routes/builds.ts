import { z } from 'zod';
import {
  type BuildUseDeps,
  buildLog,
  cancelBuild,
  createBuild,
  getBuild,
  listBuilds,
} from '../../builds/builds.js';
import { type Api, contextOf } from '../api.js';
import { OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';
import { platformOnly, sendTextStream } from './platform-only.js';

const tags = ['builds'];
const Step = z.object({
  name: z.string(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'skipped']),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  log: z.string(),
});
const Build = z.object({
  id: z.string(),
  project: z.string(),
  component: z.string(),
  commit: z.string().nullable(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'replaced', 'collected']),
  image: z.string().nullable(),
  reason: z.string().nullable(),
  steps: z.array(Step),
  createdBy: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

/** Build routes (F3, dockerfile preset for now); 503 without a data plane to build with. */
export function buildRoutes(app: Api, deps: BuildUseDeps | undefined): void {
  const need = platformOnly(deps, 'a data plane to build with');
  const params = z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) });

  app.post(
    '/orgs/:org/projects/:project/components/:component/builds',
    {
      schema: {
        tags,
        description:
          'Builds one commit (default: the head of the component branch). A commit already built with the same settings is returned with reused: true (200) unless force.',
        params,
        body: z.strictObject({
          commit: z.string().max(40).optional(),
          branch: z.string().max(255).optional(),
          force: z.boolean().optional(),
        }),
        response: {
          200: z.object({ build: Build, reused: z.boolean() }),
          202: z.object({ build: Build, reused: z.boolean() }),
          ...problemResponses,
        },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const result = await createBuild(
        need(),
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
        req.body,
      );
      return reply.code(result.reused ? 200 : 202).send(result);
    },
  );

  app.get(
    '/orgs/:org/projects/:project/components/:component/builds',
    { schema: { tags, params, response: { 200: z.object({ items: z.array(Build) }), ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return {
        items: await listBuilds(
          need(),
          ctx,
          orgName(ctx, req.params.org),
          req.params.project,
          req.params.component,
        ),
      };
    },
  );

  app.get(
    '/orgs/:org/builds/:id',
    {
      schema: {
        tags,
        params: z.object({ org: OrgParam, id: z.string().max(100) }),
        response: { 200: Build, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return getBuild(need(), ctx, orgName(ctx, req.params.org), req.params.id);
    },
  );

  const idParams = z.object({ org: OrgParam, id: z.string().max(100) });
  app.post(
    '/orgs/:org/builds/:id/cancel',
    { schema: { tags, params: idParams, response: { 200: Build, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return cancelBuild(need(), ctx, orgName(ctx, req.params.org), req.params.id);
    },
  );

  app.get(
    '/orgs/:org/builds/:id/logs',
    {
      schema: {
        tags,
        description:
          'The build log as text, step by step; with follow=1 the response streams (chunked) until the build ends.',
        params: idParams,
        querystring: z.strictObject({ follow: z.enum(['0', '1', 'true', 'false']).optional() }),
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const follow = req.query.follow === '1' || req.query.follow === 'true';
      return sendTextStream(
        reply,
        buildLog(need(), ctx, orgName(ctx, req.params.org), req.params.id, follow),
      );
    },
  );
}
