import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepo, type TestRepo } from '../helpers/git.js';
import { docker, execIn, removeImagesLabelled, replicaOf } from '../helpers/images.js';
import { startLoad } from '../helpers/load.js';
import {
  gatewayGet,
  type PlatformTestRondo,
  startPlatformRondo,
  startRegistry,
  waitForDeployment,
} from '../helpers/platform.js';
import { userWithRole } from '../helpers/rondo.js';
import { snapshot } from '../helpers/stores.js';

const BUSYBOX = execFileSync('sh', ['-c', 'command -v busybox']).toString().trim();
const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
COPY www /www
COPY start.sh /start.sh
USER 10014
ENTRYPOINT ["/bin/busybox", "sh", "/start.sh"]
`;
// CRASH makes the app print its secret and exit: what Rondo shows of its logs must be redacted.
const START = `if [ -n "$CRASH" ]; then echo "crashing; token is $API_TOKEN"; exit 1; fi
exec /bin/busybox httpd -f -p 8080 -h /www
`;
const CGI = `#!/bin/busybox sh
echo "Content-Type: text/plain"
echo ""
echo "greeting=$GREETING"
/bin/busybox cat /etc/app/motd.txt
`;
const DESCRIPTOR = `schemaVersion: 1.2
endpoints:
  - name: site
    service: { basePath: /, port: 8080 }
    type: REST
    networkVisibilities: [Public]
configurations:
  env:
    - name: GREETING
      valueFrom: { configForm: { displayName: Greeting, type: string, required: true } }
    - name: API_TOKEN
      valueFrom: { configForm: { type: secret, required: true } }
`;

const COMPONENT = '/api/v1/orgs/default/projects/shop/components/app';

/** Build once, promote the same image with each environment's config (F4), on the real platform. */
describe('releases, configuration, promotion, approvals, rollback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-releases-'));
  let t: PlatformTestRondo;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let repo: TestRepo;
  let rita: string;
  const secret = `planted-${Math.random().toString(36).slice(2)}-api-token`;
  const secretFile = `planted-${Math.random().toString(36).slice(2)}-file`;
  const builds: { id: string; image: string; commit: string }[] = [];

  const build = async () => {
    const res = await t.call('POST', `${COMPONENT}/builds`, { body: {} });
    for (let i = 0; i < 600; i++) {
      const b = await t.call('GET', `/api/v1/orgs/default/builds/${res.body.build.id}`);
      if (b.body.status === 'succeeded') {
        builds.push(b.body);
        return b.body as { id: string; image: string; commit: string };
      }
      if (b.body.status === 'failed') throw new Error(`build failed: ${b.body.reason}`);
      await sleep(200);
    }
    throw new Error('build did not finish');
  };
  const release = async (version: string) => {
    repo.commit({ 'app/www/index.html': version }, version);
    return build();
  };
  const active = async (env: string) => {
    const s = await t.call('GET', `${COMPONENT}/status`);
    return s.body.items.find((e: { environment: string }) => e.environment === env);
  };
  const get = async (env: string, path: string) => {
    const url = new URL((await active(env)).urls[0].url);
    return gatewayGet(t.publicPort, url.host, `${url.pathname.replace(/\/$/, '')}${path}`);
  };
  const settled = async (res: { status: number; body: { id?: string; deployment?: { id: string } } }) => {
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = res.body.deployment?.id ?? res.body.id!;
    return waitForDeployment(t, 'default', id, 90_000);
  };

  beforeAll(async () => {
    registry = await startRegistry(dir);
    t = await startPlatformRondo('pglite', {}, { registry: registry.addr });
    rita = await userWithRole(t, 'rita', 'admin');
    repo = createRepo(join(dir, 'repo'));
    mkdirSync(join(dir, 'repo', 'app', 'www', 'cgi-bin'), { recursive: true });
    copyFileSync(BUSYBOX, join(dir, 'repo', 'app', 'busybox'));
    repo.commit({
      'app/Dockerfile': DOCKERFILE,
      'app/start.sh': START,
      'app/www/cgi-bin/env': CGI,
      'app/www/index.html': 'v1',
      'app/.rondo/component.yaml': DESCRIPTOR,
    });
    chmodSync(join(dir, 'repo', 'app', 'www', 'cgi-bin', 'env'), 0o755);
    repo.commit({}, 'make the CGI script executable');
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'app',
        type: 'service',
        source: { repoUrl: `file://${join(dir, 'repo')}`, branch: 'main', path: 'app' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
      },
    });
  });
  afterAll(async () => {
    await t?.rondo.buildQueue?.idle();
    await t?.close();
    registry?.stop();
    await removeImagesLabelled(`rondo.built-by=${t.instance}`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a deploy that lacks declared configuration, listing every name, and starts nothing', async () => {
    const v1 = await build();
    const before = await snapshot(t.rondo.store);
    const res = await t.call('POST', `${COMPONENT}/deployments`, {
      body: { environment: 'development', buildId: v1.id },
    });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('RONDO_ERR_CONFIG_MISSING');
    expect(res.body.detail).toContain('GREETING (development), API_TOKEN (development)');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual([
      'configurations.GREETING',
      'configurations.API_TOKEN',
    ]);
    expect(await snapshot(t.rondo.store)).toBe(before);
    const running = await docker.listContainers({
      all: true,
      filters: { label: [`rondo.instance=${t.instance}`] },
    });
    expect(running).toEqual([]);
  });

  it('builds once and promotes the same digest; each environment serves its own configuration', async () => {
    const config = (body: unknown) => t.call('PATCH', `${COMPONENT}/config`, { body });
    expect(
      (
        await config({
          set: [
            { key: 'API_TOKEN', value: secret, secret: true },
            { key: '/etc/app/motd.txt', value: 'motd for all' },
          ],
        })
      ).status,
    ).toBe(200);
    expect(
      (await config({ set: [{ key: '/etc/app/token.txt', value: secretFile, secret: true }] })).status,
    ).toBe(200);
    expect(
      (await config({ environment: 'development', set: [{ key: 'GREETING', value: 'hello dev' }] })).status,
    ).toBe(200);
    expect(
      (await config({ environment: 'production', set: [{ key: 'GREETING', value: 'hello prod' }] })).status,
    ).toBe(200);

    const dev = await settled(
      await t.call('POST', `${COMPONENT}/deployments`, {
        body: { environment: 'development', buildId: builds[0]!.id, resources: { memoryMiB: 128 } },
      }),
    );
    expect(dev.status).toBe('active');
    expect(await get('development', '/cgi-bin/env')).toEqual({
      status: 200,
      body: 'greeting=hello dev\nmotd for all',
    });

    const promoted = await t.call('POST', `${COMPONENT}/promotions`, { body: {} });
    expect(promoted.body.deployment.environment).toBe('production');
    expect((await settled(promoted)).status).toBe('active');
    expect(await get('production', '/cgi-bin/env')).toEqual({
      status: 200,
      body: 'greeting=hello prod\nmotd for all',
    });

    const list = await t.call('GET', `${COMPONENT}/deployments`);
    const [prod, devDep] = list.body.items;
    expect(prod.image).toBe(devDep.image);
    expect(prod.image).toBe(builds[0]!.image);
    expect(prod.release).toBe(devDep.release);
    expect(prod.release).toMatch(/^\d{8}-1$/);
    expect(devDep.name).toBe(`${devDep.release}.1.1`);
    expect(prod.name).toBe(`${prod.release}.1.1`);
    expect(prod).toMatchObject({ action: 'promote', commit: builds[0]!.commit, configRevision: 1 });
    // A first promotion takes the source's limits; they reach the replica.
    expect(devDep.resources).toEqual({ memoryMiB: 128 });
    expect(prod.resources).toEqual({ memoryMiB: 128 });
    const replica = await replicaOf(t.instance, 'shop', 'app', 'production');
    expect((await docker.getContainer(replica.id).inspect()).HostConfig.Memory).toBe(128 * 1024 * 1024);
    const tags = (await (await fetch(`http://${registry.addr}/v2/default/shop/app/tags/list`)).json()) as {
      tags: string[];
    };
    expect(tags.tags).toEqual([builds[0]!.commit.slice(0, 12)]);
  });

  it('hands secrets to the app and shows them nowhere else', async () => {
    const replica = await replicaOf(t.instance, 'shop', 'app', 'production');
    expect((await execIn(replica.id, ['/bin/busybox', 'cat', '/etc/app/token.txt'])).output).toBe(secretFile);
    expect((await execIn(replica.id, ['/bin/busybox', 'sh', '-c', 'echo "$API_TOKEN"'])).output.trim()).toBe(
      secret,
    );
    // A mounted secret file is read-only, in memory, and not in the container's configuration.
    const write = await execIn(replica.id, ['/bin/busybox', 'sh', '-c', 'echo x > /etc/app/token.txt']);
    expect(write.exitCode).not.toBe(0);
    const inspect = await docker.getContainer(replica.id).inspect();
    expect(JSON.stringify(inspect)).not.toContain(secretFile);
    expect(inspect.Mounts.find((m) => m.Destination === '/etc/app/token.txt')?.Source).toMatch(
      /^\/dev\/shm\//,
    );
    // Not in the image: the image is the build's, made before any configuration existed.
    const saved = execFileSync('/usr/bin/docker', ['save', builds[0]!.image], {
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(saved.includes(Buffer.from(secret))).toBe(false);
    expect(saved.includes(Buffer.from(secretFile))).toBe(false);
    // Not in what the API answers, nor in the database, nor in the audit log.
    for (const path of [
      `${COMPONENT}/status`,
      `${COMPONENT}/deployments`,
      `${COMPONENT}/config`,
      `${COMPONENT}/config?environment=production`,
    ])
      expect(JSON.stringify((await t.call('GET', path)).body)).not.toContain(secret);
    const db = await snapshot(t.rondo.store);
    expect(db).not.toContain(secret);
    expect(db).not.toContain(secretFile);

    // A replica that prints its secret and dies: the failure Rondo shows has it redacted.
    await t.call('PATCH', `${COMPONENT}/config`, {
      body: { environment: 'development', set: [{ key: 'CRASH', value: '1' }] },
    });
    const status = await active('development');
    expect(status.pendingConfig).toEqual({ added: ['CRASH'], changed: [], removed: [] });
    const crashed = await settled(
      await t.call('POST', `${COMPONENT}/deployments`, { body: { environment: 'development' } }),
    );
    expect(crashed.status).toBe('failed');
    expect(crashed.reason).toContain('crashing; token is ***');
    expect(crashed.reason).not.toContain(secret);
    expect(await get('development', '/cgi-bin/env')).toEqual({
      status: 200,
      body: 'greeting=hello dev\nmotd for all',
    });
    await t.call('PATCH', `${COMPONENT}/config`, { body: { environment: 'development', unset: ['CRASH'] } });
    expect((await active('development')).pendingConfig).toEqual({ added: [], changed: [], removed: [] });
  });

  it('promotes into production through an approval, with the release that was requested', async () => {
    const v2 = await release('v2');
    expect(
      (
        await settled(
          await t.call('POST', `${COMPONENT}/deployments`, {
            body: { environment: 'development', buildId: v2.id },
          }),
        )
      ).status,
    ).toBe('active');
    const policy = await t.call('PUT', '/api/v1/orgs/default/environments/production/approval-policy', {
      body: { roles: ['admin'], required: 1 },
    });
    expect(policy.body.approvalPolicy).toEqual({ users: [], roles: ['admin'], required: 1 });
    const prodBefore = (await active('production')).active.id;

    const asked = await t.call('POST', `${COMPONENT}/promotions`, { body: { comment: 'ship v2' } });
    expect(asked.status).toBe(202);
    const request = asked.body.approvalRequest;
    expect(request).toMatchObject({
      status: 'pending',
      environment: 'production',
      from: 'development',
      comment: 'ship v2',
    });
    expect((await t.call('POST', `${COMPONENT}/promotions`, { body: {} })).status).toBe(409);
    const self = await t.call('POST', `/api/v1/orgs/default/approvals/${request.id}/approve`, { body: {} });
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('RONDO_ERR_APPROVAL_SELF');

    // A newer build reaches development after the request: the request still promotes v2.
    const v3 = await release('v3');
    expect(
      (
        await settled(
          await t.call('POST', `${COMPONENT}/deployments`, {
            body: { environment: 'development', buildId: v3.id },
          }),
        )
      ).status,
    ).toBe('active');
    const approved = await t.call('POST', `/api/v1/orgs/default/approvals/${request.id}/approve`, {
      body: { comment: 'lgtm' },
      token: rita,
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', approvals: 1 });
    expect(await waitForDeployment(t, 'default', approved.body.deployment, 90_000)).toMatchObject({
      status: 'active',
      reason: null,
    });
    const prod = await active('production');
    expect(prod.active.image).toBe(v2.image);
    expect(await get('production', '/')).toEqual({ status: 200, body: 'v2' });

    // A rejected request leaves production as it is.
    const second = await t.call('POST', `${COMPONENT}/promotions`, { body: {} });
    const rejected = await t.call(
      'POST',
      `/api/v1/orgs/default/approvals/${second.body.approvalRequest.id}/reject`,
      {
        body: { comment: 'not today' },
        token: rita,
      },
    );
    expect(rejected.body).toMatchObject({ status: 'rejected', deployment: null });
    expect((await active('production')).active.id).toBe(prod.active.id);
    expect(prod.active.id).not.toBe(prodBefore);
    const audit = await t.call('GET', '/api/v1/orgs/default/audit?limit=100');
    const actions = JSON.stringify(audit.body);
    expect(actions).toContain('approval.approve');
    expect(actions).toContain(`release ${prod.active.release}`);
  });

  it('rolls production back to the previous deployment under load without a failed request', async () => {
    const url = new URL((await active('production')).urls[0].url);
    const load = startLoad(t.publicPort, url.host, url.pathname, 10);
    await sleep(500);
    const rolled = await settled(
      await t.call('POST', `${COMPONENT}/rollbacks`, { body: { environment: 'production' } }),
    );
    await sleep(500);
    const result = await load.stop();
    expect(rolled.status).toBe('active');
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(20);
    expect(result.bodies.at(-1)).toBe('v1');
    const prod = await active('production');
    expect(prod.active.image).toBe(builds[0]!.image);
    expect(prod.active).toMatchObject({ action: 'rollback', configRevision: 1 });
    // Bad rollbacks: to the active one, to an unknown one.
    const again = await t.call('POST', `${COMPONENT}/rollbacks`, {
      body: { environment: 'production', to: prod.active.id },
    });
    expect(again.status).toBe(409);
    expect(
      (await t.call('POST', `${COMPONENT}/rollbacks`, { body: { environment: 'production', to: 'nope' } }))
        .status,
    ).toBe(404);
  });

  it('refuses bad promotions and deploys before doing anything', async () => {
    const deploymentsBefore = (await t.call('GET', `${COMPONENT}/deployments`)).body.items.length;
    const cases: [string, unknown, number, RegExp][] = [
      ['promotions', { from: 'production' }, 400, /last environment/],
      ['promotions', { to: 'nowhere' }, 404, /nowhere/],
      ['deployments', { environment: 'development', buildId: 'bld_unknown' }, 404, /bld_unknown/],
      ['deployments', { environment: 'development', buildId: builds[0]!.id, image: 'x:1' }, 400, /not both/],
      ['rollbacks', { environment: 'development', to: 'nope' }, 404, /nope/],
    ];
    await t.call('POST', '/api/v1/orgs/default/environments', { body: { name: 'qa' } });
    cases.push(['promotions', { to: 'qa' }, 400, /not on pipeline/]);
    for (const [route, body, status, message] of cases) {
      const res = await t.call('POST', `${COMPONENT}/${route}`, { body });
      expect(res.status, `${route} ${JSON.stringify(body)}`).toBe(status);
      expect(res.body.detail).toMatch(message);
    }
    // A component with nothing active in development cannot be promoted from it.
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'idle', type: 'service', source: { image: 'busybox:1' } },
    });
    const idle = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/idle/promotions', {
      body: {},
    });
    expect(idle.status).toBe(409);
    expect(idle.body.detail).toMatch(/nothing is active in development/);
    // Another component's build is not found for this one.
    const other = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/idle/deployments', {
      body: { environment: 'development', buildId: builds[0]!.id },
    });
    expect(other.status).toBe(404);
    await t.call('DELETE', '/api/v1/orgs/default/projects/shop/components/idle');
    await t.call('DELETE', '/api/v1/orgs/default/environments/qa');
    expect((await t.call('GET', `${COMPONENT}/deployments`)).body.items.length).toBe(deploymentsBefore);

    // A developer may ask for production; only the named reviewer may decide; the asker may cancel.
    const dana = await userWithRole(t, 'dana', 'developer');
    await t.call('PUT', '/api/v1/orgs/default/environments/production/approval-policy', {
      body: { users: ['rita'], required: 1 },
    });
    const asked = await t.call('POST', `${COMPONENT}/promotions`, { body: {}, token: dana });
    expect(asked.status).toBe(202);
    const id = asked.body.approvalRequest.id;
    const notReviewer = await t.call('POST', `/api/v1/orgs/default/approvals/${id}/approve`, { body: {} });
    expect(notReviewer.status).toBe(403);
    expect(notReviewer.body.detail).toMatch(/not a reviewer for production: the policy names users \[rita\]/);
    expect(
      (await t.call('POST', `/api/v1/orgs/default/approvals/${id}/reject`, { body: {}, token: dana })).body
        .code,
    ).toBe('RONDO_ERR_APPROVAL_SELF');
    const cancelled = await t.call('POST', `/api/v1/orgs/default/approvals/${id}/cancel`, {
      body: {},
      token: dana,
    });
    expect(cancelled.body.status).toBe('cancelled');
    expect(
      (await t.call('POST', `/api/v1/orgs/default/approvals/${id}/approve`, { body: {}, token: rita }))
        .status,
    ).toBe(409);
    // Without a policy, production is for admins.
    await t.call('DELETE', '/api/v1/orgs/default/environments/production/approval-policy');
    expect((await t.call('POST', `${COMPONENT}/promotions`, { body: {}, token: dana })).status).toBe(403);
    expect((await t.call('GET', `${COMPONENT}/deployments`)).body.items.length).toBe(deploymentsBefore);
  });
});
