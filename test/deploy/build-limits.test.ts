import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapStaticImage } from '../../src/builds/bootstrap-images.js';
import { DockerImages } from '../../src/dataplane/docker/docker-images.js';
import { createRepo } from '../helpers/git.js';
import { docker, removeImagesLabelled } from '../helpers/images.js';
import { type PlatformTestRondo, startPlatformRondo, startRegistry } from '../helpers/platform.js';

/** A build that outlives its limit is stopped; a cancelled one stops at once, not after its step. */
describe('build time limit and cancellation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-build-limits-'));
  let t: PlatformTestRondo;
  let registry: Awaited<ReturnType<typeof startRegistry>>;

  const waitForEnd = async (id: string) => {
    for (let i = 0; i < 300; i++) {
      const b = await t.call('GET', `/api/v1/orgs/default/builds/${id}`);
      if (!['queued', 'running'].includes(b.body.status) && b.body.finishedAt) return b.body;
      await sleep(100);
    }
    throw new Error(`build ${id} did not end`);
  };
  const buildContainers = async () =>
    (await docker.listContainers()).filter((c) => c.Command.includes('sleep 120'));

  beforeAll(async () => {
    registry = await startRegistry(dir);
    const base = await bootstrapStaticImage(new DockerImages(), registry.addr, () => undefined);
    t = await startPlatformRondo('pglite', {}, { registry: registry.addr, buildTimeoutMs: 4000 });
    const repo = createRepo(join(dir, 'repo'));
    repo.commit({ 'slow/Dockerfile': `FROM ${base}\nRUN sleep 120\nUSER 10014\n` });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'slow',
        type: 'service',
        source: { repoUrl: `file://${join(dir, 'repo')}`, branch: 'main', path: 'slow' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
      },
    });
  });
  afterAll(async () => {
    await t?.rondo.buildQueue?.idle();
    await t?.close();
    registry?.stop();
    await removeImagesLabelled('rondo.build', 'rondo.base-image');
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails a build that exceeds the limit, in its running step, and stops the engine’s work', async () => {
    const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/slow/builds', {
      body: {},
    });
    const build = await waitForEnd(res.body.build.id);
    expect(build.status).toBe('failed');
    expect(build.reason).toBe(
      'build: the build exceeded its 4 s limit (RONDO_BUILD_TIMEOUT_SECONDS) and was stopped',
    );
    expect(build.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'init:succeeded',
      'scan-source:succeeded',
      'build:failed',
      'scan-image:skipped',
      'push:skipped',
      'update-endpoints:skipped',
    ]);
    for (let i = 0; i < 50 && (await buildContainers()).length > 0; i++) await sleep(200);
    expect(await buildContainers()).toEqual([]);
  });

  it('stops a running build when it is cancelled', async () => {
    const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/slow/builds', {
      body: { force: true },
    });
    const id = res.body.build.id;
    for (let i = 0; i < 100 && (await buildContainers()).length === 0; i++) await sleep(100);
    // A follower of the log (as `rondo build --follow` is) is there when it is cancelled.
    const followed = t.rondo.api.inject({
      method: 'GET',
      url: `/api/v1/orgs/default/builds/${id}/logs?follow=1`,
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect((await t.call('POST', `/api/v1/orgs/default/builds/${id}/cancel`, { body: {} })).status).toBe(200);
    expect((await waitForEnd(id)).status).toBe('cancelled');
    expect((await followed).body).toMatch(/^--- init\n[\s\S]*\n--- cancelled: cancelled by admin\n$/);
    // The pipeline notices within a second and stops the step it is in.
    let step = { status: 'running', log: '' };
    for (let i = 0; i < 50 && step.status === 'running'; i++) {
      await sleep(200);
      const b = await t.call('GET', `/api/v1/orgs/default/builds/${id}`);
      step = b.body.steps.find((s: { name: string }) => s.name === 'build');
    }
    expect(step).toMatchObject({ status: 'failed', log: expect.stringMatching(/cancelled\n$/) });
    expect((await t.call('GET', `/api/v1/orgs/default/builds/${id}`)).body.status).toBe('cancelled');
    for (let i = 0; i < 50 && (await buildContainers()).length > 0; i++) await sleep(200);
    expect(await buildContainers()).toEqual([]);
  });
});
