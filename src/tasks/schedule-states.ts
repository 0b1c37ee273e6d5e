import type { RequestContext } from '../control/context.js';
import { findComponent } from '../control/lookups.js';
import { readInOrg } from '../control/org-access.js';
import type { TaskDeps } from './task-runs.js';

export interface ScheduleState {
  environment: string;
  cron: string;
  timezone: string;
  suspended: boolean;
  nextRunAt: string | null;
}

/**
 * A scheduled task's schedule in each environment where it is deployed (active): its cron, whether
 * it is suspended, and its next due time here. Other component types have none (an empty list).
 */
export async function listSchedules(
  deps: TaskDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
): Promise<ScheduleState[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  if (component.type !== 'scheduled-task') return [];
  const rows = await deps.store.db
    .selectFrom('deployments as d')
    .innerJoin('environments as e', 'e.id', 'd.environment_id')
    .leftJoin('task_schedules as s', (join) =>
      join.onRef('s.component_id', '=', 'd.component_id').onRef('s.environment_id', '=', 'd.environment_id'),
    )
    .select(['e.id as environment_id', 'e.name as environment', 'd.spec', 's.suspended'])
    .where('d.component_id', '=', component.id)
    .where('d.status', '=', 'active')
    .orderBy('e.name')
    .execute();
  return rows.flatMap((r) => {
    const schedule = r.spec.task?.schedule;
    if (!schedule) return [];
    const suspended = r.suspended ?? false;
    const next = suspended ? undefined : deps.scheduler.nextDue(component.id, r.environment_id);
    return [
      {
        environment: r.environment,
        cron: schedule.cron,
        timezone: schedule.timezone,
        suspended,
        nextRunAt: next?.toISOString() ?? null,
      },
    ];
  });
}
