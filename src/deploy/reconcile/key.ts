import type { Executor } from '../../store/store.js';

/** What the reconciler works on: one component in one environment. */
export interface ReconcileKey {
  componentId: string;
  environmentId: string;
}

export const keyId = (k: ReconcileKey) => `${k.componentId}/${k.environmentId}`;

/** Where a key's replicas live and how they are named, read from the store. */
export function scopeQuery(db: Executor) {
  return db
    .selectFrom('components as c')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .innerJoin('organizations as o', 'o.id', 'p.org_id')
    .innerJoin('environments as e', 'e.org_id', 'o.id')
    .innerJoin('data_planes as dp', 'dp.id', 'e.data_plane_id')
    .select([
      'c.id as component_id',
      'e.id as environment_id',
      'c.name as component',
      'p.name as project',
      'o.name as org',
      'e.name as environment',
      'dp.id as data_plane_id',
      'dp.type as data_plane_type',
      'dp.config as data_plane_config',
    ]);
}

export type ReconcileScope = Awaited<ReturnType<ReturnType<typeof scopeQuery>['executeTakeFirstOrThrow']>>;

/** The labels a key's replicas carry, as `org/project/component/environment`. */
export const scopeLabelId = (s: Pick<ReconcileScope, 'org' | 'project' | 'component' | 'environment'>) =>
  `${s.org}/${s.project}/${s.component}/${s.environment}`;
