import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepo } from '../helpers/git.js';
import { type Damage, serveDamagedGit } from '../helpers/git-damaged.js';
import { type PlatformTestRondo, startPlatformRondo, waitForBuild } from '../helpers/platform.js';
import { DRIVERS } from '../helpers/stores.js';

const COMPONENTS = '/api/v1/orgs/default/projects/shop/components';

/**
 * A build whose repository's remote is damaged ends `failed` with a readable reason, and a
 * follower of its log sees the end (G2): git's error text may hold NUL and bytes that are not
 * UTF-8, which PostgreSQL refuses in text and jsonb.
 */
describe.each(DRIVERS)('builds from a damaged remote (%s)', (driver) => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-damaged-git-'));
  let t: PlatformTestRondo;
  let host: Awaited<ReturnType<typeof serveDamagedGit>>;
  let commit = '';

  beforeAll(async () => {
    host = await serveDamagedGit(join(dir, 'repos'));
    const repo = createRepo(join(dir, 'repos', 'app'));
    // Enough content that a pack cut in half is cut inside its data.
    commit = repo.commit({
      Dockerfile: 'FROM scratch\n',
      'blob.txt': randomBytes(256 * 1024).toString('base64'),
    });
    t = await startPlatformRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
  });
  afterAll(async () => {
    await t?.rondo.buildQueue?.idle();
    await t?.close();
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Builds from the damaged remote; returns the ended build and what a log follower saw. */
  const buildFrom = async (damage: Damage) => {
    const c = await t.call('POST', COMPONENTS, {
      body: {
        name: damage,
        type: 'service',
        source: { repoUrl: `${host.url}/${damage}/app/.git`, branch: 'main' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
      },
    });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    const res = await t.call('POST', `${COMPONENTS}/${damage}/builds`, { body: { commit } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = res.body.build.id as string;
    // The follow must end by itself; a wedged build would keep it open until this gives up.
    const follow = t.rondo.api
      .inject({
        method: 'GET',
        url: `/api/v1/orgs/default/builds/${id}/logs?follow=1`,
        headers: { authorization: `Bearer ${t.adminToken}` },
      })
      .then((r) => r.body);
    const gaveUp = new Promise<string>((r) => setTimeout(() => r('the follow did not end'), 30_000).unref());
    const followed = await Promise.race([follow, gaveUp]);
    return { build: await waitForBuild(t, id, 5_000), followed };
  };

  it('records the failure when git prints NUL and invalid UTF-8, and the log follow ends', async () => {
    const { build, followed } = await buildFrom('nul-error');
    expect(build.status).toBe('failed');
    expect(build.reason).toMatch(/^init: .*pack store damaged\ufffdat \ufffd\ufffd offset 7/);
    expect(build.steps[0]).toMatchObject({ name: 'init', status: 'failed' });
    expect(followed).toContain(`--- failed: ${build.reason}`);
    expect(followed).not.toContain('\0');
  });

  it('records the failure when the remote dies mid-fetch, and the log follow ends', async () => {
    const { build, followed } = await buildFrom('dies-mid-fetch');
    expect(build.status).toBe('failed');
    expect(build.reason).toMatch(/^init: .*(early EOF|RPC failed|hung up|transfer closed)/);
    expect(followed).toContain(`--- failed: ${build.reason}`);
  });
});
