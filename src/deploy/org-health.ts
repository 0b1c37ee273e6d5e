import { sql } from 'kysely';
import type { ControlDeps, RequestContext } from '../control/context.js';
import { readInOrg } from '../control/org-access.js';

/** How a component stands in one environment, from its newest deployment there. */
export type HealthState = 'active' | 'deploying' | 'failed' | 'notDeployed';

export interface ProjectHealth {
  project: string;
  components: number;
  /** Per environment of the organization, in name order: components per state. */
  environments: { environment: string; counts: Record<HealthState, number> }[];
}

/**
 * The organization page's overview (G4): per project and environment, how many components run
 * (newest deployment active), are being deployed, failed their newest rollout (an older release
 * may still serve), or are not deployed. From the store alone (one query per kind), so it stays cheap with 1,000 components.
 */
export async function organizationHealth(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
): Promise<ProjectHealth[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const db = deps.store.db;
  const projects = await db
    .selectFrom('projects as p')
    .leftJoin('components as c', 'c.project_id', 'p.id')
    .select(['p.name', (eb) => eb.fn.count<string>('c.id').as('components')])
    .where('p.org_id', '=', org.id)
    .groupBy('p.name')
    .orderBy('p.name')
    .execute();
  const environments = await db
    .selectFrom('environments')
    .select(['id', 'name'])
    .where('org_id', '=', org.id)
    .orderBy('name')
    .execute();
  // The newest deployment of each component in each environment, counted by project and status.
  const { rows } = await sql<{ project: string; environment_id: string; status: string; n: string }>`
    select p.name as project, d.environment_id, d.status, count(*) as n
    from (
      select distinct on (component_id, environment_id) component_id, environment_id, status
      from deployments where org_id = ${org.id}
      order by component_id, environment_id, created_at desc
    ) d
    join components c on c.id = d.component_id
    join projects p on p.id = c.project_id
    group by p.name, d.environment_id, d.status`.execute(db);
  const counted = new Map<string, Record<HealthState, number>>();
  const countsOf = (project: string, environmentId: string) => {
    const key = `${project}\0${environmentId}`;
    const counts = counted.get(key) ?? { active: 0, deploying: 0, failed: 0, notDeployed: 0 };
    counted.set(key, counts);
    return counts;
  };
  for (const r of rows) {
    const state = stateOf(r.status);
    if (state) countsOf(r.project, r.environment_id)[state] += Number(r.n);
  }
  return projects.map((p) => ({
    project: p.name,
    components: Number(p.components),
    environments: environments.map((e) => {
      const counts = countsOf(p.name, e.id);
      counts.notDeployed = Number(p.components) - counts.active - counts.deploying - counts.failed;
      return { environment: e.name, counts };
    }),
  }));
}

function stateOf(status: string): Exclude<HealthState, 'notDeployed'> | undefined {
  if (status === 'active') return 'active';
  if (status === 'pending' || status === 'rolling-out') return 'deploying';
  if (status === 'failed') return 'failed';
  // The newest deployment superseded: what replaced it was removed (an undeploy); counted as not deployed.
  return undefined;
}
