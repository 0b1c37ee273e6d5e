import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo, userWithRole } from '../helpers/rondo.js';
import { DRIVERS } from '../helpers/stores.js';

describe.each(DRIVERS)('the organization overview (%s)', (driver) => {
  let t: TestRondo;
  const P = '/api/v1/orgs/default/projects';

  beforeAll(async () => {
    t = await startTestRondo(driver);
    for (const project of ['shop', 'empty']) await t.call('POST', P, { body: { name: project } });
    for (const name of ['web', 'api', 'worker'])
      await t.call('POST', `${P}/shop/components`, {
        body: { name, type: 'service', source: { image: 'busybox:1' } },
      });
    const { db } = t.rondo.store;
    const id = async (table: 'components' | 'environments', name: string) =>
      await db.selectFrom(table).select(['id', 'org_id']).where('name', '=', name).executeTakeFirstOrThrow();
    const dev = await id('environments', 'development');
    const prod = await id('environments', 'production');
    let n = 0;
    const deployed = async (component: string, env: { id: string }, status: string, minutesAgo: number) => {
      const c = await id('components', component);
      await db
        .insertInto('deployments')
        .values({
          id: `dep_health_${++n}`,
          org_id: c.org_id,
          component_id: c.id,
          environment_id: env.id,
          status,
          spec: JSON.stringify({ image: 'busybox', replicas: 1, endpoints: [], env: {} }),
          name: `20261130-1.0.${n}`,
          created_at: new Date(Date.now() - minutesAgo * 60_000),
          updated_at: new Date(),
        } as never)
        .execute();
    };
    // web: active in development, its newest production rollout failed after an active one.
    await deployed('web', dev, 'active', 10);
    await deployed('web', prod, 'active', 9);
    await deployed('web', prod, 'failed', 1);
    // api: a rollout in progress in development after an older one was superseded.
    await deployed('api', dev, 'superseded', 8);
    await deployed('api', dev, 'rolling-out', 0);
  });
  afterAll(() => t?.close());

  it('counts each project’s components by the state of their newest deployment per environment', async () => {
    const res = await t.call('GET', '/api/v1/orgs/default/health');
    expect(res.status).toBe(200);
    const shop = res.body.items.find((p: { project: string }) => p.project === 'shop');
    expect(shop.components).toBe(3);
    const env = (name: string) =>
      shop.environments.find((e: { environment: string }) => e.environment === name).counts;
    expect(env('development')).toEqual({ active: 1, deploying: 1, failed: 0, notDeployed: 1 });
    expect(env('production')).toEqual({ active: 0, deploying: 0, failed: 1, notDeployed: 2 });
    const empty = res.body.items.find((p: { project: string }) => p.project === 'empty');
    expect(empty.components).toBe(0);
    expect(
      empty.environments.every((e: { counts: object }) => Object.values(e.counts).every((v) => v === 0)),
    ).toBe(true);
  });

  it('is read by any member, answers 404 for another organization and refuses a query', async () => {
    const viewer = await userWithRole(t, 'vera', 'viewer');
    expect((await t.call('GET', '/api/v1/orgs/default/health', { token: viewer })).status).toBe(200);
    expect((await t.call('GET', '/api/v1/orgs/nowhere/health')).status).toBe(404);
    const extra = await t.call('GET', '/api/v1/orgs/default/health?all=1');
    expect(extra.status).toBe(400);
    expect((await t.call('GET', '/api/v1/orgs/default/health', { token: null })).status).toBe(401);
  });
});
