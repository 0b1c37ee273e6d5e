import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import {
  createProject,
  deleteProject,
  getProject,
  listProjects,
  updateProject,
} from '../../control/projects.js';
import { Project } from '../../domain/resources.js';
import { type Api, contextOf } from '../api.js';
import {
  Description,
  DisplayName,
  deleteResponses,
  Name,
  OrgParam,
  PageQuery,
  pageOf,
  problemResponses,
  ResourceVersionInput,
} from '../schemas.js';
import { orgName } from './org-param.js';

const tags = ['projects'];
const fields = {
  displayName: DisplayName.optional(),
  description: Description.optional(),
  pipeline: Name.optional(),
};

export function projectRoutes(app: Api, deps: ControlDeps): void {
  const orgParams = z.object({ org: OrgParam });
  const params = z.object({ org: OrgParam, project: z.string().max(63) });

  app.get(
    '/orgs/:org/projects',
    {
      schema: {
        tags,
        params: orgParams,
        querystring: z.strictObject(PageQuery),
        response: { 200: pageOf(Project), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return listProjects(deps, ctx, orgName(ctx, req.params.org), req.query);
    },
  );

  app.post(
    '/orgs/:org/projects',
    {
      schema: {
        tags,
        params: orgParams,
        body: z.strictObject({ name: Name, ...fields }),
        response: { 201: Project, ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      return reply.code(201).send(await createProject(deps, ctx, orgName(ctx, req.params.org), req.body));
    },
  );

  app.get(
    '/orgs/:org/projects/:project',
    { schema: { tags, params, response: { 200: Project, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return getProject(deps, ctx, orgName(ctx, req.params.org), req.params.project);
    },
  );

  app.patch(
    '/orgs/:org/projects/:project',
    {
      schema: {
        tags,
        params,
        body: z.strictObject({ ...fields, resourceVersion: ResourceVersionInput }),
        response: { 200: Project, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return updateProject(deps, ctx, orgName(ctx, req.params.org), req.params.project, req.body);
    },
  );

  app.delete(
    '/orgs/:org/projects/:project',
    { schema: { tags, params, response: deleteResponses } },
    async (req, reply) => {
      const ctx = contextOf(req);
      await deleteProject(deps, ctx, orgName(ctx, req.params.org), req.params.project);
      return reply.code(204).send(null);
    },
  );
}
