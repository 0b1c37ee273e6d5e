import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import { createDataPlane, deleteDataPlane, getDataPlane, listDataPlanes } from '../../control/data-planes.js';
import { DataPlane } from '../../domain/resources.js';
import { type Api, contextOf } from '../api.js';
import { deleteResponses, Name, OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const tags = ['data planes'];
const SocketPath = z
  .string()
  .max(500)
  .regex(
    /^(\/[A-Za-z0-9._-]+)+$|^tcp:\/\/[A-Za-z0-9.-]+:[0-9]{1,5}$/,
    'must be an absolute socket path or tcp://host:port',
  );

export function dataPlaneRoutes(app: Api, deps: ControlDeps): void {
  const orgParams = z.object({ org: OrgParam });
  const params = z.object({ org: OrgParam, dataPlane: z.string().max(63) });

  app.get(
    '/orgs/:org/dataplanes',
    {
      schema: {
        tags,
        params: orgParams,
        response: { 200: z.object({ items: z.array(DataPlane) }), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return { items: await listDataPlanes(deps, ctx, orgName(ctx, req.params.org)) };
    },
  );

  app.post(
    '/orgs/:org/dataplanes',
    {
      schema: {
        tags,
        params: orgParams,
        body: z.strictObject({
          name: Name,
          type: z.literal('docker').describe('kubernetes data planes are planned; docker is available now'),
          config: z.strictObject({ socketPath: SocketPath.optional() }).default({}),
        }),
        response: { 201: DataPlane, ...problemResponses },
      },
    },
    async (req, reply) => {
      const ctx = contextOf(req);
      return reply.code(201).send(await createDataPlane(deps, ctx, orgName(ctx, req.params.org), req.body));
    },
  );

  app.get(
    '/orgs/:org/dataplanes/:dataPlane',
    { schema: { tags, params, response: { 200: DataPlane, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return getDataPlane(deps, ctx, orgName(ctx, req.params.org), req.params.dataPlane);
    },
  );

  app.delete(
    '/orgs/:org/dataplanes/:dataPlane',
    { schema: { tags, params, response: deleteResponses } },
    async (req, reply) => {
      const ctx = contextOf(req);
      await deleteDataPlane(deps, ctx, orgName(ctx, req.params.org), req.params.dataPlane);
      return reply.code(204).send(null);
    },
  );
}
