import { z } from 'zod';
import {
  createComponent,
  deleteComponent,
  getComponent,
  listComponents,
  setEndpoints,
  updateComponent,
} from '../../control/components.js';
import type { ControlDeps } from '../../control/context.js';
import { BUILD_PRESETS } from '../../domain/component.js';
import { ENDPOINT_TYPES, VISIBILITIES } from '../../domain/endpoint.js';
import { Component } from '../../domain/resources.js';
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

const tags = ['components'];

// Deep checks (URL schemes, `..`, presets) happen in the domain so the CLI and API say the same thing.
const Source = z.strictObject({
  repoUrl: z
    .string()
    .max(2048)
    .optional()
    .describe('https://, http://, ssh://, git://, file:// or user@host:path'),
  branch: z.string().max(255).optional().describe('default main'),
  path: z.string().max(1024).optional().describe('component directory inside the repository; default "."'),
  image: z
    .string()
    .max(512)
    .optional()
    .describe('bring your own image: an image reference instead of a repository'),
});
const BuildConfigs = z
  .record(z.string().max(64), z.string().max(1000))
  .refine((r) => Object.keys(r).length <= 32, 'at most 32 build configs');
const EndpointBody = z.strictObject({
  name: Name.optional().describe('default: the type in lower case, e.g. rest'),
  port: z.number().int().min(1).max(65535),
  type: z.enum(ENDPOINT_TYPES).optional().describe('default REST'),
  basePath: z.string().max(200).optional().describe('path on the service the gateway forwards to; default /'),
  visibility: z.array(z.enum(VISIBILITIES)).min(1).max(3).optional().describe('default [Public]'),
});
const Endpoints = z.array(EndpointBody).max(20);
const mutable = {
  displayName: DisplayName.optional(),
  description: Description.optional(),
  buildPreset: z.enum(BUILD_PRESETS).nullable().optional(),
  buildConfigs: BuildConfigs.optional(),
  autoBuild: z.boolean().optional(),
  autoDeploy: z.boolean().optional(),
  watchPaths: z.array(z.string().min(1).max(255)).max(20).optional(),
  buildTags: z.boolean().optional(),
};

export function componentRoutes(app: Api, deps: ControlDeps): void {
  const orgParams = z.object({ org: OrgParam });
  const projectParams = z.object({ org: OrgParam, project: z.string().max(63) });
  const params = z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) });
  const filters = { type: z.string().max(32).optional() };

  app.get(
    '/orgs/:org/components',
    {
      schema: {
        tags,
        description: 'Components of every project of the organization, ordered by project then name.',
        params: orgParams,
        querystring: z.strictObject({ ...PageQuery, ...filters, project: z.string().max(63).optional() }),
        response: { 200: pageOf(Component), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return listComponents(deps, ctx, orgName(ctx, req.params.org), req.query);
    },
  );

  app.get(
    '/orgs/:org/projects/:project/components',
    {
      schema: {
        tags,
        params: projectParams,
        querystring: z.strictObject({ ...PageQuery, ...filters }),
        response: { 200: pageOf(Component), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return listComponents(deps, ctx, orgName(ctx, req.params.org), {
        ...req.query,
        project: req.params.project,
      });
    },
  );

  app.post(
    '/orgs/:org/projects/:project/components',
    {
      schema: {
        tags,
        params: projectParams,
        body: z.strictObject({
          name: Name,
          type: z.string().max(32).describe('service | web-app | scheduled-task | manual-task | webhook'),
          source: Source,
          endpoints: Endpoints.optional().describe('for image components, which have no descriptor'),
          ...mutable,
        }),
        response: { 201: Component, ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const created = await createComponent(
        deps,
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.body,
      );
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/orgs/:org/projects/:project/components/:component',
    { schema: { tags, params, response: { 200: Component, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return getComponent(deps, ctx, orgName(ctx, req.params.org), req.params.project, req.params.component);
    },
  );

  app.patch(
    '/orgs/:org/projects/:project/components/:component',
    {
      schema: {
        tags,
        params,
        body: z.strictObject({
          source: Source.optional(),
          ...mutable,
          resourceVersion: ResourceVersionInput,
        }),
        response: { 200: Component, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return updateComponent(
        deps,
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
        req.body,
      );
    },
  );

  app.delete(
    '/orgs/:org/projects/:project/components/:component',
    { schema: { tags, params, response: deleteResponses } },
    async (req, reply) => {
      const ctx = contextOf(req);
      await deleteComponent(
        deps,
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
      );
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/orgs/:org/projects/:project/components/:component/endpoints',
    {
      schema: {
        tags,
        params,
        body: z.strictObject({ endpoints: Endpoints }),
        response: { 200: Component, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return setEndpoints(
        deps,
        ctx,
        orgName(ctx, req.params.org),
        req.params.project,
        req.params.component,
        req.body.endpoints,
      );
    },
  );
}
