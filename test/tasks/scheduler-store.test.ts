import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/control/ids.js';
import type { ExecutionRunner, RunRequest } from '../../src/tasks/executions.js';
import { pruneExecutions } from '../../src/tasks/retention.js';
import { Scheduler } from '../../src/tasks/scheduler.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS } from '../helpers/stores.js';

/** What the scheduler asked a runner to do (a small fake: these tests are about decisions, not containers). */
class RecordingRunner {
  started: { deploymentId: string; run: RunRequest }[] = [];
  recorded: { status: string; dueAt: Date; reason: string }[] = [];
  async start(deploymentId: string, run: RunRequest) {
    this.started.push({ deploymentId, run });
    return 'exe_fake';
  }
  async record(_d: string, status: string, dueAt: Date, reason: string) {
    this.recorded.push({ status, dueAt, reason });
  }
  async running() {
    return [];
  }
}

describe.each(DRIVERS)('scheduler and retention on %s', (driver) => {
  let t: TestRondo;
  let ids: { org: string; env: string };
  const logger = pino({ level: 'silent' });

  /** A scheduled-task component with an active deployment of `task`, its schedule last due at `lastDue`. */
  const scheduledTask = async (name: string, task: Record<string, unknown>, lastDue: Date) => {
    const c = await t.call('POST', '/api/v1/orgs/default/projects/ops/components', {
      body: { name, type: 'scheduled-task', source: { image: 'busybox:1' } },
    });
    const db = t.rondo.store.db;
    const deployment = newId('dep');
    await db
      .insertInto('deployments')
      .values({
        id: deployment,
        org_id: ids.org,
        component_id: c.body.id,
        environment_id: ids.env,
        status: 'active',
        image: 'busybox:1',
        replicas: 0,
        spec: JSON.stringify({ image: 'busybox:1', replicas: 0, endpoints: [], env: {}, task }),
        created_by: 'admin',
      })
      .execute();
    await db
      .insertInto('task_schedules')
      .values({
        component_id: c.body.id,
        environment_id: ids.env,
        last_due_at: lastDue,
        updated_at: new Date(),
      })
      .execute();
    return { component: c.body.id as string, deployment };
  };

  /** What a control plane's first schedule pass (at start) does, with `runner` recording it. */
  const syncOnce = async (runner: RecordingRunner) => {
    const scheduler = new Scheduler({
      store: t.rondo.store,
      runner: runner as unknown as ExecutionRunner,
      logger,
      rules: { allowSeconds: false, minIntervalSeconds: 60 },
      resyncMs: 60_000,
    });
    await scheduler.sync();
    await scheduler.stop();
  };

  beforeAll(async () => {
    t = await startTestRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'ops' } });
    const org = await t.rondo.store.db
      .selectFrom('organizations')
      .select('id')
      .where('name', '=', 'default')
      .executeTakeFirstOrThrow();
    const env = await t.rondo.store.db
      .selectFrom('environments')
      .select('id')
      .where('org_id', '=', org.id)
      .where('name', '=', 'development')
      .executeTakeFirstOrThrow();
    ids = { org: org.id, env: env.id };
  });
  afterAll(() => t.close());

  it('after a restart, runs the newest missed due time within the deadline once and records the rest as missed', async () => {
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    const every = await scheduledTask(
      'every-minute',
      {
        schedule: { cron: '* * * * *', timezone: 'UTC' },
        concurrencyPolicy: 'forbid',
        timeoutSeconds: 60,
        startingDeadlineSeconds: 300,
      },
      tenMinutesAgo,
    );
    const yearly = await scheduledTask(
      'yearly',
      {
        schedule: { cron: '0 0 1 1 *', timezone: 'UTC' },
        concurrencyPolicy: 'forbid',
        timeoutSeconds: 60,
        startingDeadlineSeconds: 300,
      },
      new Date(Date.UTC(new Date().getUTCFullYear() - 2, 5, 1)),
    );
    const runner = new RecordingRunner();
    await syncOnce(runner);

    // every minute: 9 or 10 due times passed; the newest (under a minute ago) runs, the rest are one record.
    const run = runner.started.find((s) => s.deploymentId === every.deployment);
    expect(run?.run).toMatchObject({ trigger: 'schedule', triggeredBy: 'scheduler', args: [] });
    expect(Date.now() - run!.run.dueAt!.getTime()).toBeLessThan(60_000);
    expect(run!.run.dueAt!.getUTCSeconds()).toBe(0);
    const missed = runner.recorded.filter((r) => r.dueAt.getTime() > tenMinutesAgo.getTime());
    expect(missed).toHaveLength(1);
    expect(missed[0]!.reason).toMatch(
      /^(8|9|10) runs due from .* were missed while the control plane was down/,
    );
    expect(missed[0]!.status).toBe('missed');

    // yearly: the due times (1 January) are far past the deadline: recorded, not run.
    expect(runner.started.some((s) => s.deploymentId === yearly.deployment)).toBe(false);
    const yearlyMissed = runner.recorded.filter(
      (r) => r.dueAt.getUTCMonth() === 0 && r.dueAt.getUTCDate() === 1,
    );
    expect(yearlyMissed).toHaveLength(1);
    expect(yearlyMissed[0]!.reason).toMatch(
      /^2 runs due from \d{4}-01-01T00:00:00.000Z to \d{4}-01-01T00:00:00.000Z were missed/,
    );
    const schedule = await t.rondo.store.db
      .selectFrom('task_schedules')
      .select('last_due_at')
      .where('component_id', '=', every.component)
      .executeTakeFirstOrThrow();
    expect(new Date(schedule.last_due_at).getTime()).toBe(run!.run.dueAt!.getTime());

    // A second start finds nothing new to catch up.
    const again = new RecordingRunner();
    await syncOnce(again);
    expect(again.recorded.filter((r) => r.dueAt.getTime() < run!.run.dueAt!.getTime())).toEqual([]);
  });

  it('prunes ended executions past the age or count limit, never running ones', async () => {
    const { component, deployment } = await scheduledTask(
      'pruned',
      {
        schedule: { cron: '0 3 * * *', timezone: 'UTC' },
        concurrencyPolicy: 'forbid',
        timeoutSeconds: 60,
        startingDeadlineSeconds: 300,
      },
      new Date(),
    );
    const db = t.rondo.store.db;
    const row = (status: string, daysAgo: number) => ({
      id: newId('exe'),
      org_id: ids.org,
      component_id: component,
      environment_id: ids.env,
      deployment_id: deployment,
      trigger: 'api',
      triggered_by: 'admin',
      args: '[]',
      status,
      created_at: new Date(Date.now() - daysAgo * 86_400_000),
    });
    await db
      .insertInto('executions')
      .values([
        row('succeeded', 40),
        row('running', 40),
        row('failed', 31),
        ...Array.from({ length: 6 }, (_, i) => row('succeeded', i)),
      ])
      .execute();
    const settings = { retentionDays: 30, retentionCount: 4 };
    // 2 too old (not the running one), then 2 beyond the newest 4 of the 7 left (the running one is kept).
    expect(await pruneExecutions(t.rondo.store, settings)).toBe(4);
    const left = await db
      .selectFrom('executions')
      .select(['status', 'created_at'])
      .where('component_id', '=', component)
      .execute();
    expect(left).toHaveLength(5);
    expect(left.filter((r) => r.status === 'running')).toHaveLength(1);
  });
});
