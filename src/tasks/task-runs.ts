import { redact } from '../configuration/materialize.js';
import type { ControlDeps, RequestContext } from '../control/context.js';
import { findComponent, findEnvironment } from '../control/lookups.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import type { DataPlaneDriver } from '../dataplane/driver.js';
import { invalid, notFound, RondoError } from '../domain/errors.js';
import type { Execution } from '../domain/resources.js';
import { argProblems, EXECUTION_STATUSES, type ExecutionStatus, isTask } from '../domain/task.js';
import type { Executor } from '../store/store.js';
import type { ExecutionRunner } from './executions.js';

import type { Scheduler } from './scheduler.js';

/** What the task use cases need besides the store. */
export interface TaskDeps extends ControlDeps {
  runner: ExecutionRunner;
  scheduler: Scheduler;
}

function executionsOf(db: Executor, orgId: string) {
  return db
    .selectFrom('executions as x')
    .innerJoin('components as c', 'c.id', 'x.component_id')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .innerJoin('environments as e', 'e.id', 'x.environment_id')
    .innerJoin('deployments as d', 'd.id', 'x.deployment_id')
    .leftJoin('releases as r', 'r.id', 'd.release_id')
    .select([
      'x.id',
      'x.trigger',
      'x.triggered_by',
      'x.created_at',
      'x.due_at',
      'x.args',
      'x.status',
      'x.status_reason',
      'x.exit_code',
      'x.started_at',
      'x.finished_at',
      'x.logs_truncated',
      'x.workload_id',
      'x.environment_id',
      'x.deployment_id',
      'd.name as deployment',
      'r.build_id',
      'r.commit',
      'c.name as component',
      'p.name as project',
      'e.name as environment',
      'e.production',
    ])
    .where('x.org_id', '=', orgId);
}

type ExecutionJoined = Awaited<ReturnType<ReturnType<typeof executionsOf>['executeTakeFirstOrThrow']>>;

function toExecution(r: ExecutionJoined): Execution {
  const started = r.started_at ? new Date(r.started_at) : null;
  const finished = r.finished_at ? new Date(r.finished_at) : null;
  return {
    id: r.id,
    project: r.project,
    component: r.component,
    environment: r.environment,
    trigger: r.trigger as Execution['trigger'],
    triggeredBy: r.triggered_by,
    triggeredAt: new Date(r.created_at).toISOString(),
    dueAt: r.due_at ? new Date(r.due_at).toISOString() : null,
    revision: {
      deployment: r.deployment,
      deploymentId: r.deployment_id,
      build: r.build_id,
      commit: r.commit,
    },
    args: r.args,
    status: r.status as ExecutionStatus,
    reason: r.status_reason,
    exitCode: r.exit_code,
    startedAt: started?.toISOString() ?? null,
    finishedAt: finished?.toISOString() ?? null,
    durationMs: started && finished ? Math.max(0, finished.getTime() - started.getTime()) : null,
    logsTruncated: r.logs_truncated,
  };
}

/** The active deployment of a task in an environment, or a 409 that says how to get one. */
async function activeTaskDeployment(
  deps: TaskDeps,
  component: { id: string; name: string; project: string },
  env: { id: string; name: string },
) {
  const active = await deps.store.db
    .selectFrom('deployments')
    .select(['id', 'name', 'spec'])
    .where('component_id', '=', component.id)
    .where('environment_id', '=', env.id)
    .where('status', '=', 'active')
    .executeTakeFirst();
  if (!active)
    throw new RondoError(
      'RONDO_ERR_CONFLICT_STATE',
      `${component.project}/${component.name} is not deployed in ${env.name}; deploy it first (rondo deploy ${component.name} --env ${env.name})`,
    );
  return active;
}

/**
 * Runs a task now (§8), with optional arguments appended to the image's entrypoint. Checked
 * before anything is recorded: the component is a task, the arguments are clean, the task is
 * deployed in the environment.
 */
export async function runTask(
  deps: TaskDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
  input: { environment: string; args?: string[]; trigger?: 'manual' | 'api' },
): Promise<Execution> {
  const args = input.args ?? [];
  const problems = argProblems(args);
  if (problems.length) throw invalid(problems);
  const { org } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  if (!isTask(component.type))
    throw invalid([
      {
        field: 'component',
        message: `${project}/${componentName} is a ${component.type}, which runs all the time; only scheduled-task and manual-task components run on demand`,
      },
    ]);
  const env = await findEnvironment(deps.store.db, org.id, input.environment);
  const active = await activeTaskDeployment(deps, component, env);
  await mutateInOrg(
    deps,
    ctx,
    orgName,
    {
      permission: env.production ? 'deploy:production' : 'deploy',
      action: 'execution.create',
      resourceType: 'execution',
      resource: `${project}/${componentName}@${env.name}`,
    },
    async () => undefined,
  );
  const id = await deps.runner.start(active.id, {
    trigger: input.trigger ?? 'api',
    triggeredBy: ctx.actor.userName,
    args,
  });
  return getExecution(deps, ctx, orgName, id!);
}

export interface ExecutionFilter {
  environment?: string;
  status?: string;
  since?: string;
  limit?: number;
}

/** History of a task's executions, newest first, with the counts per status of the last 30 days. */
export async function listExecutions(
  deps: TaskDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
  filter: ExecutionFilter,
): Promise<{ items: Execution[]; last30Days: Record<string, number> }> {
  const problems = [];
  if (filter.status !== undefined && !(EXECUTION_STATUSES as readonly string[]).includes(filter.status))
    problems.push({ field: 'status', message: `use one of ${EXECUTION_STATUSES.join(', ')}` });
  const since = filter.since === undefined ? undefined : parseSince(filter.since);
  if (since === null)
    problems.push({
      field: 'since',
      message: 'give a time (2026-11-22T10:00:00Z) or a duration (30m, 6h, 7d)',
    });
  if (problems.length) throw invalid(problems);
  const { org } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  const env = filter.environment
    ? await findEnvironment(deps.store.db, org.id, filter.environment)
    : undefined;
  let q = executionsOf(deps.store.db, org.id).where('x.component_id', '=', component.id);
  if (env) q = q.where('x.environment_id', '=', env.id);
  if (filter.status) q = q.where('x.status', '=', filter.status);
  if (since) q = q.where('x.created_at', '>=', since);
  const rows = await q
    .orderBy('x.created_at', 'desc')
    .orderBy('x.id', 'desc')
    .limit(filter.limit ?? 50)
    .execute();
  let counts = deps.store.db
    .selectFrom('executions')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('component_id', '=', component.id)
    .where('created_at', '>=', new Date(Date.now() - 30 * 86_400_000))
    .groupBy('status');
  if (env) counts = counts.where('environment_id', '=', env.id);
  const last30Days: Record<string, number> = {};
  for (const c of await counts.execute()) last30Days[c.status] = Number(c.n);
  return { items: rows.map(toExecution), last30Days };
}

/** `since`: an ISO time, or a duration back from now (`90s`, `30m`, `6h`, `7d`); null when neither. */
export function parseSince(since: string): Date | null {
  const m = /^(\d+)([smhd])$/.exec(since);
  if (m) return new Date(Date.now() - Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's']);
  const t = Date.parse(since);
  return /^\d{4}-\d{2}-\d{2}/.test(since) && Number.isFinite(t) ? new Date(t) : null;
}

/** An execution of the caller's organization with its stored log, or 404. */
async function findExecution(deps: TaskDeps, ctx: RequestContext, orgName: string, id: string) {
  const { org } = await readInOrg(deps, ctx, orgName);
  const row = await executionsOf(deps.store.db, org.id)
    .select('x.logs')
    .where('x.id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('execution', id);
  return { org, row };
}

export async function getExecution(
  deps: TaskDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
): Promise<Execution> {
  return toExecution((await findExecution(deps, ctx, orgName, id)).row);
}

/**
 * An execution's logs: the stored text once it has ended; while it runs, the data plane and the
 * container to follow (the caller streams, redacting as it goes).
 */
export async function executionLogs(
  deps: TaskDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
): Promise<{
  execution: Execution;
  logs: string;
  live?: { dp: DataPlaneDriver; workloadId: string; secrets: string[] };
}> {
  const { row } = await findExecution(deps, ctx, orgName, id);
  const execution = toExecution(row);
  if (row.status !== 'running' || !row.workload_id) return { execution, logs: row.logs };
  return {
    execution,
    logs: row.logs,
    live: {
      dp: await deps.runner.planeOfEnvironment(row.environment_id),
      workloadId: row.workload_id,
      secrets: await deps.runner.secretsOfDeployment(row.deployment_id),
    },
  };
}

/** Cancels a running execution (SIGTERM, then SIGKILL after the grace period); 409 when it has ended. */
export async function cancelExecution(
  deps: TaskDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
): Promise<Execution> {
  const { org, row } = await findExecution(deps, ctx, orgName, id);
  await mutateInOrg(
    deps,
    ctx,
    orgName,
    {
      permission: row.production ? 'deploy:production' : 'deploy',
      action: 'execution.cancel',
      resourceType: 'execution',
      resource: id,
    },
    async () => undefined,
  );
  const ended = await deps.runner.end(id, {
    status: 'cancelled',
    reason: `cancelled by ${ctx.actor.userName}`,
  });
  if (!ended)
    throw new RondoError('RONDO_ERR_CONFLICT_STATE', `execution ${id} has already ended (${row.status})`);
  return toExecution(
    await executionsOf(deps.store.db, org.id).where('x.id', '=', id).executeTakeFirstOrThrow(),
  );
}

/**
 * Suspends or resumes a scheduled task's schedule in one environment. Resuming does not run what
 * came due while suspended: the schedule goes on from now.
 */
export async function setScheduleSuspended(
  deps: TaskDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
  environment: string,
  suspended: boolean,
): Promise<{
  environment: string;
  suspended: boolean;
  cron: string;
  timezone: string;
  nextRunAt: string | null;
}> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  if (component.type !== 'scheduled-task')
    throw invalid([
      {
        field: 'component',
        message: `${project}/${componentName} is a ${component.type}; only a scheduled-task has a schedule`,
      },
    ]);
  const env = await findEnvironment(deps.store.db, org.id, environment);
  const active = await activeTaskDeployment(deps, component, env);
  const schedule = active.spec.task?.schedule;
  await mutateInOrg(
    deps,
    ctx,
    orgName,
    {
      permission: env.production ? 'deploy:production' : 'deploy',
      action: suspended ? 'schedule.suspend' : 'schedule.resume',
      resourceType: 'schedule',
      resource: `${project}/${componentName}@${env.name}`,
    },
    async (tx) => {
      const now = new Date();
      await tx
        .insertInto('task_schedules')
        .values({
          component_id: component.id,
          environment_id: env.id,
          suspended,
          last_due_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc
            .columns(['component_id', 'environment_id'])
            .doUpdateSet(
              suspended ? { suspended, updated_at: now } : { suspended, last_due_at: now, updated_at: now },
            ),
        )
        .execute();
    },
  );
  await deps.scheduler.sync();
  const next = suspended ? undefined : deps.scheduler.nextDue(component.id, env.id);
  return {
    environment: env.name,
    suspended,
    cron: schedule?.cron ?? '',
    timezone: schedule?.timezone ?? 'UTC',
    nextRunAt: next?.toISOString() ?? null,
  };
}

/**
 * An execution's log as text chunks: the stored log once it has ended; while it runs, what the
 * container has printed and, with `follow`, what it prints until it exits. Secrets are redacted
 * line by line before anything leaves.
 */
export async function* executionLogText(
  deps: TaskDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
  follow: boolean,
): AsyncGenerator<string> {
  let found = await executionLogs(deps, ctx, orgName, id);
  // Just triggered: its container is being created (or its image pulled); follow waits for it,
  // told by the runner when it runs here, else by asking the store.
  const watch = follow ? deps.runner.watch(id) : undefined;
  if (watch && !found.live && found.execution.status === 'running') {
    await watch.started;
    const live = watch.live();
    found = live ? { ...found, live } : await executionLogs(deps, ctx, orgName, id);
  }
  for (let pause = 20; follow && !found.live && found.execution.status === 'running'; ) {
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 200);
    found = await executionLogs(deps, ctx, orgName, id);
  }
  if (!found.live) {
    yield found.logs;
    return;
  }
  const { dp, workloadId, secrets } = found.live;
  let stream: NodeJS.ReadableStream | undefined;
  if (follow) stream = await dp.jobs.follow(workloadId).catch(() => undefined);
  if (!stream) {
    // Not following, or the container went between the two reads: what there is now.
    const now = await dp.jobs.logs(workloadId, 100_000).catch(() => undefined);
    if (now !== undefined) yield redact(now, secrets);
    else yield (await executionLogs(deps, ctx, orgName, id)).logs;
    return;
  }
  let partial = '';
  let sent = '';
  try {
    for await (const chunk of stream) {
      const text = partial + chunk.toString();
      const cut = text.lastIndexOf('\n') + 1;
      partial = text.slice(cut);
      if (cut > 0) {
        const out = redact(text.slice(0, cut), secrets);
        sent += out;
        yield out;
      }
    }
  } catch {
    // The container went mid-stream (removed after its run): the stored log completes it below.
  }
  if (partial) {
    sent += redact(partial, secrets);
    yield redact(partial, secrets);
  }
  // The engine can end a follow stream before its last lines: the stored log, once written, has them.
  await watch?.ended;
  for (let i = 0; i < 100; i++) {
    const row = await deps.store.db
      .selectFrom('executions')
      .select(['status', 'logs'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (row?.status !== 'running') {
      const missing = row ? unsentRest(sent, row.logs) : '';
      if (missing) yield missing;
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * What the stored log has after the part a follower already got: found by the end of what was
 * sent (the stored log may have dropped its start). Nothing when that end is not found.
 */
export function unsentRest(sent: string, stored: string): string {
  if (!sent) return stored;
  const anchor = sent.slice(-256);
  const at = stored.lastIndexOf(anchor);
  return at < 0 ? '' : stored.slice(at + anchor.length);
}
