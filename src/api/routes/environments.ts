import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import {
  createEnvironment,
  deleteEnvironment,
  getEnvironment,
  listEnvironments,
  setApprovalPolicy,
  updateEnvironment,
} from '../../control/environments.js';
import { Environment } from '../../domain/resources.js';
import { type Api, contextOf } from '../api.js';
import {
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

const tags = ['environments'];
const ApprovalPolicyBody = z.strictObject({
  users: z.array(z.string().max(100)).max(50).optional(),
  roles: z.array(z.string().max(20)).max(3).optional(),
  required: z.number().int().min(1).max(10),
});
const fields = {
  displayName: DisplayName.optional(),
  production: z.boolean().optional(),
  dataPlane: Name.optional(),
  approvalPolicy: ApprovalPolicyBody.nullable()
    .optional()
    .describe('who must approve promotions into it, set in the same change as the rest; null removes it'),
};

export function environmentRoutes(app: Api, deps: ControlDeps): void {
  const orgParams = z.object({ org: OrgParam });
  const envParams = z.object({ org: OrgParam, env: z.string().max(63) });

  app.get(
    '/orgs/:org/environments',
    {
      schema: {
        tags,
        params: orgParams,
        querystring: z.strictObject({ ...PageQuery, production: z.enum(['true', 'false']).optional() }),
        response: { 200: pageOf(Environment), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { production, ...page } = req.query;
      return listEnvironments(deps, ctx, orgName(ctx, req.params.org), {
        ...page,
        ...(production === undefined ? {} : { production: production === 'true' }),
      });
    },
  );

  app.post(
    '/orgs/:org/environments',
    {
      schema: {
        tags,
        params: orgParams,
        body: z.strictObject({ name: Name, ...fields }),
        response: { 201: Environment, ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      return reply.code(201).send(await createEnvironment(deps, ctx, orgName(ctx, req.params.org), req.body));
    },
  );

  app.get(
    '/orgs/:org/environments/:env',
    { schema: { tags, params: envParams, response: { 200: Environment, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return getEnvironment(deps, ctx, orgName(ctx, req.params.org), req.params.env);
    },
  );

  app.patch(
    '/orgs/:org/environments/:env',
    {
      schema: {
        tags,
        params: envParams,
        body: z.strictObject({ ...fields, resourceVersion: ResourceVersionInput }),
        response: { 200: Environment, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return updateEnvironment(deps, ctx, orgName(ctx, req.params.org), req.params.env, req.body);
    },
  );

  app.delete(
    '/orgs/:org/environments/:env',
    { schema: { tags, params: envParams, response: deleteResponses } },
    async (req, reply) => {
      const ctx = contextOf(req);
      await deleteEnvironment(deps, ctx, orgName(ctx, req.params.org), req.params.env);
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/orgs/:org/environments/:env/approval-policy',
    {
      schema: {
        tags,
        description:
          'Promotions into this environment need `required` approvals from the named users or members with the named roles (§6.5).',
        params: envParams,
        body: ApprovalPolicyBody,
        response: { 200: Environment, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return setApprovalPolicy(deps, ctx, orgName(ctx, req.params.org), req.params.env, req.body);
    },
  );

  app.delete(
    '/orgs/:org/environments/:env/approval-policy',
    { schema: { tags, params: envParams, response: { 200: Environment, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return setApprovalPolicy(deps, ctx, orgName(ctx, req.params.org), req.params.env, null);
    },
  );
}
