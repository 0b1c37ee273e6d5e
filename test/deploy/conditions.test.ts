import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebImage } from '../helpers/images.js';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';

const DEPLOY = '/api/v1/orgs/default/projects/shop/components/web/deployments';

type Condition = {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
};
const condition = (d: { conditions: Condition[] }, type: string) => d.conditions.find((c) => c.type === type);

/** G5: a deployment's phase and conditions, persisted by the reconciler and shown by the API. */
describe('deployment phases and conditions', () => {
  let t: PlatformTestRondo;
  const get = async (id: string) => (await t.call('GET', `/api/v1/orgs/default/deployments/${id}`)).body;

  beforeAll(async () => {
    await Promise.all([
      buildWebImage('rondo-test-web:v1', { body: 'hello v1' }),
      buildWebImage('rondo-test-web:v2', { body: 'hello v2' }),
      buildWebImage('rondo-test-web:never-ready', { body: 'never', neverReady: true }),
    ]);
    t = await startPlatformRondo('pglite', { readinessTimeoutMs: 3000 });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'web',
        type: 'service',
        source: { image: 'rondo-test-web:v1' },
        endpoints: [{ port: 8080 }],
      },
    });
  });
  afterAll(() => t?.close());

  it('records an active deployment Ready with its image pinned, and the one it replaced superseded', async () => {
    const v1 = await t.call('POST', DEPLOY, { body: { environment: 'development' } });
    expect(v1.body).toMatchObject({ status: 'pending', phase: 'Pending', conditions: [] });
    await waitForDeployment(t, 'default', v1.body.id);
    const active = await get(v1.body.id);
    expect(active).toMatchObject({ status: 'active', phase: 'Active' });
    expect(condition(active, 'Ready')).toMatchObject({ status: 'True', reason: 'ReplicasReady' });
    expect(condition(active, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutComplete' });
    expect(condition(active, 'TrafficSwitched')).toMatchObject({ status: 'True' });
    expect(condition(active, 'ImagePinned')?.status).toBe('True');
    expect(condition(active, 'ImagePinned')?.message).toMatch(/^rondo-test-web:v1 is sha256:/);
    for (const c of active.conditions) expect(c.observedGeneration).toBe(1);

    const v2 = await t.call('POST', DEPLOY, {
      body: { environment: 'development', image: 'rondo-test-web:v2' },
    });
    await waitForDeployment(t, 'default', v2.body.id);
    expect(await get(v2.body.id)).toMatchObject({ status: 'active', phase: 'Active' });
    const old = await get(v1.body.id);
    expect(old).toMatchObject({ status: 'superseded', phase: 'Superseded' });
    expect(condition(old, 'Ready')).toMatchObject({ status: 'False', reason: 'Superseded' });
    // ImagePinned did not change status, so it kept the time it became true.
    expect(condition(old, 'ImagePinned')?.lastTransitionTime).toBe(
      condition(active, 'ImagePinned')?.lastTransitionTime,
    );
  });

  it('records a rollout that never became ready as Failed, with why', async () => {
    const bad = await t.call('POST', DEPLOY, {
      body: { environment: 'development', image: 'rondo-test-web:never-ready' },
    });
    await waitForDeployment(t, 'default', bad.body.id);
    const failed = await get(bad.body.id);
    expect(failed).toMatchObject({ status: 'failed', phase: 'Failed' });
    expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'RolloutFailed' });
    expect(condition(failed, 'Progressing')?.message).toMatch(/readiness did not pass within 3 s/);
  });
});
