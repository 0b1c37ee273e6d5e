import { invalid } from '../domain/errors.js';
import {
  type ConcurrencyPolicy,
  isTask,
  type ScheduleRules,
  scheduleProblems,
  TASK_DEFAULTS,
  type TaskSpec,
} from '../domain/task.js';
import type { Executor } from '../store/store.js';

/** What a deploy may say about a task; anything left out keeps the environment's current value. */
export interface TaskInput {
  cron?: string;
  timezone?: string;
  concurrencyPolicy?: ConcurrencyPolicy;
  timeoutSeconds?: number;
  startingDeadlineSeconds?: number;
}

/** The task spec of the deployment active in an environment, if it is a task's. */
export async function activeTaskSpec(
  db: Executor,
  componentId: string,
  environmentId: string,
): Promise<TaskSpec | undefined> {
  const row = await db
    .selectFrom('deployments')
    .select('spec')
    .where('component_id', '=', componentId)
    .where('environment_id', '=', environmentId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return (row?.spec as { task?: TaskSpec } | null | undefined)?.task;
}

/**
 * The task spec of a new deployment: what the deploy says, over what the environment runs now,
 * over the defaults. Refuses (400, naming the field) a schedule on anything but a scheduled task,
 * a scheduled task without one, and a schedule croner rejects or the site finds too frequent.
 */
export async function resolveTaskSpec(
  db: Executor,
  component: { id: string; type: string },
  environmentId: string,
  input: TaskInput | undefined,
  rules: ScheduleRules,
): Promise<TaskSpec | undefined> {
  const given = Object.entries(input ?? {}).filter(([, v]) => v !== undefined);
  if (!isTask(component.type)) {
    if (given.length)
      throw invalid(
        given.map(([field]) => ({
          field,
          message: `a ${component.type} has no task settings; only scheduled-task and manual-task components do`,
        })),
      );
    return undefined;
  }
  const current = await activeTaskSpec(db, component.id, environmentId);
  const spec: TaskSpec = {
    concurrencyPolicy:
      input?.concurrencyPolicy ?? current?.concurrencyPolicy ?? TASK_DEFAULTS.concurrencyPolicy,
    timeoutSeconds: input?.timeoutSeconds ?? current?.timeoutSeconds ?? TASK_DEFAULTS.timeoutSeconds,
    startingDeadlineSeconds:
      input?.startingDeadlineSeconds ??
      current?.startingDeadlineSeconds ??
      TASK_DEFAULTS.startingDeadlineSeconds,
  };
  if (component.type === 'manual-task') {
    if (input?.cron !== undefined || input?.timezone !== undefined)
      throw invalid([
        {
          field: input?.cron !== undefined ? 'cron' : 'timezone',
          message: 'a manual-task runs on demand (rondo run); make it a scheduled-task to give it a schedule',
        },
      ]);
    return spec;
  }
  const cron = input?.cron ?? current?.schedule?.cron;
  if (cron === undefined)
    throw invalid([
      {
        field: 'cron',
        message:
          'a scheduled-task needs a schedule: give a 5-field cron expression (--cron "0 3 * * *") and a time zone (--timezone, default UTC)',
      },
    ]);
  const schedule = { cron, timezone: input?.timezone ?? current?.schedule?.timezone ?? 'UTC' };
  const problems = scheduleProblems(schedule, rules, 'schedule');
  if (problems.length)
    throw invalid(problems.map((p) => ({ ...p, field: p.field.replace(/^schedule\./, '') })));
  return { ...spec, schedule };
}
