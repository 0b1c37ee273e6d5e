import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import {
  createUser,
  listMembers,
  listUsers,
  removeMember,
  setMember,
  whoAmI,
} from '../../control/members.js';
import { createToken, listTokens, revokeToken } from '../../control/tokens.js';
import { ROLES, TOKEN_SCOPES } from '../../domain/access.js';
import { AccessToken, Member, User } from '../../domain/resources.js';
import { type Api, contextOf } from '../api.js';
import { DisplayName, deleteResponses, Name, OrgParam, problemResponses, TokenName } from '../schemas.js';
import { orgName } from './org-param.js';

const TokenBody = z.strictObject({
  name: TokenName,
  scopes: z.array(z.enum(TOKEN_SCOPES)).min(1).optional().describe('default [read, write]'),
  expiresInDays: z.number().int().min(1).max(3650).optional().describe('default: never expires'),
});
const CreatedToken = z.object({ token: z.string().describe('shown once; store it now'), info: AccessToken });

/** An answer carrying a secret shown once: no cache (browser, proxy) may keep a copy. */
function shownOnce<R extends { header(name: string, value: string): R }>(reply: R): R {
  return reply.header('cache-control', 'no-store');
}

export function identityRoutes(app: Api, deps: ControlDeps): void {
  app.get(
    '/me',
    {
      schema: {
        tags: ['identity'],
        response: {
          200: User.extend({
            organizations: z.array(z.object({ name: z.string(), role: z.enum(ROLES) })),
            scopes: z.array(z.enum(TOKEN_SCOPES)),
          }),
        },
      },
    },
    async (req) => whoAmI(deps, contextOf(req)),
  );

  app.get(
    '/users',
    {
      schema: {
        tags: ['identity'],
        response: { 200: z.object({ items: z.array(User) }), ...problemResponses },
      },
    },
    async (req) => ({
      items: await listUsers(deps, contextOf(req)),
    }),
  );

  app.post(
    '/users',
    {
      schema: {
        tags: ['identity'],
        body: z.strictObject({
          name: Name,
          displayName: DisplayName.optional(),
          platformAdmin: z.boolean().optional(),
        }),
        response: { 201: User, ...problemResponses },
      },
    },
    async (req, reply) => reply.code(201).send(await createUser(deps, contextOf(req), req.body)),
  );

  app.post(
    '/users/:user/tokens',
    {
      schema: {
        tags: ['identity'],
        params: z.object({ user: Name }),
        body: TokenBody,
        response: { 201: CreatedToken, ...problemResponses },
      },
    },
    async (req, reply) =>
      shownOnce(reply)
        .code(201)
        .send(await createToken(deps, contextOf(req), { ...req.body, user: req.params.user })),
  );

  app.get(
    '/tokens',
    { schema: { tags: ['identity'], response: { 200: z.object({ items: z.array(AccessToken) }) } } },
    async (req) => ({
      items: await listTokens(deps, contextOf(req)),
    }),
  );

  app.post(
    '/tokens',
    { schema: { tags: ['identity'], body: TokenBody, response: { 201: CreatedToken, ...problemResponses } } },
    async (req, reply) =>
      shownOnce(reply)
        .code(201)
        .send(await createToken(deps, contextOf(req), req.body)),
  );

  app.delete(
    '/tokens/:id',
    {
      schema: {
        tags: ['identity'],
        params: z.object({ id: z.string().max(100) }),
        response: deleteResponses,
      },
    },
    async (req, reply) => {
      await revokeToken(deps, contextOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );

  const orgParams = z.object({ org: OrgParam });
  const memberParams = z.object({ org: OrgParam, user: z.string().max(63) });
  app.get(
    '/orgs/:org/members',
    {
      schema: {
        tags: ['identity'],
        params: orgParams,
        response: { 200: z.object({ items: z.array(Member) }), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return { items: await listMembers(deps, ctx, orgName(ctx, req.params.org)) };
    },
  );

  app.put(
    '/orgs/:org/members/:user',
    {
      schema: {
        tags: ['identity'],
        params: memberParams,
        body: z.strictObject({ role: z.enum(ROLES) }),
        response: { 200: Member, ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return setMember(deps, ctx, orgName(ctx, req.params.org), req.params.user, req.body.role);
    },
  );

  app.delete(
    '/orgs/:org/members/:user',
    { schema: { tags: ['identity'], params: memberParams, response: deleteResponses } },
    async (req, reply) => {
      const ctx = contextOf(req);
      await removeMember(deps, ctx, orgName(ctx, req.params.org), req.params.user);
      return reply.code(204).send(null);
    },
  );
}
