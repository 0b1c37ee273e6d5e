import { z } from 'zod';
import {
  createDataPlane,
  type DataPlaneDeps,
  deleteDataPlane,
  getDataPlane,
  listDataPlanes,
} from '../../control/data-planes.js';
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

const DockerDataPlane = z.strictObject({
  name: Name,
  type: z.literal('docker'),
  config: z
    .strictObject({ socketPath: SocketPath.optional() })
    .default({})
    .describe("the engine's socket (Docker or Podman); default the local engine"),
});

/** A registry host as image references name it: `host[:port]`, no scheme, no path. */
const RegistryAddress = z
  .string()
  .max(255)
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$/i, 'must be host[:port] (no scheme, no path)');

/** A kubeconfig of one context is a few KiB; certificates and a token stay far below this. */
const KUBECONFIG_MAX = 256 * 1024;

const KubernetesDataPlane = z.strictObject({
  name: Name,
  type: z.literal('kubernetes'),
  config: z.strictObject({
    kubeconfig: z
      .string()
      .min(1)
      .max(KUBECONFIG_MAX, 'is longer than 256 KiB; give the minified kubeconfig of one context')
      .describe(
        'the kubeconfig YAML (`kubectl config view --raw --minify`); stored encrypted, never shown again',
      ),
    context: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe("the kubeconfig's context to use; default its current-context"),
    registry: z
      .strictObject({
        address: RegistryAddress.describe(
          "the platform registry as the cluster's nodes reach it (host[:port]); its images are pulled from there by digest",
        ),
        username: z
          .string()
          .min(1)
          .max(256)
          .optional()
          .describe('pull credentials: stored encrypted, never shown'),
        password: z.string().min(1).max(4096).optional().describe('with username'),
      })
      .refine((r) => (r.username === undefined) === (r.password === undefined), {
        message: 'give username and password together',
      })
      .optional()
      .describe("where the nodes pull the platform registry's images; absent: the address builds push to"),
  }),
});

export function dataPlaneRoutes(app: Api, deps: DataPlaneDeps): void {
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
        description:
          'Registers a Docker engine or a Kubernetes cluster as a data plane. A kubeconfig is checked (its context, an https server, a user), then stored encrypted under the master key.',
        body: z.discriminatedUnion('type', [DockerDataPlane, KubernetesDataPlane]),
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
