import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebImage, cleanupInstance, docker } from '../helpers/images.js';
import { gatewayGet, platformServerEnv, startServerGateway } from '../helpers/platform.js';
import { ensureBuilt, type ServerProcess, serverApi, startServer } from '../helpers/processes.js';

const TOKEN = 'rondo_recovery_test_admin_token_0123456789';

/** The control plane as its own process, so the test can kill -9 it mid-rollout. */
describe('recovery after the control plane is killed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-recovery-'));
  let gateway: Awaited<ReturnType<typeof startServerGateway>>;
  let env: NodeJS.ProcessEnv;
  let server: ServerProcess | undefined;
  let instance = '';
  let publicPort = 0;

  const api = serverApi(() => server, TOKEN);
  const containers = async () =>
    docker.listContainers({
      all: true,
      filters: { label: [`rondo.instance=${instance}`, 'rondo.component=web'] },
    });
  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };
  const viaGateway = async () => {
    const res = await gatewayGet(publicPort, 'development.localhost', '/default/shop/web/rest/').catch(
      () => undefined,
    );
    return res ? `${res.status} ${res.body}` : 'no answer';
  };

  beforeAll(async () => {
    ensureBuilt();
    await Promise.all([
      buildWebImage('rondo-test-web:v1', { body: 'hello v1' }),
      buildWebImage('rondo-test-web:v2-slow', { body: 'hello v2', delay: 2 }),
    ]);
    env = await platformServerEnv(join(dir, 'data'), TOKEN);
    gateway = await startServerGateway(env);
    publicPort = Number(env.RONDO_GATEWAY_PORT);
    server = await startServer(env);
    await api('POST', '/orgs/default/projects', { name: 'shop' });
    await api('POST', '/orgs/default/projects/shop/components', {
      name: 'web',
      type: 'service',
      source: { image: 'rondo-test-web:v1' },
      endpoints: [{ port: 8080 }],
    });
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    if (instance) await cleanupInstance(instance);
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes a rollout killed half-way: exactly the desired replicas serve, the routes are right, nothing is orphaned', async () => {
    const v1 = await api('POST', '/orgs/default/projects/shop/components/web/deployments', {
      environment: 'development',
      replicas: 2,
    });
    await waitFor(
      'v1 active',
      async () => (await api('GET', `/orgs/default/deployments/${v1.body.id}`)).body.status === 'active',
    );
    const [first] = await docker.listContainers({ filters: { label: [`rondo.deployment=${v1.body.id}`] } });
    instance = first?.Labels['rondo.instance'] ?? '';
    expect(instance).not.toBe('');
    expect(await viaGateway()).toBe('200 hello v1');

    const v2 = await api('POST', '/orgs/default/projects/shop/components/web/deployments', {
      environment: 'development',
      image: 'rondo-test-web:v2-slow',
      replicas: 2,
    });
    // Kill the control plane while v2's replicas exist but are not ready yet.
    await waitFor('v2 replicas started', async () =>
      (await containers()).some((c) => c.Labels['rondo.deployment'] === v2.body.id),
    );
    await server!.stop('SIGKILL');
    expect(await viaGateway()).toBe('200 hello v1');

    server = await startServer(env);
    await waitFor(
      'v2 active',
      async () => (await api('GET', `/orgs/default/deployments/${v2.body.id}`)).body.status === 'active',
    );
    await waitFor('v1 replicas gone', async () =>
      (await containers()).every((c) => c.Labels['rondo.deployment'] === v2.body.id),
    );
    const left = await containers();
    expect(left.map((c) => c.Labels['rondo.replica']).sort()).toEqual(['0', '1']);
    expect(left.every((c) => c.State === 'running')).toBe(true);
    expect(await viaGateway()).toBe('200 hello v2');
    const v1After = await api('GET', `/orgs/default/deployments/${v1.body.id}`);
    expect(v1After.body.status).toBe('superseded');
  });

  it('restarts a crashed replica and shows its restart count', async () => {
    const [victim] = await containers();
    const { State } = await docker.getContainer(victim!.Id).inspect();
    process.kill(State.Pid, 'SIGKILL');
    await waitFor('restart counted', async () => {
      const status = await api('GET', '/orgs/default/projects/shop/components/web/status');
      const dev = status.body.items.find((e: { environment: string }) => e.environment === 'development');
      return dev.replicas.restarts >= 1 && dev.replicas.running === 2;
    });
    // A crash is not a rollout: requests to the crashed replica may fail until it is back.
    await waitFor('serving again', async () => (await viaGateway()) === '200 hello v2', 20_000);
  });

  it('replaces a replica removed behind its back', async () => {
    const [victim, other] = await containers();
    await docker.getContainer(victim!.Id).remove({ force: true });
    await waitFor('replica replaced', async () => {
      const now = await containers();
      return (
        now.length === 2 &&
        now.every((c) => c.State === 'running') &&
        now.some((c) => c.Id !== other!.Id && c.Id !== victim!.Id)
      );
    });
    expect(await viaGateway()).toBe('200 hello v2');
  });
  it('converges to one active deployment when killed during a promotion', async () => {
    const promoted = await api('POST', '/orgs/default/projects/shop/components/web/promotions', {});
    expect(promoted.status).toBe(202);
    const id = promoted.body.deployment.id;
    expect(promoted.body.deployment.environment).toBe('production');
    await waitFor('production replicas started', async () =>
      (await containers()).some((c) => c.Labels['rondo.deployment'] === id),
    );
    await server!.stop('SIGKILL');
    server = await startServer(env);
    await waitFor(
      'promotion active',
      async () => (await api('GET', `/orgs/default/deployments/${id}`)).body.status === 'active',
    );
    const prod = await api(
      'GET',
      '/orgs/default/projects/shop/components/web/deployments?environment=production',
    );
    expect(
      prod.body.items
        .filter((d: { status: string }) => d.status === 'active')
        .map((d: { id: string }) => d.id),
    ).toEqual([id]);
    const dev = await api(
      'GET',
      '/orgs/default/projects/shop/components/web/deployments?environment=development',
    );
    const devActive = dev.body.items.find((d: { status: string }) => d.status === 'active');
    // The same release, so the same image: promotion never rebuilds.
    expect(prod.body.items[0].release).toBe(devActive.release);
    expect(prod.body.items[0].image).toBe(devActive.image);
    const inProd = (await containers()).filter((c) => c.Labels['rondo.environment'] === 'production');
    expect(inProd.map((c) => c.Labels['rondo.deployment'])).toEqual([id, id]);
    expect(await gatewayGet(publicPort, 'production.localhost', '/default/shop/web/rest/')).toEqual({
      status: 200,
      body: 'hello v2',
    });
  });
});
