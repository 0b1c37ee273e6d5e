import type { DataPlaneDriver } from '../dataplane/driver.js';
import type { DeploymentSpec } from '../domain/deployment-spec.js';
import { RondoError } from '../domain/errors.js';
import type { Deployment } from '../domain/resources.js';
import type { Executor } from '../store/store.js';

/** Deployments of one organization with the names a person reads (component, project, environment, release). */
export function deploymentsOf(db: Executor, orgId: string) {
  return db
    .selectFrom('deployments as d')
    .innerJoin('components as c', 'c.id', 'd.component_id')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .innerJoin('environments as e', 'e.id', 'd.environment_id')
    .leftJoin('releases as r', 'r.id', 'd.release_id')
    .selectAll('d')
    .select(['c.name as component', 'p.name as project', 'e.name as environment'])
    .select(['r.name as release', 'r.commit'])
    .where('d.org_id', '=', orgId);
}

export type DeploymentJoined = Awaited<
  ReturnType<ReturnType<typeof deploymentsOf>['executeTakeFirstOrThrow']>
>;

export function toDeployment(r: DeploymentJoined): Deployment {
  const spec = (r.spec ?? {}) as Partial<DeploymentSpec>;
  return {
    id: r.id,
    name: r.name,
    release: r.release,
    commit: r.commit,
    configRevision: r.config_revision,
    action: r.action as Deployment['action'],
    project: r.project,
    component: r.component,
    environment: r.environment,
    image: r.image ?? spec.image ?? '',
    replicas: r.replicas ?? spec.replicas ?? 0,
    status: r.status,
    reason: r.status_reason,
    phase: r.phase,
    conditions: r.conditions,
    endpoints: spec.endpoints ?? [],
    ...(spec.resources ? { resources: spec.resources } : {}),
    ...(spec.task ? { task: spec.task } : {}),
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function pingDataPlane(dp: DataPlaneDriver, name: string): Promise<void> {
  try {
    await dp.ping();
  } catch (err) {
    const detail = err instanceof RondoError ? err.message : String(err);
    throw new RondoError('RONDO_ERR_UNAVAILABLE', `data plane '${name}' is unreachable: ${detail}`, {
      cause: err,
    });
  }
}
