import type { Executor } from '../store/store.js';

/** Everything a rollout needs to know about where a deployment goes, in one query. */
export function deploymentTargets(db: Executor) {
  return db
    .selectFrom('deployments as d')
    .innerJoin('components as c', 'c.id', 'd.component_id')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .innerJoin('organizations as o', 'o.id', 'd.org_id')
    .innerJoin('environments as e', 'e.id', 'd.environment_id')
    .innerJoin('data_planes as dp', 'dp.id', 'e.data_plane_id')
    .select([
      'd.id',
      'd.status',
      'd.spec',
      'd.component_id',
      'd.environment_id',
      'd.org_id',
      'c.project_id',
      'd.created_at',
      'c.name as component',
      'c.type as component_type',
      'p.name as project',
      'o.name as org',
      'e.name as environment',
      'e.gateway_slot',
      'dp.id as data_plane_id',
      'dp.type as data_plane_type',
      'dp.config as data_plane_config',
    ]);
}

export type DeploymentTarget = Awaited<
  ReturnType<ReturnType<typeof deploymentTargets>['executeTakeFirstOrThrow']>
>;

/** What a replica answers to on its (project, environment) network (§6.4). */
export const replicaNames = (t: Pick<DeploymentTarget, 'component' | 'project'>) => [
  t.component,
  `${t.component}.${t.project}`,
];
