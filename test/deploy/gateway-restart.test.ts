import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebImage, cleanupInstance, docker } from '../helpers/images.js';
import { freePort, gatewayGet, platformServerEnv } from '../helpers/platform.js';
import { ensureBuilt, type ServerProcess, serverApi, startServer } from '../helpers/processes.js';

const TOKEN = 'rondo_gateway_restart_test_admin_token_01234';

/** Caddy as `rondo up` starts it: its admin API only, on a fixed loopback port. */
async function startAdminOnlyCaddy(dir: string, adminListen: string): Promise<ChildProcess> {
  const file = join(dir, 'caddy.json');
  writeFileSync(file, JSON.stringify({ admin: { listen: adminListen } }));
  const log = openSync(join(dir, 'caddy.log'), 'a');
  const child = spawn('caddy', ['run', '--config', file], {
    stdio: ['ignore', log, log],
    env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir },
  });
  closeSync(log);
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`http://${adminListen}/config/`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return child;
    await sleep(50);
  }
  throw new Error('caddy did not start');
}

/** Item 17: a Caddy that dies and comes back empty gets every route back, with no route change. */
describe('the gateway after Caddy is killed and started again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-gateway-restart-'));
  let caddy: ChildProcess | undefined;
  let server: ServerProcess | undefined;
  let adminListen = '';
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
    adminListen = `127.0.0.1:${await freePort()}`;
    caddy = await startAdminOnlyCaddy(dir, adminListen);
    const env = await platformServerEnv(adminListen, join(dir, 'data'), TOKEN);
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
    caddy?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('restores the routes of every active deployment when Caddy comes back with an empty configuration', async () => {
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

    caddy!.kill('SIGKILL');
    await new Promise((r) => caddy!.once('exit', r));
    expect(await viaGateway()).toBe('no answer');
    caddy = await startAdminOnlyCaddy(dir, adminListen);

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
