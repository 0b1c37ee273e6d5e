import { notFound } from '../domain/errors.js';
import type { Executor } from '../store/store.js';

/** A component of an organization by project and name, with what the use cases need of it; 404 when absent. */
export async function findComponent(db: Executor, orgId: string, project: string, component: string) {
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

/** An environment of an organization by name, with its data plane; 404 when absent. */
export async function findEnvironment(db: Executor, orgId: string, name: string) {
  const row = await db
    .selectFrom('environments as e')
    .innerJoin('data_planes as dp', 'dp.id', 'e.data_plane_id')
    .select([
      'e.id',
      'e.name',
      'e.production',
      'e.gateway_slot',
      'e.approval',
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
