import type { ControlDeps, RequestContext } from '../control/context.js';
import { findComponent, findEnvironment } from '../control/lookups.js';
import { readInOrg } from '../control/org-access.js';

export interface ComponentEvent {
  createdAt: string;
  environment: string;
  deployment: string;
  kind: string;
  message: string;
}

/**
 * A component's deployment events, newest first: rollout steps and failures, liveness restarts,
 * and replica conditions (crashes with their last lines, crash loops, OOM kills).
 */
export async function listComponentEvents(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  filter: { environment?: string; limit?: number },
): Promise<{ items: ComponentEvent[] }> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const c = await findComponent(deps.store.db, org.id, project, component);
  const env = filter.environment
    ? await findEnvironment(deps.store.db, org.id, filter.environment)
    : undefined;
  let q = deps.store.db
    .selectFrom('deployment_events as ev')
    .innerJoin('deployments as d', 'd.id', 'ev.deployment_id')
    .innerJoin('environments as e', 'e.id', 'd.environment_id')
    .select([
      'ev.kind',
      'ev.message',
      'ev.created_at',
      'd.id as deployment_id',
      'd.name as deployment',
      'e.name as environment',
    ])
    .where('d.component_id', '=', c.id);
  if (env) q = q.where('d.environment_id', '=', env.id);
  const rows = await q
    .orderBy('ev.created_at', 'desc')
    .orderBy('ev.id', 'desc')
    .limit(filter.limit ?? 50)
    .execute();
  return {
    items: rows.map((r) => ({
      createdAt: r.created_at.toISOString(),
      environment: r.environment,
      deployment: r.deployment ?? r.deployment_id,
      kind: r.kind,
      message: r.message,
    })),
  };
}
