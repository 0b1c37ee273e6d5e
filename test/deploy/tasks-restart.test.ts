import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTaskImage, cleanupInstance, docker } from '../helpers/images.js';
import { platformServerEnv, startServerGateway } from '../helpers/platform.js';
import {
  cleanEnv,
  cli,
  ensureBuilt,
  type ServerProcess,
  serverApi,
  startServer,
} from '../helpers/processes.js';

const TOKEN = 'rondo_tasks_restart_test_admin_token_0123456789';
const P = '/orgs/default/projects/ops/components';

/**
 * Tasks across control plane restarts and through the CLI, with the control plane as its own
 * process so the test can kill -9 it during a run.
 */
describe('tasks across restarts and from the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-tasks-restart-'));
  let gateway: Awaited<ReturnType<typeof startServerGateway>>;
  let env: NodeJS.ProcessEnv;
  let server: ServerProcess | undefined;
  let instance = '';
  const startedAt = new Date().toISOString();

  const api = serverApi(() => server, TOKEN);
  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };
  const execution = async (id: string) => (await api('GET', `/orgs/default/executions/${id}`)).body;
  const containerOf = async (id: string) =>
    (await docker.listContainers({ all: true, filters: { label: [`rondo.execution=${id}`] } }))[0];
  const deploy = async (name: string, body: Record<string, unknown>) => {
    const d = await api('POST', `${P}/${name}/deployments`, { environment: 'development', ...body });
    expect(d.status, JSON.stringify(d.body)).toBe(202);
    await waitFor(
      `${name} active`,
      async () => (await api('GET', `/orgs/default/deployments/${d.body.id}`)).body.status === 'active',
    );
  };

  beforeAll(async () => {
    ensureBuilt();
    await buildTaskImage('rondo-test-task:v1');
    env = {
      ...(await platformServerEnv(join(dir, 'data'), TOKEN)),
      RONDO_TASKS_SECONDS_SCHEDULES: 'test-only',
      RONDO_TASKS_MIN_INTERVAL_SECONDS: '1',
    };
    gateway = await startServerGateway(env);
    server = await startServer(env);
    await api('POST', '/orgs/default/projects', { name: 'ops' });
    for (const [name, type] of [
      ['job', 'manual-task'],
      ['tick', 'scheduled-task'],
    ])
      await api('POST', P, { name, type, source: { image: 'rondo-test-task:v1' } });
    await deploy('job', {});
  }, 120_000);
  afterAll(async () => {
    await server?.stop('SIGKILL');
    // The instance from what it ran, even when the first test failed before it noted it.
    if (!instance) {
      const nets = await docker.listNetworks({ filters: { label: ['rondo.project=ops'] } });
      const mine = nets.find((n) => n.Created > startedAt);
      instance = mine?.Labels?.['rondo.instance'] ?? '';
    }
    if (instance) await cleanupInstance(instance);
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reattaches to a run whose container outlived a kill -9 of the control plane, and records how it ended', async () => {
    const x = (await api('POST', `${P}/job/executions`, { environment: 'development', args: ['sleep', '3'] }))
      .body;
    await waitFor('the run’s container', async () => (await containerOf(x.id))?.State === 'running');
    instance = (await containerOf(x.id))!.Labels['rondo.instance']!;
    await server!.stop('SIGKILL');
    server = await startServer(env);
    await waitFor('the run ended', async () => (await execution(x.id)).status !== 'running', 30_000);
    const done = await execution(x.id);
    expect(done).toMatchObject({ status: 'succeeded', exitCode: 0 });
    const logs = await fetch(`${server.url}/api/v1/orgs/default/executions/${x.id}/logs`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await logs.text()).toBe('task says: sleep 3\nsleeping 3\nslept 3\n');
    await waitFor('its container removed', async () => (await containerOf(x.id)) === undefined);
  }, 120_000);

  it('marks a run whose container is gone after the restart failed (interrupted), never leaving it running', async () => {
    const x = (
      await api('POST', `${P}/job/executions`, { environment: 'development', args: ['sleep', '30'] })
    ).body;
    await waitFor('the run’s container', async () => (await containerOf(x.id))?.State === 'running');
    await server!.stop('SIGKILL');
    await docker.getContainer((await containerOf(x.id))!.Id).remove({ force: true });
    server = await startServer(env);
    await waitFor('the run recorded', async () => (await execution(x.id)).status !== 'running', 30_000);
    expect(await execution(x.id)).toMatchObject({
      status: 'failed',
      reason: 'interrupted: the control plane stopped during the run and its container is gone',
    });
  }, 120_000);

  it('a run missed while the control plane was down starts once at start; earlier ones are recorded as missed', async () => {
    await deploy('tick', { cron: '*/2 * * * * *', startingDeadlineSeconds: 4 });
    await waitFor(
      'a first scheduled run',
      async () => ((await api('GET', `${P}/tick/executions?status=succeeded`)).body.items.length ?? 0) > 0,
    );
    await server!.stop('SIGTERM');
    const downAt = Date.now();
    await sleep(7000); // at least three due times pass while no control plane runs
    server = await startServer(env);
    const upAt = Date.now();
    await waitFor('the missed record and the caught-up run', async () => {
      const items = (await api('GET', `${P}/tick/executions`)).body.items as {
        status: string;
        dueAt: string;
        startedAt: string | null;
      }[];
      return (
        items.some((x) => x.status === 'missed') &&
        items.some((x) => Date.parse(x.dueAt) > downAt && Date.parse(x.dueAt) < upAt && x.startedAt !== null)
      );
    });
    const items = (await api('GET', `${P}/tick/executions`)).body.items as {
      status: string;
      reason: string;
      dueAt: string;
    }[];
    const missed = items.filter((x) => x.status === 'missed');
    expect(missed).toHaveLength(1);
    expect(missed[0]!.reason).toMatch(
      /were missed while the control plane was down|past the starting deadline/,
    );
    // One run for the newest due time of the downtime (a regular run may follow it before \`upAt\`).
    const caughtUp = items.filter(
      (x) => x.status !== 'missed' && Date.parse(x.dueAt) > downAt && Date.parse(x.dueAt) < upAt,
    );
    expect(caughtUp.length).toBeGreaterThanOrEqual(1);
    expect(caughtUp.length).toBeLessThanOrEqual(2);
    expect(Math.min(...caughtUp.map((x) => Date.parse(x.dueAt)))).toBeGreaterThan(
      Date.parse(missed[0]!.dueAt),
    );
    await api('PUT', `${P}/tick/schedules/development`, { suspended: true });
  }, 180_000);

  it('`rondo run --follow` streams the output and exits with the task’s exit code; `executions` lists the runs', async () => {
    const cliEnv = cleanEnv({ HOME: dir, RONDO_SERVER: server!.url, RONDO_TOKEN: TOKEN });
    const ok = await cli(
      ['run', 'job', '--project', 'ops', '--env', 'development', '--follow', '--', 'a b', '--flag'],
      cliEnv,
    );
    expect(ok.stderr).toMatch(/^execution exe_\w+\n$/);
    expect(ok).toMatchObject({ status: 0, stdout: 'task says: a b --flag\n' });
    const failed = await cli(
      ['run', 'job', '--project', 'ops', '--env', 'development', '--follow', '--', 'exit', '7'],
      cliEnv,
    );
    expect(failed.status).toBe(7);
    expect(failed.stderr).toMatch(/failed: exited with code 7/);
    const bad = await cli(['run', 'job', '--project', 'ops', '--env', 'staging'], cliEnv);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/staging/);
    const list = await cli(
      ['executions', 'job', '--project', 'ops', '--env', 'development', '--status', 'failed'],
      cliEnv,
    );
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/failed\s+7\s+manual\/admin/);
    expect(list.stdout).toMatch(/last 30 days: .*failed [12]\b/);
    const id = /exe_\w+/.exec(failed.stderr)![0];
    const logs = await cli(['logs', 'execution', id], cliEnv);
    expect(logs).toMatchObject({ status: 0, stdout: 'task says: exit 7\n' });

    const badCron = await cli(
      ['deploy', 'tick', '--project', 'ops', '--env', 'development', '--cron', 'every day'],
      cliEnv,
    );
    expect(badCron.status).toBe(1);
    expect(badCron.stderr).toMatch(/cron: 'every day' is not a cron expression/);
    const deployed = await cli(
      [
        'deploy',
        'tick',
        '--project',
        'ops',
        '--env',
        'development',
        '--cron',
        '0 3 * * *',
        '--timezone',
        'Asia/Tokyo',
        '--wait',
      ],
      cliEnv,
    );
    expect(deployed.status, deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/Schedule:\s+0 3 \* \* \* \(Asia\/Tokyo\)/);
    const described = await cli(['describe', 'component', 'tick', '--project', 'ops'], cliEnv);
    expect(described.stdout).toMatch(
      /development: \S+ active .*runs on 0 3 \* \* \* \(Asia\/Tokyo\), concurrency forbid, timeout 300 s/,
    );
    const resumed = await cli(
      ['schedule', 'resume', 'tick', '--project', 'ops', '--env', 'development'],
      cliEnv,
    );
    expect(resumed.stdout).toMatch(/Suspended:\s+false/);
    // The next 03:00 in Tokyo is 18:00 UTC.
    expect(resumed.stdout).toMatch(/Next run:\s+\d{4}-\d{2}-\d{2}T18:00:00.000Z/);
    const cancel = await cli(['cancel', 'execution', id], cliEnv);
    expect(cancel.status).toBe(1);
    expect(cancel.stderr).toMatch(/has already ended/);
  }, 120_000);
});
