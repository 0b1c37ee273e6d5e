import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DockerDataPlane } from '../../src/dataplane/docker/docker-data-plane.js';
import { REPLACEMENT } from '../../src/domain/storable-text.js';
import { buildBusyboxImage, buildWebImage, docker, TEST_IMAGE_LABEL } from '../helpers/images.js';
import {
  type PlatformTestRondo,
  startPlatformRondo,
  viaGateway,
  waitForDeployment,
} from '../helpers/platform.js';

const WEB = '/api/v1/orgs/default/projects/shop/components/web';

/** Rollouts meeting faults: an engine error after the switch (G2 #16), replicas printing what the store refuses (G2). */
describe('rollouts meeting faults', () => {
  let t: PlatformTestRondo;
  const replicasOf = (deployment: string) =>
    docker.listContainers({ all: true, filters: { label: [`rondo.deployment=${deployment}`] } });

  beforeAll(async () => {
    await Promise.all([
      buildWebImage('rondo-test-web:v1', { body: 'hello v1' }),
      buildWebImage('rondo-test-web:v2', { body: 'hello v2' }),
      // A replica that prints NUL and bytes that are not UTF-8, then exits before it is ready.
      buildBusyboxImage(
        'rondo-test-web:hostile-crash',
        [
          'FROM scratch',
          'COPY busybox /bin/busybox',
          `LABEL ${TEST_IMAGE_LABEL}=1`,
          `ENTRYPOINT ${JSON.stringify(['/bin/busybox', 'sh', '-c', "/bin/busybox printf 'cannot start\\000here \\377\\n'; exit 4"])}`,
        ].join('\n'),
        {},
      ),
    ]);
    t = await startPlatformRondo('pglite', { readinessTimeoutMs: 8000 });
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
  afterAll(async () => {
    vi.restoreAllMocks();
    await t?.close();
  });

  it('keeps the new replicas serving when the engine fails to stop the old ones; the reconciler collects them later', async () => {
    const v1 = await t.call('POST', `${WEB}/deployments`, { body: { environment: 'development' } });
    expect(await waitForDeployment(t, 'default', v1.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });

    // From now on the engine refuses to stop anything: the rollout's stop-old step fails.
    const remove = vi
      .spyOn(DockerDataPlane.prototype, 'removeWorkload')
      .mockRejectedValue(new Error('engine error: cannot stop container'));
    const v2 = await t.call('POST', `${WEB}/deployments`, {
      body: { environment: 'development', image: 'rondo-test-web:v2' },
    });
    expect(await waitForDeployment(t, 'default', v2.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
    // The rollout goes on after `active`: drain, then stop the old replicas.
    await t.rondo.reconciler!.idle();
    expect(remove).toHaveBeenCalled();
    expect((await t.call('GET', `/api/v1/orgs/default/deployments/${v2.body.id}`)).body).toMatchObject({
      status: 'active',
      reason: null,
    });
    expect((await replicasOf(v2.body.id)).map((c) => c.State)).toEqual(['running']);
    expect(await viaGateway(t, 'development.localhost', '/default/shop/web/rest/')).toEqual({
      status: 200,
      body: 'hello v2',
    });
    // The old replica is still there, superseded: nothing has removed it yet.
    expect((await t.call('GET', `/api/v1/orgs/default/deployments/${v1.body.id}`)).body.status).toBe(
      'superseded',
    );
    expect(await replicasOf(v1.body.id)).toHaveLength(1);

    // Once the engine answers again, a reconciler pass removes what no live deployment owns.
    remove.mockRestore();
    const deadline = Date.now() + 30_000;
    while ((await replicasOf(v1.body.id)).length > 0 && Date.now() < deadline) await sleep(200);
    expect(await replicasOf(v1.body.id)).toHaveLength(0);
    expect(await viaGateway(t, 'development.localhost', '/default/shop/web/rest/')).toEqual({
      status: 200,
      body: 'hello v2',
    });
  });

  it('records a failed rollout whose replicas printed NUL and invalid UTF-8, and the active one keeps serving', async () => {
    const bad = await t.call('POST', `${WEB}/deployments`, {
      body: { environment: 'development', image: 'rondo-test-web:hostile-crash' },
    });
    const ended = await waitForDeployment(t, 'default', bad.body.id, 40_000);
    expect(ended.status).toBe('failed');
    // It restarts (on-failure) until it gives up or readiness times out; either way it never became ready.
    expect(ended.reason).toMatch(/exited with code 4 before it became ready|readiness did not pass/);
    expect(ended.reason).toContain(`cannot start${REPLACEMENT}here ${REPLACEMENT}`);
    expect(await viaGateway(t, 'development.localhost', '/default/shop/web/rest/')).toEqual({
      status: 200,
      body: 'hello v2',
    });
  });
});
