import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTaskImage, buildWebImage, docker } from '../helpers/images.js';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';

const P = '/api/v1/orgs/default/projects/ops/components';
const SECRET = `planted-task-secret-${Math.random().toString(36).slice(2)}`;

// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
type Json = any;

/**
 * Scheduled and manual tasks on the real engine (§8). Schedules run by the second here (the
 * test-only setting, with a 2 s minimum); every wait polls for a state, never for a fixed time,
 * except where the test shows that something does *not* happen.
 */
describe('tasks', () => {
  let t: PlatformTestRondo;

  const createTask = async (
    name: string,
    type: string,
    config: Record<string, string> = {},
    secret?: string,
  ) => {
    const c = await t.call('POST', P, { body: { name, type, source: { image: 'rondo-test-task:v1' } } });
    expect(c.status).toBe(201);
    const set = Object.entries(config).map(([key, value]) => ({ key, value }));
    if (secret) set.push({ key: 'API_KEY', value: secret, secret: true } as never);
    if (set.length) {
      const r = await t.call('PATCH', `${P}/${name}/config`, { body: { set } });
      expect(r.status).toBe(200);
    }
  };
  const deploy = async (name: string, body: Record<string, unknown> = {}) => {
    const d = await t.call('POST', `${P}/${name}/deployments`, {
      body: { environment: 'development', ...body },
    });
    expect(d.status, JSON.stringify(d.body)).toBe(202);
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
    return d.body;
  };
  const run = async (name: string, args: string[] = []) => {
    const r = await t.call('POST', `${P}/${name}/executions`, { body: { environment: 'development', args } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body;
  };
  const execution = async (id: string): Promise<Json> =>
    (await t.call('GET', `/api/v1/orgs/default/executions/${id}`)).body;
  const ended = async (id: string, timeoutMs = 30_000): Promise<Json> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const x = await execution(id);
      if (x.status !== 'running') return x;
      if (Date.now() > deadline) throw new Error(`execution ${id} still running`);
      await sleep(100);
    }
  };
  const logsOf = async (id: string): Promise<string> => {
    const res = await t.rondo.api.inject({
      method: 'GET',
      url: `/api/v1/orgs/default/executions/${id}/logs`,
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(res.statusCode).toBe(200);
    return res.body;
  };
  const history = async (name: string, query = ''): Promise<Json> =>
    (await t.call('GET', `${P}/${name}/executions?environment=development${query}`)).body;
  const waitHistory = async (name: string, what: string, check: (items: Json[]) => boolean) => {
    const deadline = Date.now() + 40_000;
    for (;;) {
      const h = await history(name);
      if (check(h.items)) return h.items as Json[];
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(h.items)}`);
      await sleep(200);
    }
  };
  /** The run's container, polled until it is gone: removal follows the record. */
  const leftover = async (executionId: string) => {
    for (let i = 0; i < 50 && (await containersOf(executionId)).length > 0; i++) await sleep(100);
    return containersOf(executionId);
  };
  const containersOf = async (executionId: string) =>
    docker.listContainers({ all: true, filters: { label: [`rondo.execution=${executionId}`] } });

  beforeAll(async () => {
    await Promise.all([
      buildTaskImage('rondo-test-task:v1'),
      buildWebImage('rondo-test-web:v1', { body: 'hello v1' }),
    ]);
    t = await startPlatformRondo(
      'pglite',
      {},
      { tasks: { scheduleRules: { allowSeconds: true, minIntervalSeconds: 2 }, logLimitBytes: 4096 } },
    );
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'ops' } });
  }, 120_000);
  afterAll(async () => {
    await t?.rondo.tasks?.runner.idle();
    await t?.close();
  });

  it('refuses bad schedules and bad runs with the field and the fix, and records nothing', async () => {
    await createTask('nightly', 'scheduled-task', { GREETING: 'hi' });
    await createTask('job', 'manual-task', {}, SECRET);
    await t.call('POST', P, {
      body: {
        name: 'web',
        type: 'service',
        source: { image: 'rondo-test-web:v1' },
        endpoints: [{ port: 8080 }],
      },
    });
    const refused = async (
      name: string,
      body: Record<string, unknown>,
      status: number,
      field: string,
      text?: RegExp,
    ) => {
      const r = await t.call('POST', `${P}/${name}/deployments`, {
        body: { environment: 'development', ...body },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.body.errors?.map((e: { field: string }) => e.field) ?? []).toContain(field);
      if (text) expect(r.body.detail).toMatch(text);
    };
    await refused('nightly', {}, 400, 'cron', /needs a schedule/);
    await refused('nightly', { cron: '61 * * * *' }, 400, 'cron', /not a cron expression: .*minute/);
    await refused('nightly', { cron: '* * * *' }, 400, 'cron', /five, six, or seven|5 or 6/);
    await refused('nightly', { cron: '0 3 * * *', timezone: 'Mars/Olympus' }, 400, 'timezone', /IANA/);
    await refused(
      'nightly',
      { cron: '* * * * * *' },
      400,
      'cron',
      /every 1 s; this site allows at most one run every 2 s/,
    );
    await refused('job', { cron: '0 3 * * *' }, 400, 'cron', /runs on demand/);
    await refused('web', { timeoutSeconds: 10 }, 400, 'timeoutSeconds', /no task settings/);

    const badRun = async (name: string, body: Record<string, unknown>, status: number, field?: string) => {
      const r = await t.call('POST', `${P}/${name}/executions`, {
        body: { environment: 'development', ...body },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.headers['content-type']).toContain('application/problem+json');
      if (field) expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      return r.body;
    };
    await badRun('job', { args: ['ok', 'two\nlines'] }, 400, 'args[1]');
    await badRun('job', { args: ['nul\u0000byte'] }, 400, 'args.0');
    await badRun('web', {}, 400, 'component');
    expect((await badRun('job', {}, 409)).detail).toMatch(/not deployed in development; deploy it first/);
    await badRun('missing', {}, 404);
    await badRun('job', { environment: 'nowhere' }, 404);
    expect(await t.rondo.store.db.selectFrom('executions').selectAll().execute()).toEqual([]);
    expect(await t.rondo.store.db.selectFrom('deployments').selectAll().execute()).toEqual([]);
  });

  it('a manual run passes its arguments as an argv array and its exit code becomes the execution’s', async () => {
    const d = await deploy('job', { timeoutSeconds: 3 });
    expect(d).toMatchObject({
      replicas: 0,
      endpoints: [],
      task: { concurrencyPolicy: 'forbid', timeoutSeconds: 3 },
    });
    const x = await run('job', ['hello world', '$HOME', '; echo injected']);
    expect(x).toMatchObject({
      status: 'running',
      trigger: 'api',
      args: ['hello world', '$HOME', '; echo injected'],
    });
    const done = await ended(x.id);
    expect(done).toMatchObject({ status: 'succeeded', exitCode: 0, revision: { deployment: d.name } });
    expect(done.durationMs).toBeGreaterThanOrEqual(0);
    expect(await logsOf(x.id)).toBe('task says: hello world $HOME ; echo injected\n');
    expect(await leftover(x.id)).toEqual([]);

    // The last line is kept even without its newline.
    const partial = await ended((await run('job', ['partial', 'no newline at the end'])).id);
    expect(await logsOf(partial.id)).toBe('task says: partial no newline at the end\nno newline at the end');

    const failed = await ended((await run('job', ['exit', '3'])).id);
    expect(failed).toMatchObject({ status: 'failed', exitCode: 3, reason: 'exited with code 3' });
  });

  it('a timeout marks the run timed-out and kills its container; cancel stops a run', async () => {
    const slow = await run('job', ['sleep', '30']);
    const timedOut = await ended(slow.id, 20_000);
    expect(timedOut).toMatchObject({ status: 'timed-out', reason: expect.stringMatching(/timeout of 3 s/) });
    expect(await logsOf(slow.id)).toContain('sleeping 30');
    expect(await logsOf(slow.id)).not.toContain('slept');
    expect(await leftover(slow.id)).toEqual([]);

    await deploy('job', { timeoutSeconds: 300 });
    const long = await run('job', ['sleep', '30']);
    // Cancel once it has printed, so its log shows it ran.
    for (let i = 0; i < 100 && !(await logsOf(long.id)).includes('sleeping'); i++) await sleep(100);
    const cancel = await t.call('POST', `/api/v1/orgs/default/executions/${long.id}/cancel`);
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ status: 'cancelled', reason: 'cancelled by admin' });
    const after = await ended(long.id);
    expect(after.status).toBe('cancelled');
    expect(await leftover(long.id)).toEqual([]);
    const again = await t.call('POST', `/api/v1/orgs/default/executions/${long.id}/cancel`);
    expect(again.status).toBe(409);
  });

  it('keeps secrets out of execution logs and the store; caps a long log and says so', async () => {
    const x = await ended((await run('job', ['secret'])).id);
    expect(x.status).toBe('succeeded');
    const text = await logsOf(x.id);
    expect(text).toContain('the key is ***');
    expect(text).not.toContain(SECRET);
    const rows = await t.rondo.store.db.selectFrom('executions').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(SECRET);

    const spam = await ended((await run('job', ['spam', '2000'])).id);
    expect(spam).toMatchObject({ status: 'succeeded', logsTruncated: true });
    const capped = await logsOf(spam.id);
    expect(capped).toMatch(
      /^\[rondo: the first \d+ bytes of this log were dropped; an execution keeps its last 4096 bytes\]\n/,
    );
    expect(capped).toContain('line 1999 of spam\n');
    expect(capped).not.toContain('line 0 of spam');
  });

  it('runs a schedule with the environment’s configuration; suspend stops it and resume goes on', async () => {
    const d = await deploy('nightly', { cron: '*/2 * * * * *', timezone: 'Europe/Berlin' });
    expect(d.task).toMatchObject({ schedule: { cron: '*/2 * * * * *', timezone: 'Europe/Berlin' } });
    const items = await waitHistory(
      'nightly',
      'two scheduled runs',
      (xs) => xs.filter((x) => x.status === 'succeeded').length >= 2,
    );
    const ok = items.filter((x) => x.status === 'succeeded');
    for (const x of ok) {
      expect(x).toMatchObject({
        trigger: 'schedule',
        triggeredBy: 'scheduler',
        exitCode: 0,
        revision: { deployment: d.name },
      });
      expect(new Date(x.dueAt).getUTCSeconds() % 2).toBe(0);
      expect(await logsOf(x.id)).toBe('task says: echo\ngreeting=hi\n');
    }
    const counts = (await history('nightly')).last30Days;
    expect(counts.succeeded).toBeGreaterThanOrEqual(2);

    const suspend = await t.call('PUT', `${P}/nightly/schedules/development`, { body: { suspended: true } });
    expect(suspend.body).toMatchObject({ suspended: true, cron: '*/2 * * * * *', nextRunAt: null });
    await t.rondo.tasks!.runner.idle();
    await sleep(300); // a due time being recorded as the schedule was suspended settles
    await t.rondo.tasks!.runner.idle();
    const before = (await history('nightly')).items.length;
    await sleep(4500); // two due times pass while suspended
    expect((await history('nightly')).items.length).toBe(before);
    const resume = await t.call('PUT', `${P}/nightly/schedules/development`, { body: { suspended: false } });
    expect(resume.body.nextRunAt).not.toBeNull();
    await waitHistory('nightly', 'a run after resume', (xs) => xs.length > before);
    await t.call('PUT', `${P}/nightly/schedules/development`, { body: { suspended: true } });
  });

  it('forbid skips a run while the previous one runs and records it; replace cancels the running one', async () => {
    await createTask('slow', 'scheduled-task', { MODE: 'sleep', MODE_ARG: '5' });
    await deploy('slow', { cron: '*/2 * * * * *', concurrencyPolicy: 'forbid' });
    const items = await waitHistory('slow', 'a skipped run', (xs) => xs.some((x) => x.status === 'skipped'));
    const skipped = items.find((x) => x.status === 'skipped');
    expect(skipped.reason).toMatch(/^execution exe_\w+ was still running \(concurrency policy forbid\)$/);
    // Never two at once: the started runs' lifetimes do not overlap.
    const started = (await history('slow')).items.filter((x: Json) => x.startedAt);
    const spans = started.map((x: Json) => [
      Date.parse(x.startedAt),
      x.finishedAt ? Date.parse(x.finishedAt) : Infinity,
    ]);
    for (const [i, a] of spans.entries())
      for (const b of spans.slice(i + 1)) expect(a[0] >= b[1] || b[0] >= a[1]).toBe(true);

    await deploy('slow', { concurrencyPolicy: 'replace' });
    const replaced = await waitHistory('slow', 'a replaced run', (xs) =>
      xs.some((x) => x.status === 'cancelled' && /replaced by the run due at/.test(x.reason)),
    );
    expect(replaced.find((x) => x.status === 'cancelled').trigger).toBe('schedule');
    await t.call('PUT', `${P}/slow/schedules/development`, { body: { suspended: true } });
    const h = await history('slow', '&status=skipped');
    expect(h.items.every((x: Json) => x.status === 'skipped')).toBe(true);
    expect((await t.call('GET', `${P}/slow/executions?status=bogus`)).status).toBe(400);
    expect((await t.call('GET', `${P}/slow/executions?since=yesterday`)).status).toBe(400);
    expect((await history('slow', '&since=1h')).items.length).toBeGreaterThan(0);
  });

  it('a task reaches the project’s services by name on its network', async () => {
    await deploy('web');
    const x = await ended((await run('job', ['wget', 'http://web:8080/'])).id);
    expect(x.status).toBe('succeeded');
    expect(await logsOf(x.id)).toContain('hello v1');
  });

  it('promotes a task like a service: the same image and task settings, the target’s own configuration', async () => {
    const dev = (await history('job')).items[0].revision.deployment;
    await t.call('PATCH', `${P}/job/config`, {
      body: { environment: 'production', set: [{ key: 'GREETING', value: 'prod' }] },
    });
    const promoted = await t.call('POST', `${P}/job/promotions`, {
      body: { from: 'development', to: 'production' },
    });
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(202);
    const d = promoted.body.deployment;
    expect(await waitForDeployment(t, 'default', d.id)).toMatchObject({ status: 'active', reason: null });
    const view = (await t.call('GET', `/api/v1/orgs/default/deployments/${d.id}`)).body;
    expect(view).toMatchObject({ replicas: 0, task: { timeoutSeconds: 300, concurrencyPolicy: 'forbid' } });
    expect(view.release).toBe(dev.split('.')[0]);
    const r = await t.call('POST', `${P}/job/executions`, {
      body: { environment: 'production', args: ['x'] },
    });
    expect(r.status).toBe(202);
    const x = await ended(r.body.id);
    expect(x).toMatchObject({
      status: 'succeeded',
      environment: 'production',
      revision: { deployment: view.name },
    });
    expect(await logsOf(x.id)).toBe('task says: x\ngreeting=prod\n');
  });

  it('starts runs in the network’s sandbox, and runs on when the sandbox is removed behind its back', async () => {
    const x = await run('job', ['sleep', '2']);
    for (let i = 0; i < 100 && (await containersOf(x.id)).length === 0; i++) await sleep(50);
    const [c] = await containersOf(x.id);
    const mode = (await docker.getContainer(c!.Id).inspect()).HostConfig.NetworkMode ?? '';
    expect(mode).toMatch(/^container:[0-9a-f]{64}$/);
    const sandbox = await docker.getContainer(mode.slice('container:'.length)).inspect();
    expect(sandbox.Config.Labels).toMatchObject({
      'rondo.instance': t.instance,
      'rondo.project': 'ops',
      'rondo.environment': 'development',
    });
    expect(Object.keys(sandbox.NetworkSettings.Networks)).toEqual([
      `rondo.${t.instance}.default.ops.development`,
    ]);
    expect((await ended(x.id)).status).toBe('succeeded');

    await docker.getContainer(sandbox.Id).remove({ force: true });
    for (const args of [
      ['wget', 'http://web:8080/'],
      ['wget', 'http://web:8080/'],
    ]) {
      const y = await ended((await run('job', args)).id);
      expect(y.status).toBe('succeeded');
      expect(await logsOf(y.id)).toContain('hello v1 (wget exit 0)');
    }
  });
});
