import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebImage, docker, httpFrom, replicaOf } from '../helpers/images.js';
import {
  type PlatformTestRondo,
  startPlatformRondo,
  viaGateway,
  waitForDeployment,
} from '../helpers/platform.js';

/**
 * Network isolation (§7) with real containers: requests are made from inside replicas with
 * busybox nc, by IP and by name, and through the internal and public gateways.
 */
describe('isolation between projects and environments', () => {
  let t: PlatformTestRondo;
  const ports: Record<string, number> = {};
  const ip: Record<string, string> = {};
  const id: Record<string, string> = {};

  async function component(project: string, name: string, visibility: string[]) {
    const res = await t.call('POST', `/api/v1/orgs/default/projects/${project}/components`, {
      body: {
        name,
        type: 'service',
        source: { image: 'rondo-test-web:iso' },
        endpoints: [{ port: 8080, visibility }],
      },
    });
    expect(res.status).toBe(201);
  }
  async function deploy(project: string, name: string, environment: string) {
    const d = await t.call(
      'POST',
      `/api/v1/orgs/default/projects/${project}/components/${name}/deployments`,
      { body: { environment } },
    );
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
    const r = await replicaOf(t.instance, project, name, environment);
    ip[`${project}/${name}@${environment}`] = r.ip;
    id[`${project}/${name}@${environment}`] = r.id;
  }

  beforeAll(async () => {
    await buildWebImage('rondo-test-web:iso', { body: 'iso' });
    t = await startPlatformRondo('pglite');
    for (const p of ['alpha', 'beta'])
      await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: p } });
    await component('alpha', 'web', ['Project']);
    await component('alpha', 'orgapi', ['Organization']);
    await component('alpha', 'pub', ['Public']);
    await component('alpha', 'secret', ['Project']);
    await component('beta', 'client', ['Project']);
    await deploy('alpha', 'web', 'development');
    await deploy('alpha', 'orgapi', 'development');
    await deploy('alpha', 'pub', 'development');
    await deploy('alpha', 'secret', 'production');
    await deploy('beta', 'client', 'development');
    await deploy('beta', 'client', 'production');
    const envs = await t.call('GET', '/api/v1/orgs/default/projects/alpha/components/orgapi/status');
    for (const e of envs.body.items) {
      const url = e.urls.find((u: { visibility: string }) => u.visibility === 'Organization');
      if (url) ports[e.environment] = Number(new URL(url.url).port);
    }
    const slots = await t.rondo.store.db
      .selectFrom('environments')
      .select(['name', 'gateway_slot'])
      .execute();
    for (const s of slots) ports[s.name] ??= t.platform.gateway.internalPortBase + (s.gateway_slot ?? 0);
  });
  afterAll(() => t?.close());

  it('lets a project reach its own components by name in the same environment', async () => {
    expect(await httpFrom(id['alpha/web@development']!, 'pub', 8080)).toMatch(/200 OK[\s\S]*iso$/);
    expect(await httpFrom(id['alpha/web@development']!, 'pub.alpha', 8080)).toMatch(/200 OK/);
    // The names come from Rondo's name server on the network's gateway, not from Docker aliases.
    const pub = await docker.getContainer(id['alpha/pub@development']!).inspect();
    const [network] = Object.entries(pub.NetworkSettings.Networks);
    expect(network?.[1].Aliases ?? []).not.toContain('pub');
    expect(pub.HostConfig.Dns?.[0]).toBe(network?.[1].Gateway);
  });

  it('keeps development away from production: not by IP, not by name, not through its internal gateway', async () => {
    const dev = id['alpha/web@development']!;
    expect(await httpFrom(dev, ip['alpha/secret@production']!, 8080)).not.toMatch(/HTTP\/1/);
    expect(await httpFrom(dev, 'secret', 8080)).not.toMatch(/HTTP\/1/);
    expect(await httpFrom(dev, 'rondo-gateway', ports.production!, '/alpha/secret/rest/')).not.toMatch(
      /HTTP\/1/,
    );
  });

  it('keeps another project away from Project-visible endpoints', async () => {
    const beta = id['beta/client@development']!;
    expect(await httpFrom(beta, ip['alpha/web@development']!, 8080)).not.toMatch(/HTTP\/1/);
    expect(await httpFrom(beta, 'web', 8080)).not.toMatch(/HTTP\/1/);
    expect(await httpFrom(beta, 'web.alpha', 8080)).not.toMatch(/HTTP\/1/);
    expect(await httpFrom(beta, 'rondo-gateway', ports.development!, '/alpha/web/rest/')).toMatch(
      /404 Not Found[\s\S]*RESOURCE_NOT_FOUND/,
    );
  });

  it('lets another project reach Organization-visible endpoints through the same environment’s internal gateway only', async () => {
    const viaInternal = await httpFrom(
      id['beta/client@development']!,
      'rondo-gateway',
      ports.development!,
      '/alpha/orgapi/rest/',
    );
    expect(viaInternal).toMatch(/200 OK[\s\S]*iso$/);
    // From production, the development listener drops the connection without answering.
    expect(
      await httpFrom(
        id['beta/client@production']!,
        'rondo-gateway',
        ports.development!,
        '/alpha/orgapi/rest/',
      ),
    ).not.toMatch(/HTTP\/1/);
    // And the organization endpoint is not public.
    expect((await viaGateway(t, 'development.localhost', '/default/alpha/orgapi/rest/')).status).toBe(404);
  });

  it('serves Public endpoints through the public gateway and not Project-visible ones', async () => {
    expect(await viaGateway(t, 'development.localhost', '/default/alpha/pub/rest/')).toEqual({
      status: 200,
      body: 'iso',
    });
    expect((await viaGateway(t, 'development.localhost', '/default/alpha/web/rest/')).status).toBe(404);
    expect((await viaGateway(t, 'production.localhost', '/default/alpha/pub/rest/')).status).toBe(404);
  });
});
