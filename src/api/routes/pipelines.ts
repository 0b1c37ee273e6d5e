import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import {
  createPipeline,
  deletePipeline,
  getPipeline,
  listPipelines,
  updatePipeline,
} from '../../control/pipelines.js';
import { Pipeline } from '../../domain/resources.js';
import { type Api, contextOf } from '../api.js';
import {
  deleteResponses,
  Name,
  OrgParam,
  PageQuery,
  pageOf,
  problemResponses,
  ResourceVersionInput,
} from '../schemas.js';
import { orgName } from './org-param.js';

const tags = ['pipelines'];
const Environments = z.array(Name).max(20).describe('Environment names in promotion order');

export function pipelineRoutes(app: Api, deps: ControlDeps): void {
  const orgParams = z.object({ org: OrgParam });
  const params = z.object({ org: OrgParam, pipeline: z.string().max(63) });

  app.get(
    '/orgs/:org/pipelines',
    {
      schema: {
        tags,
        params: orgParams,
        querystring: z.strictObject(PageQuery),
        response: { 200: pageOf(Pipeline), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return listPipelines(deps, ctx, orgName(ctx, req.params.org), req.query);
    },
  );

  app.post(
    '/orgs/:org/pipelines',
    {
      schema: {
        tags,
        params: orgParams,
        body: z.strictObject({ name: Name, environments: Environments, isDefault: z.boolean().optional() }),
        response: { 201: Pipeline, ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      return reply.code(201).send(await createPipeline(deps, ctx, orgName(ctx, req.params.org), req.body));
    },
  );

  app.get(
    '/orgs/:org/pipelines/:pipeline',
    { schema: { tags, params, response: { 200: Pipeline, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return getPipeline(deps, ctx, orgName(ctx, req.params.org), req.params.pipeline);
    },
  );

  app.patch(
    '/orgs/:org/pipelines/:pipeline',
    {
      schema: {
        tags,
        params,
        body: z.strictObject({
          environments: Environments.optional(),
          isDefault: z.boolean().optional(),
          resourceVersion: ResourceVersionInput,
        }),
        response: { 200: Pipeline, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return updatePipeline(deps, ctx, orgName(ctx, req.params.org), req.params.pipeline, req.body);
    },
  );

  app.delete(
    '/orgs/:org/pipelines/:pipeline',
    { schema: { tags, params, response: deleteResponses } },
    async (req, reply) => {
      const ctx = contextOf(req);
      await deletePipeline(deps, ctx, orgName(ctx, req.params.org), req.params.pipeline);
      return reply.code(204).send(null);
    },
  );
}
