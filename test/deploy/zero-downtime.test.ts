import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebImage } from '../helpers/images.js';
import { startLoad } from '../helpers/load.js';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';

const DEPLOY = '/api/v1/orgs/default/projects/shop/components/web/deployments';

describe('rolling updates under load', () => {
  let t: PlatformTestRondo;
  beforeAll(async () => {
    await Promise.all([
      buildWebImage('rondo-test-web:v1', { body: 'hello v1' }),
      // v2 takes a moment to listen, so traffic must wait for readiness rather than hit it early.
      buildWebImage('rondo-test-web:v2-slow', { body: 'hello v2', delay: 2 }),
      buildWebImage('rondo-test-web:never-ready', { body: 'never', neverReady: true }),
    ]);
    t = await startPlatformRondo('pglite', { readinessTimeoutMs: 6000 });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'web',
        type: 'service',
        source: { image: 'rondo-test-web:v1' },
        endpoints: [{ port: 8080 }],
      },
    });
    const d = await t.call('POST', DEPLOY, { body: { environment: 'development', replicas: 2 } });
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
  });
  afterAll(() => t?.close());

  it('switches v1 → v2 with zero failed requests from 20 concurrent clients', async () => {
    const load = startLoad(t.publicPort, 'development.localhost', '/default/shop/web/rest/', 20);
    await sleep(1000);
    const d = await t.call('POST', DEPLOY, {
      body: { environment: 'development', image: 'rondo-test-web:v2-slow', replicas: 2 },
    });
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
    await sleep(3000);
    const r = await load.stop();
    expect(r.failures.slice(0, 5)).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.ok).toBeGreaterThan(200);
    // The gateway's reloads reset no connection (G7); a reset is also a failure above.
    expect(r.resets).toBe(0);
    const firstV2 = r.bodies.indexOf('hello v2');
    expect(r.bodies[0]).toBe('hello v1');
    expect(firstV2).toBeGreaterThan(0);
    // Once v2 answered, v1 is gone within the drain; the tail is all v2.
    expect(r.bodies.slice(-50).every((b) => b === 'hello v2')).toBe(true);
  });

  it('keeps v2 serving when v3 never becomes ready, and reports why with its logs', async () => {
    const load = startLoad(t.publicPort, 'development.localhost', '/default/shop/web/rest/', 20);
    await sleep(500);
    const d = await t.call('POST', DEPLOY, {
      body: { environment: 'development', image: 'rondo-test-web:never-ready', replicas: 2 },
    });
    const done = await waitForDeployment(t, 'default', d.body.id);
    await sleep(1000);
    const r = await load.stop();
    expect(done.status).toBe('failed');
    expect(done.reason).toMatch(/readiness did not pass within 6 s \(tcp .*:8080: ECONNREFUSED\)/);
    expect(r.failed).toBe(0);
    expect(new Set(r.bodies)).toEqual(new Set(['hello v2']));
    const status = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/status');
    const dev = status.body.items[0];
    expect(dev.active.image).toBe('rondo-test-web:v2-slow');
    expect(dev.latest).toMatchObject({ status: 'failed', image: 'rondo-test-web:never-ready' });
    expect(dev.replicas).toMatchObject({ desired: 2, running: 2 });
  });
});
