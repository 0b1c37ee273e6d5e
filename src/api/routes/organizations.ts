import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import {
  createOrganization,
  deleteOrganization,
  getOrganization,
  listOrganizations,
  updateOrganization,
} from '../../control/organizations.js';
import { Organization } from '../../domain/resources.js';
import { type Api, contextOf } from '../api.js';
import { DisplayName, deleteResponses, Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const tags = ['organizations'];

export function organizationRoutes(app: Api, deps: ControlDeps): void {
  app.get(
    '/orgs',
    { schema: { tags, response: { 200: z.object({ items: z.array(Organization) }) } } },
    async (req) => ({
      items: await listOrganizations(deps, contextOf(req)),
    }),
  );

  app.post(
    '/orgs',
    {
      schema: {
        tags,
        description:
          'Creates an organization with environments development and production and a default pipeline. Platform admins only.',
        body: z.strictObject({ name: Name, displayName: DisplayName.optional() }),
        response: { 201: Organization, ...problemResponses },
      },
    },
    async (req, reply) => reply.code(201).send(await createOrganization(deps, contextOf(req), req.body)),
  );

  const params = z.object({ org: OrgParam });
  app.get(
    '/orgs/:org',
    { schema: { tags, params, response: { 200: Organization, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return getOrganization(deps, ctx, orgName(ctx, req.params.org));
    },
  );

  app.patch(
    '/orgs/:org',
    {
      schema: {
        tags,
        params,
        body: z.strictObject({ displayName: DisplayName.optional() }),
        response: { 200: Organization, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return updateOrganization(deps, ctx, orgName(ctx, req.params.org), req.body);
    },
  );

  app.delete('/orgs/:org', { schema: { tags, params, response: deleteResponses } }, async (req, reply) => {
    const ctx = contextOf(req);
    await deleteOrganization(deps, ctx, orgName(ctx, req.params.org));
    return reply.code(204).send(null);
  });
}
