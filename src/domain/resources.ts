import { z } from 'zod';
import { ROLES, TOKEN_SCOPES } from './access.js';
import { BUILD_PRESETS, COMPONENT_TYPES } from './component.js';
import { CONDITION_TYPES, DEPLOYMENT_PHASES } from './conditions.js';
import { ENDPOINT_TYPES, VISIBILITIES } from './endpoint.js';
import { ResourceLimits } from './resource-limits.js';
import { CONCURRENCY_POLICIES } from './task.js';

/**
 * The shapes the API returns (camelCase, §12). The CLI's `-o json` prints the same shapes.
 * Request schemas live with the routes; these are the resources themselves.
 */
const timestamps = { createdAt: z.string(), updatedAt: z.string() };

export const Organization = z.object({
  id: z.string(),
  name: z.string(),
  displayName: z.string(),
  createdAt: z.string(),
});
export type Organization = z.infer<typeof Organization>;

export const DataPlaneStatus = z.object({
  reachable: z.boolean().describe('it answered and accepted the credentials'),
  reason: z
    .string()
    .optional()
    .describe('unreachable: why, and what to fix; reachable: what could not be read (capacity), if anything'),
  version: z.string().optional().describe("the engine's or the API server's version"),
  capacity: z
    .object({
      cpus: z.number(),
      memoryBytes: z.number(),
      nodes: z.number().int().optional().describe('Kubernetes: the Ready nodes counted'),
    })
    .optional()
    .describe("what workloads may use: the engine's host, or the Ready nodes' allocatable"),
  checkedAt: z.string(),
  tookMs: z.number().int(),
});
export type DataPlaneStatus = z.infer<typeof DataPlaneStatus>;

export const DataPlane = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['docker', 'kubernetes']),
  config: z
    .record(z.string(), z.unknown())
    .describe(
      "docker: { socketPath? }; kubernetes: { server, context, credentials: 'stored encrypted', registry?: { address, credentials? } } (the kubeconfig and pull credentials are never shown)",
    ),
  environments: z.array(z.string()).describe('the environments it hosts'),
  createdAt: z.string(),
  status: DataPlaneStatus.optional().describe(
    'checked when one data plane is read (GET), within a few seconds; absent from lists',
  ),
});
export type DataPlane = z.infer<typeof DataPlane>;

const ResourceVersion = z
  .number()
  .int()
  .describe(
    'bumped by every change; send it back on an update to be refused (409) if someone changed it since',
  );

export const Environment = z.object({
  id: z.string(),
  name: z.string(),
  displayName: z.string(),
  production: z.boolean(),
  dataPlane: z.string(),
  approvalPolicy: z
    .object({ users: z.array(z.string()), roles: z.array(z.string()), required: z.number().int() })
    .nullable()
    .describe('who must approve promotions into this environment; null: no approval needed'),
  resourceVersion: ResourceVersion,
  ...timestamps,
});
export type Environment = z.infer<typeof Environment>;

export const Pipeline = z.object({
  id: z.string(),
  name: z.string(),
  environments: z.array(z.string()),
  isDefault: z.boolean(),
  resourceVersion: ResourceVersion,
  ...timestamps,
});
export type Pipeline = z.infer<typeof Pipeline>;

export const Project = z.object({
  id: z.string(),
  name: z.string(),
  displayName: z.string(),
  description: z.string(),
  pipeline: z.string(),
  resourceVersion: ResourceVersion,
  ...timestamps,
});
export type Project = z.infer<typeof Project>;

export const ComponentSourceShape = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('git'), repoUrl: z.string(), branch: z.string(), path: z.string() }),
  z.object({ kind: z.literal('image'), image: z.string() }),
]);

export const Endpoint = z.object({
  name: z.string(),
  declaredName: z
    .string()
    .optional()
    .describe('the name as the descriptor wrote it, when that is not a DNS label'),
  port: z.number().int(),
  type: z.enum(ENDPOINT_TYPES),
  basePath: z.string(),
  visibility: z.array(z.enum(VISIBILITIES)),
});

export const Component = z.object({
  id: z.string(),
  name: z.string(),
  project: z.string(),
  displayName: z.string(),
  description: z.string(),
  type: z.enum(COMPONENT_TYPES),
  source: ComponentSourceShape,
  buildPreset: z.enum(BUILD_PRESETS).nullable(),
  buildConfigs: z.record(z.string(), z.string()),
  autoBuild: z.boolean(),
  autoDeploy: z.boolean(),
  watchPaths: z
    .array(z.string())
    .describe('paths besides the component directory whose changes start a build'),
  buildTags: z.boolean().describe('pushed tags start builds too'),
  endpoints: z.array(Endpoint),
  sourceToken: z
    .boolean()
    .describe('a token for the private repository is stored (encrypted; never returned)'),
  resourceVersion: ResourceVersion,
  ...timestamps,
});
export type Component = z.infer<typeof Component>;

export const Member = z.object({ user: z.string(), role: z.enum(ROLES), createdAt: z.string() });
export type Member = z.infer<typeof Member>;

export const User = z.object({
  id: z.string(),
  name: z.string(),
  displayName: z.string(),
  platformAdmin: z.boolean(),
  defaultOrg: z.string().nullable(),
  createdAt: z.string(),
});
export type User = z.infer<typeof User>;

export const AccessToken = z.object({
  id: z.string(),
  name: z.string(),
  user: z.string(),
  scopes: z.array(z.enum(TOKEN_SCOPES)),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  createdAt: z.string(),
});
export type AccessToken = z.infer<typeof AccessToken>;

export const AuditEvent = z.object({
  id: z.string(),
  org: z.string().nullable(),
  actor: z.string(),
  action: z.string(),
  resourceType: z.string(),
  resource: z.string(),
  outcome: z.enum(['success', 'denied']),
  requestId: z.string(),
  sourceIp: z.string(),
  detail: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

export const DEPLOYMENT_STATUSES = ['pending', 'rolling-out', 'active', 'failed', 'superseded'] as const;

export const Deployment = z.object({
  id: z.string(),
  name: z
    .string()
    .nullable()
    .describe('`YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release'),
  release: z.string().nullable(),
  commit: z.string().nullable(),
  configRevision: z.number().int().nullable(),
  action: z.enum(['deploy', 'promote', 'rollback', 'redeploy']).nullable(),
  project: z.string(),
  component: z.string(),
  environment: z.string(),
  image: z.string(),
  replicas: z.number().int(),
  resources: ResourceLimits.optional().describe('limits per replica or task run; absent: unlimited'),
  status: z.enum(DEPLOYMENT_STATUSES),
  reason: z.string().nullable(),
  phase: z.enum(DEPLOYMENT_PHASES).describe('where its rollout is; `status` is the coarser word'),
  conditions: z
    .array(
      z.object({
        type: z.enum(CONDITION_TYPES),
        status: z.enum(['True', 'False', 'Unknown']),
        reason: z.string(),
        message: z.string(),
        lastTransitionTime: z.string(),
        observedGeneration: z.number().int(),
      }),
    )
    .describe('Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape)'),
  endpoints: z.array(Endpoint),
  task: z
    .object({
      schedule: z.object({ cron: z.string(), timezone: z.string() }).optional(),
      concurrencyPolicy: z.enum(CONCURRENCY_POLICIES),
      timeoutSeconds: z.number().int(),
      startingDeadlineSeconds: z.number().int(),
    })
    .optional()
    .describe('task components: how this deployment runs its executions'),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Deployment = z.infer<typeof Deployment>;

export const EnvironmentStatus = z.object({
  environment: z.string(),
  active: Deployment.nullable(),
  latest: Deployment.nullable(),
  replicas: z.object({ desired: z.number(), running: z.number(), restarts: z.number() }),
  events: z
    .array(
      z.object({
        kind: z.string(),
        message: z.string(),
        createdAt: z.string(),
        deployment: z.string().describe('the deployment the event is about: the active one or the latest'),
      }),
    )
    .describe(
      'the newest 10 events of the active deployment and of a later one (a failed rollout), newest first',
    ),
  urls: z.array(z.object({ endpoint: z.string(), visibility: z.enum(VISIBILITIES), url: z.string() })),
  pendingConfig: z
    .object({ added: z.array(z.string()), changed: z.array(z.string()), removed: z.array(z.string()) })
    .describe('configuration keys that differ from what the active deployment runs; deploy to apply them'),
});
export type EnvironmentStatus = z.infer<typeof EnvironmentStatus>;

export const ApprovalRequest = z.object({
  id: z.string(),
  project: z.string(),
  component: z.string(),
  environment: z.string().describe('the environment the release is to be promoted into'),
  from: z.string().describe('the environment the release was active in when requested'),
  release: z.string(),
  status: z.enum(['pending', 'approved', 'rejected', 'cancelled']),
  required: z.number().int(),
  approvals: z.number().int(),
  requestedBy: z.string(),
  comment: z.string(),
  decisions: z.array(
    z.object({
      user: z.string(),
      decision: z.enum(['approved', 'rejected']),
      comment: z.string(),
      at: z.string(),
    }),
  ),
  deployment: z.string().nullable().describe('the promotion started when the request was approved'),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequest>;

export const Execution = z.object({
  id: z.string(),
  project: z.string(),
  component: z.string(),
  environment: z.string(),
  trigger: z.enum(['schedule', 'manual', 'api']),
  triggeredBy: z.string(),
  triggeredAt: z.string(),
  dueAt: z.string().nullable().describe('scheduled runs: the due time'),
  revision: z.object({
    deployment: z.string().nullable().describe('the deployment name whose image and configuration ran'),
    deploymentId: z.string(),
    build: z.string().nullable(),
    commit: z.string().nullable(),
  }),
  args: z.array(z.string()),
  status: z.enum(['running', 'succeeded', 'failed', 'timed-out', 'cancelled', 'skipped', 'missed']),
  reason: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().int().nullable(),
  logsTruncated: z.boolean(),
});
export type Execution = z.infer<typeof Execution>;
