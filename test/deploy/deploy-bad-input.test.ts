import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebImage } from '../helpers/images.js';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';
import { userWithRole } from '../helpers/rondo.js';
import { snapshot } from '../helpers/stores.js';

const DEPLOY = '/api/v1/orgs/default/projects/shop/components/web/deployments';

describe('deploy API refuses bad input before recording anything', () => {
  let t: PlatformTestRondo;
  beforeAll(async () => {
    await buildWebImage('rondo-test-web:v2-slow', { body: 'hello v2', delay: 2 });
    t = await startPlatformRondo('pglite');
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'web',
        type: 'service',
        source: { image: 'rondo-test-web:v2-slow' },
        endpoints: [{ port: 8080 }],
      },
    });
    await t.call('POST', '/api/v1/orgs/default/dataplanes', {
      body: { name: 'gone', type: 'docker', config: { socketPath: '/run/nothing-here.sock' } },
    });
    await t.call('POST', '/api/v1/orgs/default/environments', {
      body: { name: 'remote', dataPlane: 'gone' },
    });
    // Deploys go to environments on the project's pipeline.
    const pipeline = await t.call('PATCH', '/api/v1/orgs/default/pipelines/default', {
      body: { environments: ['development', 'remote', 'production'] },
    });
    expect(pipeline.status).toBe(200);
  });
  afterAll(() => t?.close());

  async function refused(path: string, body: unknown, status: number, field?: string, token?: string) {
    const before = await snapshot(t.rondo.store);
    const res = await t.call('POST', path, { body, ...(token ? { token } : {}) });
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    if (field) expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    if (status !== 403) expect(await snapshot(t.rondo.store)).toBe(before);
    return res;
  }

  it('answers 404 for an unknown environment or component', async () => {
    expect((await refused(DEPLOY, { environment: 'nowhere' }, 404)).body.detail).toBe(
      "environment 'nowhere' was not found",
    );
    await refused(
      '/api/v1/orgs/default/projects/shop/components/ghost/deployments',
      { environment: 'development' },
      404,
    );
  });

  it('rejects image references that are not references, and replicas outside 0–20', async () => {
    await refused(DEPLOY, { environment: 'development', image: 'UPPER/Case:tag' }, 400, 'image');
    await refused(DEPLOY, { environment: 'development', image: 'a b' }, 400, 'image');
    await refused(DEPLOY, { environment: 'development', replicas: 21 }, 400, 'replicas');
    await refused(DEPLOY, { environment: 'development', replicas: -1 }, 400, 'replicas');
    await refused(DEPLOY, { environment: 'development', colour: 'blue' }, 400, 'colour');
  });

  it('rejects resource limits out of range, of the wrong kind, or unknown', async () => {
    const limits = (resources: unknown) => ({ environment: 'development', resources });
    await refused(DEPLOY, limits({ memoryMiB: 8 }), 400, 'resources.memoryMiB');
    await refused(DEPLOY, limits({ memoryMiB: 2_000_000 }), 400, 'resources.memoryMiB');
    await refused(DEPLOY, limits({ memoryMiB: 64.5 }), 400, 'resources.memoryMiB');
    await refused(DEPLOY, limits({ cpuMillicores: 0 }), 400, 'resources.cpuMillicores');
    await refused(DEPLOY, limits({ cpuMillicores: '500m' }), 400, 'resources.cpuMillicores');
    await refused(DEPLOY, limits({ disk: 10 }), 400, 'resources.disk');
    await refused(DEPLOY, limits('256Mi'), 400, 'resources');
  });

  it('answers 503 naming what to fix when the environment’s data plane is unreachable, and records nothing', async () => {
    const res = await refused(DEPLOY, { environment: 'remote' }, 503);
    expect(res.body.detail).toMatch(/data plane 'gone' is unreachable: .*\/run\/nothing-here.sock.*start it/);
  });

  it('keeps developers out of production', async () => {
    const dev = await userWithRole(t, 'dana', 'developer');
    await refused(DEPLOY, { environment: 'production' }, 403, undefined, dev);
  });

  it('never runs two rollouts of one component into one environment', async () => {
    const first = await t.call('POST', DEPLOY, { body: { environment: 'development' } });
    expect(first.status).toBe(202);
    const second = await t.call('POST', DEPLOY, { body: { environment: 'development' } });
    expect(second.status).toBe(409);
    expect(second.body.detail).toMatch(/already in progress/);
    expect(await waitForDeployment(t, 'default', first.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
    const list = await t.call('GET', `${DEPLOY}?environment=development`);
    expect(list.body.items).toHaveLength(1);
    // Once it finished, deploying again is fine.
    const third = await t.call('POST', DEPLOY, { body: { environment: 'development' } });
    expect(third.status).toBe(202);
    expect(await waitForDeployment(t, 'default', third.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
  });
});
