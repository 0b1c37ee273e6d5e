import { COMPONENT_SCOPE, draftItems, mergeConfig, scopeRevision } from '../configuration/config-entries.js';
import type { ControlDeps, RequestContext } from '../control/context.js';
import { findComponent, findEnvironment } from '../control/lookups.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import type { DataPlaneRegistry } from '../dataplane/registry.js';
import type { ComponentSource } from '../domain/component.js';
import type { ReleaseSpec } from '../domain/deployment-spec.js';
import type { EndpointSpec } from '../domain/endpoint.js';
import { invalid, notFound, RondoError } from '../domain/errors.js';
import { checkImageReference } from '../domain/image-reference.js';
import type { ResourceLimits } from '../domain/resource-limits.js';
import type { Deployment } from '../domain/resources.js';
import type { ScheduleRules } from '../domain/task.js';
import { deploymentsOf, pingDataPlane, toDeployment } from './deploy-queries.js';
import { checkConfiguration, findOrCreateRelease, insertDeployment } from './releases.js';
import { resolveTaskSpec, type TaskInput } from './task-spec.js';
import type { UrlSettings } from './urls.js';

/** What deploy use cases need beyond the control plane: data planes, the engine, URL settings. */
export interface DeployDeps extends ControlDeps {
  dataPlanes: DataPlaneRegistry;
  /** Starts a rollout now (the reconciler would pick it up on its next pass anyway). */
  enqueue: (deploymentId: string) => void;
  urls: UrlSettings;
  instance: string;
  scheduleRules: ScheduleRules;
}

export interface DeployInput {
  environment: string;
  /** A successful build of this component; default: what the environment runs now, else the newest build. */
  buildId?: string;
  image?: string;
  replicas?: number;
  /** Default: what the environment runs now (none: unlimited). */
  resources?: ResourceLimits;
  /** Task components: schedule, concurrency policy, timeout. */
  task?: TaskInput;
}

interface Artifact {
  buildId: string | null;
  image: string;
  commit: string | null;
  spec: ReleaseSpec;
}

/** What to deploy: the given build or image, else the environment's current image, else the newest build. */
async function resolveArtifact(
  deps: DeployDeps,
  component: Awaited<ReturnType<typeof findComponent>>,
  envId: string,
  input: DeployInput,
): Promise<Artifact> {
  const db = deps.store.db;
  const fromComponent = { endpoints: component.endpoints as EndpointSpec[], configurations: [] };
  const build = (id?: string) => {
    let q = db
      .selectFrom('builds')
      .select(['id', 'status', 'image', 'commit', 'descriptor'])
      .where('component_id', '=', component.id);
    q = id ? q.where('id', '=', id) : q.where('status', '=', 'succeeded').orderBy('created_at', 'desc');
    return q.executeTakeFirst();
  };
  const fromBuild = (b: NonNullable<Awaited<ReturnType<typeof build>>>): Artifact => {
    if (b.status !== 'succeeded' || !b.image)
      throw new RondoError(
        'RONDO_ERR_CONFLICT_STATE',
        `build ${b.id} is ${b.status}; only a succeeded build can be deployed`,
      );
    const d = (b.descriptor ?? {}) as Partial<ReleaseSpec>;
    return {
      buildId: b.id,
      image: b.image,
      commit: b.commit,
      spec: { endpoints: d.endpoints ?? fromComponent.endpoints, configurations: d.configurations ?? [] },
    };
  };
  if (input.buildId) {
    const b = await build(input.buildId);
    if (!b) throw notFound('build', `${input.buildId}' of component '${component.name}`);
    return fromBuild(b);
  }
  if (input.image) return { buildId: null, image: input.image, commit: null, spec: fromComponent };
  const active = await db
    .selectFrom('deployments as d')
    .innerJoin('releases as r', 'r.id', 'd.release_id')
    .select(['r.build_id', 'r.image', 'r.commit', 'r.spec'])
    .where('d.component_id', '=', component.id)
    .where('d.environment_id', '=', envId)
    .where('d.status', '=', 'active')
    .executeTakeFirst();
  if (active)
    return {
      buildId: active.build_id,
      image: active.image,
      commit: active.commit,
      spec: active.spec,
    };
  const source = component.source as ComponentSource;
  if (source.kind === 'image')
    return { buildId: null, image: source.image, commit: null, spec: fromComponent };
  const latest = await build();
  if (!latest)
    throw new RondoError(
      'RONDO_ERR_CONFLICT_STATE',
      `component ${component.project}/${component.name} has no successful build yet; run \`rondo build ${component.name}\` first`,
    );
  return fromBuild(latest);
}

/**
 * Deploys a build (or an image, or the environment's pending configuration) to an environment
 * (§6.1): the build and the component-scope configuration make a release (created on first use);
 * the release plus the environment's configuration make a new immutable deployment, which rolls
 * out in the background. Everything — names, build, declared configuration, the data plane
 * answering — is checked before anything is recorded.
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
  if (input.image !== undefined && input.buildId !== undefined)
    throw invalid([{ field: 'image', message: 'give a build id or an image, not both' }]);
  const { org } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  const env = await findEnvironment(deps.store.db, org.id, input.environment);
  await requireInPipeline(deps, component.pipeline_id, env, 'environment');
  const task = await resolveTaskSpec(deps.store.db, component, env.id, input.task, deps.scheduleRules);
  const artifact = await resolveArtifact(deps, component, env.id, input);
  await pingDataPlane(
    // A driver that loads on first need (Kubernetes) is waited for, not refused with 503.
    await deps.dataPlanes.ready({ id: env.dp_id, type: env.dp_type, config: env.dp_config }),
    env.dp_name,
  );
  const audit = {
    permission: env.production ? 'deploy:production' : 'deploy',
    action: 'deployment.create',
    resourceType: 'deployment',
    resource: `${project}/${componentName}@${env.name}`,
  } as const;
  const id = await mutateInOrg(deps, ctx, orgName, audit, async (tx) => {
    const release = await findOrCreateRelease(tx, {
      orgId: org.id,
      componentId: component.id,
      ...artifact,
      config: await draftItems(tx, component.id, COMPONENT_SCOPE),
      configRevision: await scopeRevision(tx, component.id, COMPONENT_SCOPE),
      createdBy: ctx.actor.userName,
      now: deps.now?.() ?? new Date(),
    });
    const config = mergeConfig(release.config, await draftItems(tx, component.id, env.id));
    checkConfiguration(release, config, env.name);
    const current = await tx
      .selectFrom('deployments')
      .select(['replicas', 'spec'])
      .where('component_id', '=', component.id)
      .where('environment_id', '=', env.id)
      .where('status', '=', 'active')
      .executeTakeFirst();
    return insertDeployment(tx, {
      orgId: org.id,
      componentId: component.id,
      environmentId: env.id,
      release,
      config,
      configRevision: await scopeRevision(tx, component.id, env.id),
      replicas: input.replicas ?? current?.replicas ?? 1,
      resources: input.resources ?? current?.spec.resources,
      action: 'deploy',
      sourceId: null,
      createdBy: ctx.actor.userName,
      task,
    });
  });
  deps.enqueue(id);
  return toDeployment(
    await deploymentsOf(deps.store.db, org.id).where('d.id', '=', id).executeTakeFirstOrThrow(),
  );
}

/** The environment must be on the project's pipeline (400 naming the pipeline's environments). */
export async function requireInPipeline(
  deps: ControlDeps,
  pipelineId: string,
  env: { id: string; name: string },
  field: string,
): Promise<string[]> {
  const pipeline = await deps.store.db
    .selectFrom('pipelines')
    .select(['name', 'environment_ids'])
    .where('id', '=', pipelineId)
    .executeTakeFirstOrThrow();
  if (!pipeline.environment_ids.includes(env.id)) {
    const names = await deps.store.db
      .selectFrom('environments')
      .select(['id', 'name'])
      .where('id', 'in', pipeline.environment_ids.length ? pipeline.environment_ids : [''])
      .execute();
    const order = pipeline.environment_ids.map((id) => names.find((n) => n.id === id)?.name ?? id);
    throw invalid([
      {
        field,
        message: `environment '${env.name}' is not on pipeline '${pipeline.name}' (${order.join(' → ')})`,
      },
    ]);
  }
  return pipeline.environment_ids;
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
