import { z } from 'zod';
import { type ConfigDeps, changeConfig, listConfig } from '../../configuration/config-entries.js';
import { setSourceToken } from '../../configuration/source-token.js';
import { type Api, contextOf } from '../api.js';
import { OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const tags = ['configuration'];

const ConfigScope = z.object({
  scope: z.string().describe('`component` (every environment), `build`, or an environment name'),
  revision: z
    .number()
    .int()
    .describe('send it back with a change to refuse it if someone changed the scope meanwhile'),
  items: z.array(
    z.object({
      key: z.string(),
      kind: z.enum(['env', 'file']),
      secret: z.boolean(),
      version: z.number().int(),
      value: z.string().optional().describe('non-secret values only: secrets are write-only'),
      encoding: z.enum(['utf8', 'base64']).optional(),
      updatedBy: z.string(),
      updatedAt: z.string(),
    }),
  ),
});

/** Configuration and secrets of a component (§5): env vars and file mounts, per scope. */
export function configurationRoutes(app: Api, deps: ConfigDeps): void {
  const params = z.object({ org: OrgParam, project: z.string().max(63), component: z.string().max(63) });

  app.get(
    '/orgs/:org/projects/:project/components/:component/config',
    {
      schema: {
        tags,
        description: 'The draft configuration of one scope; secret values are never returned.',
        params,
        querystring: z.strictObject({
          environment: z.string().max(63).optional().describe('default: the component scope'),
          build: z
            .enum(['true', 'false'])
            .optional()
            .describe('the build scope (build arguments and secrets)'),
        }),
        response: { 200: ConfigScope, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      return listConfig(
        deps,
        ctx,
        orgName(ctx, org),
        project,
        component,
        req.query.environment,
        req.query.build === 'true',
      );
    },
  );

  app.put(
    '/orgs/:org/projects/:project/components/:component/source-token',
    {
      schema: {
        tags,
        description:
          'Stores the credential of the component’s private repository, encrypted: an access token, which builds send to that host only (HTTP basic auth, user x-access-token), or an SSH private key for ssh URLs (a deploy key). Never returned.',
        params,
        body: z.strictObject({ token: z.string().min(1).max(16384) }),
        response: { 204: z.null().describe('stored'), ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      await setSourceToken(deps, ctx, orgName(ctx, org), project, component, req.body.token);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/orgs/:org/projects/:project/components/:component/source-token',
    { schema: { tags, params, response: { 204: z.null().describe('removed'), ...problemResponses } } },
    async (req, reply) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      await setSourceToken(deps, ctx, orgName(ctx, org), project, component, null);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/orgs/:org/projects/:project/components/:component/config',
    {
      schema: {
        tags,
        description:
          'Sets and unsets keys of one scope at once. Keys are env var names or absolute file paths; values are encrypted at rest and take effect at the next deployment.',
        params,
        body: z.strictObject({
          environment: z.string().max(63).optional(),
          build: z
            .boolean()
            .optional()
            .describe('the build scope: env vars become build arguments, secrets BuildKit secrets'),
          revision: z.number().int().min(0).optional(),
          set: z
            .array(
              z.strictObject({
                key: z.string().max(1024),
                value: z.string().max(2 * 1024 * 1024),
                secret: z.boolean().optional(),
                encoding: z.enum(['utf8', 'base64']).optional(),
              }),
            )
            .max(200)
            .optional(),
          unset: z.array(z.string().max(1024)).max(200).optional(),
        }),
        response: { 200: ConfigScope, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { org, project, component } = req.params;
      return changeConfig(deps, ctx, orgName(ctx, org), project, component, req.body);
    },
  );
}
