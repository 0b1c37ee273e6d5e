import { draftItems, mergeConfig, scopeRevision } from '../configuration/config-entries.js';
import type { RequestContext } from '../control/context.js';
import { findComponent, findEnvironment } from '../control/lookups.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import type { ConfigItem } from '../domain/configuration.js';
import { invalid, notFound, RondoError } from '../domain/errors.js';
import type { ApprovalRequest, Deployment } from '../domain/resources.js';
import { requestApproval } from './approvals.js';
import { deploymentsOf, pingDataPlane, toDeployment } from './deploy-queries.js';
import { type DeployDeps, requireInPipeline } from './deployments.js';
import { checkConfiguration, insertDeployment, type ReleaseRow } from './releases.js';

export interface PromoteInput {
  /** Default: the first environment of the project's pipeline. */
  from?: string;
  /** Default: the environment after `from` in the pipeline. */
  to?: string;
  /** Admins only: promote to an environment that is not next in the pipeline. */
  force?: boolean;
  comment?: string;
}

export type PromoteResult = { deployment: Deployment } | { approvalRequest: ApprovalRequest };

async function activeIn(deps: DeployDeps, componentId: string, envId: string) {
  return deps.store.db
    .selectFrom('deployments')
    .selectAll()
    .where('component_id', '=', componentId)
    .where('environment_id', '=', envId)
    .where('status', '=', 'active')
    .executeTakeFirst();
}

async function releaseOf(deps: DeployDeps, id: string | null): Promise<ReleaseRow> {
  const release = id
    ? await deps.store.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst()
    : undefined;
  if (!release)
    throw new RondoError(
      'RONDO_ERR_CONFLICT_STATE',
      'this deployment predates releases (it was deployed before F4); deploy the component again first',
    );
  return release;
}

/**
 * Promotes the release active in `from` to the next environment (§6.2): same image digest, the
 * target's own configuration, F2's zero-downtime rollout. Into an environment with an approval
 * policy it records a request instead (§6.5); the release promoted is fixed now, not when approved.
 */
export async function promote(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
  input: PromoteInput,
): Promise<PromoteResult> {
  const { org, role } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  const pipeline = await deps.store.db
    .selectFrom('pipelines')
    .select('environment_ids')
    .where('id', '=', component.pipeline_id)
    .executeTakeFirstOrThrow();
  const fromName =
    input.from ??
    (
      await deps.store.db
        .selectFrom('environments')
        .select('name')
        .where('id', '=', pipeline.environment_ids[0] ?? '')
        .executeTakeFirst()
    )?.name;
  if (!fromName) throw invalid([{ field: 'from', message: 'the project pipeline has no environments' }]);
  const from = await findEnvironment(deps.store.db, org.id, fromName);
  const order = await requireInPipeline(deps, component.pipeline_id, from, 'from');
  const next = order[order.indexOf(from.id) + 1];
  let to: Awaited<ReturnType<typeof findEnvironment>>;
  if (input.to) {
    to = await findEnvironment(deps.store.db, org.id, input.to);
    await requireInPipeline(deps, component.pipeline_id, to, 'to');
    if (to.id !== next && !input.force)
      throw invalid([
        {
          field: 'to',
          message: `'${to.name}' is not the environment after '${from.name}' in the pipeline; an admin may skip with force`,
        },
      ]);
    if (to.id !== next && role !== 'admin')
      throw new RondoError(
        'RONDO_ERR_AUTH_FORBIDDEN',
        `only admins may promote out of pipeline order (role '${role}')`,
      );
  } else {
    if (!next)
      throw invalid([{ field: 'from', message: `'${from.name}' is the last environment of the pipeline` }]);
    to = await findEnvironment(
      deps.store.db,
      org.id,
      (
        await deps.store.db
          .selectFrom('environments')
          .select('name')
          .where('id', '=', next)
          .executeTakeFirstOrThrow()
      ).name,
    );
  }
  const source = await activeIn(deps, component.id, from.id);
  if (!source)
    throw new RondoError(
      'RONDO_ERR_CONFLICT_STATE',
      `nothing is active in ${from.name} for ${project}/${componentName}; deploy there first`,
    );
  const release = await releaseOf(deps, source.release_id);
  const resource = `${project}/${componentName}@${to.name}`;
  if (to.approval) {
    const request = await requestApproval(deps, ctx, orgName, {
      orgId: org.id,
      componentId: component.id,
      environmentId: to.id,
      policy: to.approval,
      sourceDeploymentId: source.id,
      release,
      comment: input.comment ?? '',
      resource,
    });
    return { approvalRequest: request };
  }
  await pingDataPlane(
    // A driver that loads on first need (Kubernetes) is waited for, not refused with 503.
    await deps.dataPlanes.ready({ id: to.dp_id, type: to.dp_type, config: to.dp_config }),
    to.dp_name,
  );
  const audit = {
    permission: to.production ? 'deploy:production' : 'deploy',
    action: 'deployment.promote',
    resourceType: 'deployment',
    resource: `${resource} (release ${release.name} from ${from.name})`,
  } as const;
  const id = await mutateInOrg(deps, ctx, orgName, audit, (tx) =>
    startPromotion(tx, {
      orgId: org.id,
      componentId: component.id,
      environment: to,
      release,
      sourceId: source.id,
      createdBy: ctx.actor.userName,
    }),
  );
  deps.enqueue(id);
  return { deployment: await viewOf(deps, org.id, id) };
}

/** Creates the promotion's deployment: the release's config merged with the target's draft. */
export async function startPromotion(
  tx: Parameters<typeof insertDeployment>[0],
  p: {
    orgId: string;
    componentId: string;
    environment: { id: string; name: string };
    release: ReleaseRow;
    sourceId: string;
    createdBy: string;
  },
): Promise<string> {
  const config = mergeConfig(p.release.config, await draftItems(tx, p.componentId, p.environment.id));
  checkConfiguration(p.release, config, p.environment.name);
  const current = await tx
    .selectFrom('deployments')
    .select(['replicas', 'spec'])
    .where('component_id', '=', p.componentId)
    .where('environment_id', '=', p.environment.id)
    .where('status', '=', 'active')
    .executeTakeFirst();
  const source = await tx
    .selectFrom('deployments')
    .select(['replicas', 'spec'])
    .where('id', '=', p.sourceId)
    .executeTakeFirst();
  return insertDeployment(tx, {
    orgId: p.orgId,
    componentId: p.componentId,
    environmentId: p.environment.id,
    release: p.release,
    config,
    configRevision: await scopeRevision(tx, p.componentId, p.environment.id),
    // The target keeps its own scale; a first promotion there starts with the source's.
    replicas: current?.replicas ?? source?.replicas ?? 1,
    action: 'promote',
    sourceId: p.sourceId,
    createdBy: p.createdBy,
    // A task keeps the target's own schedule; a first promotion there takes the source's.
    task: current?.spec.task ?? source?.spec.task,
    // Limits are the target's own too (production is often sized apart from development).
    resources: current ? current.spec.resources : source?.spec.resources,
  });
}

async function viewOf(deps: DeployDeps, orgId: string, id: string): Promise<Deployment> {
  return toDeployment(
    await deploymentsOf(deps.store.db, orgId).where('d.id', '=', id).executeTakeFirstOrThrow(),
  );
}

/**
 * Makes an earlier deployment's exact release and configuration active again (§6.3), through the
 * same rollout. `to` is a deployment id or name; default: the one that was active before.
 * Redeploy (`to` = the active one, `redeploy: true`) is the same release and config, fresh replicas.
 */
export async function rollback(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
  input: { environment: string; to?: string; redeploy?: boolean },
): Promise<Deployment> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  const env = await findEnvironment(deps.store.db, org.id, input.environment);
  const active = await activeIn(deps, component.id, env.id);
  if (!active)
    throw new RondoError(
      'RONDO_ERR_CONFLICT_STATE',
      `nothing is active in ${env.name} for ${project}/${componentName}; there is nothing to ${input.redeploy ? 'redeploy' : 'roll back'}`,
    );
  let target = active;
  if (!input.redeploy) {
    const mine = deps.store.db
      .selectFrom('deployments')
      .selectAll()
      .where('component_id', '=', component.id)
      .where('environment_id', '=', env.id);
    const found = input.to
      ? await mine
          .where((eb) => eb.or([eb('id', '=', input.to!), eb('name', '=', input.to!)]))
          .orderBy('created_at', 'desc')
          .executeTakeFirst()
      : await mine.where('status', '=', 'superseded').orderBy('updated_at', 'desc').executeTakeFirst();
    if (!found) {
      if (input.to) throw notFound('deployment', `${input.to}' in '${env.name}`);
      throw new RondoError(
        'RONDO_ERR_CONFLICT_STATE',
        `${env.name} has no earlier deployment to roll back to`,
      );
    }
    if (found.id === active.id)
      throw new RondoError(
        'RONDO_ERR_CONFLICT_STATE',
        `${found.name ?? found.id} is already active in ${env.name}; use redeploy for fresh replicas`,
      );
    if (found.status !== 'superseded')
      throw new RondoError(
        'RONDO_ERR_CONFLICT_STATE',
        `${found.name ?? found.id} is ${found.status}: it never served in ${env.name}, so it cannot be rolled back to`,
      );
    target = found;
  }
  const release = await releaseOf(deps, target.release_id);
  await pingDataPlane(
    // A driver that loads on first need (Kubernetes) is waited for, not refused with 503.
    await deps.dataPlanes.ready({ id: env.dp_id, type: env.dp_type, config: env.dp_config }),
    env.dp_name,
  );
  const action = input.redeploy ? 'redeploy' : 'rollback';
  const audit = {
    permission: env.production ? 'deploy:production' : 'deploy',
    action: `deployment.${action}`,
    resourceType: 'deployment',
    resource: `${project}/${componentName}@${env.name} (to ${target.name ?? target.id})`,
  } as const;
  const spec = target.spec;
  const id = await mutateInOrg(deps, ctx, orgName, audit, (tx) =>
    insertDeployment(tx, {
      orgId: org.id,
      componentId: component.id,
      environmentId: env.id,
      release,
      config: (spec.config ?? []) as ConfigItem[],
      configRevision: target.config_revision ?? 0,
      replicas: active.replicas ?? 1,
      action,
      sourceId: target.id,
      createdBy: ctx.actor.userName,
      task: spec.task,
      // Back to what ran then, limits included: a limit that broke the new one is undone too.
      resources: spec.resources,
    }),
  );
  deps.enqueue(id);
  return viewOf(deps, org.id, id);
}
