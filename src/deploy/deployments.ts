import type { ControlDeps, RequestContext } from '../control/context.js';
import { isUniqueViolation, newId } from '../control/ids.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import type { DataPlane } from '../dataplane/data-plane.js';
import { LABEL } from '../dataplane/labels.js';
import type { ComponentSource } from '../domain/component.js';
import type { EndpointSpec } from '../domain/endpoint.js';
import { invalid, notFound, RondoError } from '../domain/errors.js';
import { checkImageReference } from '../domain/image-reference.js';
import type { Deployment, EnvironmentStatus } from '../domain/resources.js';
import type { Executor } from '../store/store.js';
import type { DataPlaneRegistry } from './data-plane-registry.js';
import type { DeploymentSpec } from './deployment-spec.js';
import { isServing } from './gateway-sync.js';
import { endpointUrls, type UrlSettings } from './urls.js';

/** What deploy use cases need beyond the control plane: data planes, the engine, URL settings. */
export interface DeployDeps extends ControlDeps {
  dataPlanes: DataPlaneRegistry;
  /** Starts a rollout now (the reconciler would pick it up on its next pass anyway). */
  enqueue: (deploymentId: string) => void;
  urls: UrlSettings;
  instance: string;
}

export interface DeployInput {
  environment: string;
  image?: string;
  replicas?: number;
}

function deploymentsOf(db: Executor, orgId: string) {
  return db
    .selectFrom('deployments as d')
    .innerJoin('components as c', 'c.id', 'd.component_id')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .innerJoin('environments as e', 'e.id', 'd.environment_id')
    .selectAll('d')
    .select(['c.name as component', 'p.name as project', 'e.name as environment'])
    .where('d.org_id', '=', orgId);
}

type DeploymentJoined = Awaited<ReturnType<ReturnType<typeof deploymentsOf>['executeTakeFirstOrThrow']>>;

function toDeployment(r: DeploymentJoined): Deployment {
  const spec = (r.spec ?? {}) as Partial<DeploymentSpec>;
  return {
    id: r.id,
    project: r.project,
    component: r.component,
    environment: r.environment,
    image: r.image ?? spec.image ?? '',
    replicas: r.replicas ?? spec.replicas ?? 0,
    status: r.status as Deployment['status'],
    reason: r.status_reason,
    endpoints: spec.endpoints ?? [],
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

async function findComponent(db: Executor, orgId: string, project: string, component: string) {
  const row = await db
    .selectFrom('components as c')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .select(['c.id', 'c.name', 'c.type', 'c.source', 'c.endpoints', 'p.name as project', 'p.pipeline_id'])
    .where('c.org_id', '=', orgId)
    .where('p.name', '=', project)
    .where('c.name', '=', component)
    .executeTakeFirst();
  if (!row) throw notFound('component', `${project}/${component}`);
  return row;
}

async function findEnvironment(db: Executor, orgId: string, name: string) {
  const row = await db
    .selectFrom('environments as e')
    .innerJoin('data_planes as dp', 'dp.id', 'e.data_plane_id')
    .select([
      'e.id',
      'e.name',
      'e.production',
      'e.gateway_slot',
      'dp.id as dp_id',
      'dp.type as dp_type',
      'dp.config as dp_config',
      'dp.name as dp_name',
    ])
    .where('e.org_id', '=', orgId)
    .where('e.name', '=', name)
    .executeTakeFirst();
  if (!row) throw notFound('environment', name);
  return row;
}

/**
 * Deploys an image to an environment (F2: image components, or any image given explicitly).
 * Checks everything — names, image reference, the data plane answering — before recording
 * anything; then records a `pending` deployment and starts its rollout. A second deploy of the
 * same component to the same environment while one rolls out is refused (409).
 */
export async function createDeployment(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
  input: DeployInput,
): Promise<Deployment> {
  if (input.image !== undefined) {
    const problem = checkImageReference(input.image);
    if (problem) throw invalid([{ field: 'image', message: problem }]);
  }
  const { org } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  const env = await findEnvironment(deps.store.db, org.id, input.environment);
  const source = component.source as ComponentSource;
  const image = input.image ?? (source.kind === 'image' ? source.image : undefined);
  if (!image) {
    throw invalid([
      {
        field: 'image',
        message: 'this component is built from Git; give an image to deploy (builds arrive with F3)',
      },
    ]);
  }
  await pingDataPlane(
    deps.dataPlanes.for({ id: env.dp_id, type: env.dp_type, config: env.dp_config }),
    env.dp_name,
  );
  const permission = env.production ? 'deploy:production' : 'deploy';
  const spec: DeploymentSpec = {
    image,
    replicas: input.replicas ?? 1,
    endpoints: component.endpoints as EndpointSpec[],
    env: {},
  };
  const audit = {
    permission,
    action: 'deployment.create',
    resourceType: 'deployment',
    resource: `${project}/${componentName}@${env.name}`,
  } as const;
  const id = newId('dep');
  try {
    await mutateInOrg(deps, ctx, orgName, audit, async (tx) => {
      await tx
        .insertInto('deployments')
        .values({
          id,
          org_id: org.id,
          component_id: component.id,
          environment_id: env.id,
          status: 'pending',
          image,
          replicas: spec.replicas,
          spec: JSON.stringify(spec),
          created_by: ctx.actor.userName,
        })
        .execute();
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    throw new RondoError(
      'RONDO_ERR_CONFLICT_IN_PROGRESS',
      `a rollout of ${project}/${componentName} to ${env.name} is already in progress; wait for it (rondo describe component) and deploy again`,
    );
  }
  deps.enqueue(id);
  return toDeployment(
    await deploymentsOf(deps.store.db, org.id).where('d.id', '=', id).executeTakeFirstOrThrow(),
  );
}

async function pingDataPlane(dp: DataPlane, name: string): Promise<void> {
  try {
    await dp.ping();
  } catch (err) {
    const detail = err instanceof RondoError ? err.message : String(err);
    throw new RondoError('RONDO_ERR_UNAVAILABLE', `data plane '${name}' is unreachable: ${detail}`, {
      cause: err,
    });
  }
}

export async function listDeployments(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  filter: { environment?: string; limit?: number },
): Promise<Deployment[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  await findComponent(deps.store.db, org.id, project, component);
  let q = deploymentsOf(deps.store.db, org.id).where('p.name', '=', project).where('c.name', '=', component);
  if (filter.environment) q = q.where('e.name', '=', filter.environment);
  const rows = await q
    .orderBy('d.created_at', 'desc')
    .limit(filter.limit ?? 50)
    .execute();
  return rows.map(toDeployment);
}

export async function getDeployment(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
): Promise<Deployment> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const row = await deploymentsOf(deps.store.db, org.id).where('d.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('deployment', id);
  return toDeployment(row);
}

/** Per environment of the project's pipeline: the active and latest deployments, replicas, URLs. */
export async function componentStatus(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
): Promise<EnvironmentStatus[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  const pipeline = await deps.store.db
    .selectFrom('pipelines')
    .select('environment_ids')
    .where('id', '=', component.pipeline_id)
    .executeTakeFirstOrThrow();
  const envs = await deps.store.db
    .selectFrom('environments as e')
    .innerJoin('data_planes as dp', 'dp.id', 'e.data_plane_id')
    .select([
      'e.id',
      'e.name',
      'e.gateway_slot',
      'dp.id as dp_id',
      'dp.type as dp_type',
      'dp.config as dp_config',
    ])
    .where('e.org_id', '=', org.id)
    .execute();
  const order = (id: string) => {
    const i = pipeline.environment_ids.indexOf(id);
    return i === -1 ? Number.MAX_SAFE_INTEGER : i;
  };
  envs.sort((a, b) => order(a.id) - order(b.id) || a.name.localeCompare(b.name));
  const deployments = await deploymentsOf(deps.store.db, org.id)
    .where('d.component_id', '=', component.id)
    .orderBy('d.created_at', 'desc')
    .execute();
  const out: EnvironmentStatus[] = [];
  for (const env of envs) {
    const mine = deployments.filter((d) => d.environment_id === env.id);
    const active = mine.find((d) => d.status === 'active');
    const latest = mine[0];
    let running = 0;
    let restarts = 0;
    if (active) {
      const dp = deps.dataPlanes.for({ id: env.dp_id, type: env.dp_type, config: env.dp_config });
      const workloads = await dp
        .listWorkloads({ [LABEL.instance]: deps.instance, [LABEL.deployment]: active.id })
        .catch(() => []);
      running = workloads.filter(isServing).length;
      restarts = workloads.reduce((n, w) => n + w.restartCount, 0);
    }
    const events = active
      ? await deps.store.db
          .selectFrom('deployment_events')
          .select(['kind', 'message', 'created_at'])
          .where('deployment_id', '=', active.id)
          .orderBy('id', 'desc')
          .execute()
      : [];
    // Restarts by the engine (crashes) and by Rondo (liveness) both count.
    restarts += events.filter((e) => e.kind === 'liveness-restart').length;
    const activeView = active ? toDeployment(active) : null;
    out.push({
      environment: env.name,
      active: activeView,
      latest: latest ? toDeployment(latest) : null,
      replicas: { desired: activeView?.replicas ?? 0, running, restarts },
      events: events
        .slice(0, 10)
        .map((e) => ({ kind: e.kind, message: e.message, createdAt: e.created_at.toISOString() })),
      urls: activeView
        ? endpointUrls(
            deps.urls,
            {
              org: org.name,
              project,
              component: componentName,
              componentType: component.type,
              environment: env.name,
              gatewaySlot: env.gateway_slot,
            },
            activeView.endpoints,
          )
        : [],
    });
  }
  return out;
}
