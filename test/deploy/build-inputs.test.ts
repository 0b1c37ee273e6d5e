import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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
import { snapshot } from '../helpers/stores.js';

/** Build arguments and build secrets from the build scope (F3), on the real engine with BuildKit. */
describe('build-time configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-build-inputs-'));
  const secret = `build-secret-${Math.random().toString(36).slice(2)}`;
  let t: PlatformTestRondo;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  const base = (c: string) => `/api/v1/orgs/default/projects/shop/components/${c}`;

  const build = async (component: string, body: unknown = {}) => {
    const res = await t.call('POST', `${base(component)}/builds`, { body });
    for (let i = 0; i < 300; i++) {
      const b = await t.call('GET', `/api/v1/orgs/default/builds/${res.body.build.id}`);
      if (b.body.status === 'succeeded' || b.body.status === 'failed')
        return { ...b.body, reused: res.body.reused };
      await sleep(200);
    }
    throw new Error('build did not finish');
  };
  const fileIn = (image: string, path: string) =>
    execFileSync('/usr/bin/docker', [
      'run',
      '--rm',
      '--entrypoint',
      '/bin/busybox',
      image,
      'cat',
      path,
    ]).toString();

  beforeAll(async () => {
    registry = await startRegistry(dir);
    const staticBase = await bootstrapStaticImage(new DockerImages(), registry.addr, () => undefined);
    t = await startPlatformRondo(
      'pglite',
      {},
      { registry: registry.addr, baseImages: { static: { '2': staticBase } } },
    );
    const repo = createRepo(join(dir, 'repo'));
    repo.commit({
      'app/Dockerfile': [
        `FROM ${staticBase}`,
        'ARG GREETING',
        'RUN --mount=type=secret,id=API_KEY echo "key is $(cat /run/secrets/API_KEY)" && sha256sum /run/secrets/API_KEY | cut -c1-64 > /key.sha && echo "greeting=$GREETING" > /greeting.txt',
        'USER 10014',
        'ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]',
      ].join('\n'),
      'site/index.html': 'static',
    });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    for (const [name, path, preset, configs] of [
      ['app', 'app', 'dockerfile', { dockerFilePath: 'Dockerfile' }],
      ['site', 'site', 'static', {}],
    ] as const)
      await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
        body: {
          name,
          type: name === 'site' ? 'web-app' : 'service',
          source: { repoUrl: `file://${join(dir, 'repo')}`, branch: 'main', path },
          buildPreset: preset,
          buildConfigs: configs,
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

  it('passes build arguments and mounts build secrets, which stay out of the image, the logs and the store', async () => {
    const set = await t.call('PATCH', `${base('app')}/config`, {
      body: {
        build: true,
        set: [
          { key: 'GREETING', value: 'hello build' },
          { key: 'API_KEY', value: secret, secret: true },
        ],
      },
    });
    expect(set.status).toBe(200);
    expect(set.body.scope).toBe('build');
    const b = await build('app');
    expect(b.reason).toBeNull();
    expect(fileIn(b.image, '/greeting.txt')).toBe('greeting=hello build\n');
    expect(fileIn(b.image, '/key.sha')).toBe(`${createHash('sha256').update(secret).digest('hex')}\n`);
    const log = b.steps.find((s: { name: string }) => s.name === 'build').log as string;
    expect(log).toContain('build scope: GREETING, API_KEY');
    expect(log).toContain('key is ***');
    expect(JSON.stringify(b)).not.toContain(secret);
    const saved = execFileSync('/usr/bin/docker', ['save', b.image], { maxBuffer: 64 * 1024 * 1024 });
    expect(saved.includes(Buffer.from(secret))).toBe(false);
    expect(JSON.stringify(await docker.getImage(b.image).history())).not.toContain(secret);
    expect(await snapshot(t.rondo.store)).not.toContain(secret);
  });

  it('builds again when the build scope changes, and reuses the build when it does not', async () => {
    expect((await build('app')).reused).toBe(true);
    await t.call('PATCH', `${base('app')}/config`, {
      body: { build: true, set: [{ key: 'GREETING', value: 'changed' }] },
    });
    const again = await build('app');
    expect(again.reused).toBe(false);
    expect(fileIn(again.image, '/greeting.txt')).toBe('greeting=changed\n');
  });

  it('mounts build secrets into the RUN steps of a generated Dockerfile', async () => {
    await t.call('PATCH', `${base('site')}/config`, {
      body: { build: true, set: [{ key: 'TOKEN', value: secret, secret: true }] },
    });
    const b = await build('site');
    expect(b.reason).toBeNull();
    const log = b.steps.find((s: { name: string }) => s.name === 'build').log as string;
    expect(log).toMatch(/^RUN --mount=type=secret,id=TOKEN /m);
    expect(log).not.toContain(secret);
  });

  it('refuses files and environments in the build scope', async () => {
    const files = await t.call('PATCH', `${base('app')}/config`, {
      body: { build: true, set: [{ key: '/etc/x', value: 'x' }] },
    });
    expect(files.status).toBe(400);
    expect(files.body.detail).toMatch(/not files/);
    const both = await t.call('PATCH', `${base('app')}/config`, {
      body: { build: true, environment: 'development', set: [{ key: 'A', value: 'x' }] },
    });
    expect(both.status).toBe(400);
  });
});
