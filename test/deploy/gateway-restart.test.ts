import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStartupConfig } from '../../src/gateway/host-gateway.js';
import { buildWebImage, cleanupInstance, docker } from '../helpers/images.js';
import { gatewayGet, platformServerEnv, startServerGateway, type TestGateway } from '../helpers/platform.js';
import { ensureBuilt, type ServerProcess, serverApi, startServer } from '../helpers/processes.js';

const TOKEN = 'rondo_gateway_restart_test_admin_token_01234';

/** Item 17: a gateway that dies and comes back empty gets every route back, with no route change. */
describe('the gateway after it is killed and started again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-gateway-restart-'));
  let gateway: TestGateway | undefined;
  let server: ServerProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let publicPort = 0;
  let instance = '';
  const api = serverApi(() => server, TOKEN);
  const viaGateway = () =>
    gatewayGet(publicPort, 'development.localhost', '/default/shop/web/rest/').then(
      (r) => `${r.status} ${r.body}`,
      () => 'no answer',
    );

  beforeAll(async () => {
    ensureBuilt();
    await buildWebImage('rondo-test-web:v1', { body: 'hello v1' });
    env = await platformServerEnv(join(dir, 'data'), TOKEN);
    gateway = await startServerGateway(env);
    // The periodic resync must not be what restores the routes: only a restart-aware gateway does.
    env.RONDO_RESYNC_SECONDS = '600';
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

  it('restores the routes of every active deployment when the gateway comes back with its start-up configuration', async () => {
    const d = await api('POST', '/orgs/default/projects/shop/components/web/deployments', {
      environment: 'development',
    });
    for (let i = 0; i < 300; i++) {
      if ((await api('GET', `/orgs/default/deployments/${d.body.id}`)).body.status === 'active') break;
      await sleep(200);
    }
    const [replica] = await docker.listContainers({ filters: { label: [`rondo.deployment=${d.body.id}`] } });
    instance = replica?.Labels['rondo.instance'] ?? '';
    expect(await viaGateway()).toBe('200 hello v1');

    process.kill(gateway!.pid, 'SIGKILL');
    await gateway!.exited;
    // The worker leaves when its master is gone.
    for (let i = 0; i < 100 && (await viaGateway()) !== 'no answer'; i++) await sleep(50);
    expect(await viaGateway()).toBe('no answer');
    // As on a new disk: what was last loaded is gone, the gateway starts with no route.
    writeStartupConfig(gateway!.settings);
    gateway = await startServerGateway(env);

    let answer = await viaGateway();
    for (let i = 0; i < 100 && answer !== '200 hello v1'; i++) {
      await sleep(100);
      answer = await viaGateway();
    }
    expect(answer).toBe('200 hello v1');
    // Nothing changed in the store: the same deployment serves.
    const status = await api('GET', '/orgs/default/projects/shop/components/web/status');
    expect(status.body.items[0].active.id).toBe(d.body.id);
  });
});
