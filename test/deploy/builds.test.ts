import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapStaticImage } from '../../src/builds/bootstrap-images.js';
import { DockerImages } from '../../src/dataplane/docker/docker-images.js';
import { createRepo, type TestRepo } from '../helpers/git.js';
import { docker, removeImagesLabelled } from '../helpers/images.js';
import {
  type PlatformTestRondo,
  startPlatformRondo,
  startRegistry,
  viaGateway,
  waitForDeployment,
  waitForBuild as waitForEnd,
} from '../helpers/platform.js';
import { plantedAwsKey } from '../helpers/secrets.js';

const BUSYBOX = execFileSync('sh', ['-c', 'command -v busybox']).toString().trim();
const DOCKERFILE = (user: string) =>
  `FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\n${user}\nENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n`;
const DESCRIPTOR =
  'schemaVersion: 1.2\nendpoints:\n  - name: site\n    service: { basePath: /, port: 8080 }\n    type: REST\n    networkVisibilities: [Public]\n';

/** Builds from Git repositories made by the test, pushed to a real registry and deployed. */
describe('builds (dockerfile preset)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-builds-'));
  const repo = join(dir, 'repo');
  let t: PlatformTestRondo;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  const planted = plantedAwsKey();
  let repoOf: TestRepo;
  const g = (...args: string[]) => repoOf.git(...args);
  const commit = (files: Record<string, string>) => repoOf.commit(files);
  const waitForBuild = (id: string) => waitForEnd(t, id);
  const component = (name: string, path: string) =>
    t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name,
        type: 'service',
        source: { repoUrl: `file://${repo}`, branch: 'main', path },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
        autoDeploy: true,
      },
    });

  beforeAll(async () => {
    registry = await startRegistry(dir);
    // The static stack's base image, built the way `rondo images bootstrap` builds it.
    const staticBase = await bootstrapStaticImage(new DockerImages(), registry.addr, () => undefined);
    t = await startPlatformRondo(
      'pglite',
      {},
      { registry: registry.addr, baseImages: { static: { '2': staticBase } }, keepUndeployed: 2 },
    );
    repoOf = createRepo(repo);
    mkdirSync(join(repo, 'web', 'www'), { recursive: true });
    copyFileSync(BUSYBOX, join(repo, 'web', 'busybox'));
    mkdirSync(join(repo, 'root', 'www'), { recursive: true });
    copyFileSync(BUSYBOX, join(repo, 'root', 'busybox'));
    commit({
      'web/Dockerfile': DOCKERFILE('USER 10014'),
      'web/www/index.html': 'built v1',
      'web/.rondo/component.yaml': DESCRIPTOR,
      'root/Dockerfile': DOCKERFILE(''),
      'root/www/index.html': 'root',
      'leaky/Dockerfile': DOCKERFILE('USER 10014'),
      'leaky/www/index.html': 'leaky',
      'leaky/config.js': `const AWS_SECRET_ACCESS_KEY = "${planted.secret}";\n`,
      'py/app.py': 'print(1)',
      'bad/Dockerfile': DOCKERFILE('USER 10014'),
      'bad/.rondo/component.yaml':
        'schemaVersion: 1.2\nendpoints:\n  - name: x\n    service: { port: 8080 }\n    type: REST\n    visibility: Public\n',
    });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
  });
  afterAll(async () => {
    await t?.rondo.buildQueue?.idle();
    await t?.close();
    registry?.stop();
    await removeImagesLabelled('rondo.build', 'rondo.base-image');
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the head of the branch, pushes it, records the descriptor’s endpoints and auto-deploys', async () => {
    expect((await component('web', 'web')).status).toBe(201);
    const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/web/builds', {
      body: {},
    });
    expect(res.status).toBe(202);
    expect(res.body.reused).toBe(false);
    const build = await waitForBuild(res.body.build.id);
    expect(build.reason).toBeNull();
    expect(build.status).toBe('succeeded');
    expect(build.commit).toBe(g('rev-parse', 'HEAD'));
    expect(build.image).toMatch(new RegExp(`^${registry.addr}/default/shop/web@sha256:[0-9a-f]{64}$`));
    expect(build.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'init:succeeded',
      'scan-source:succeeded',
      'build:succeeded',
      'scan-image:skipped',
      'push:succeeded',
      'update-endpoints:succeeded',
    ]);
    // Containers inherit image labels; a built image must not claim to be a Rondo workload.
    const labels = (await docker.getImage(build.image).inspect()).Config.Labels;
    expect(labels).toMatchObject({ 'rondo.build': build.id });
    expect(labels['rondo.instance']).toBeUndefined();
    const tags = (await (await fetch(`http://${registry.addr}/v2/default/shop/web/tags/list`)).json()) as {
      tags: string[];
    };
    expect(tags.tags).toEqual([build.commit.slice(0, 12)]);
    const c = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web');
    expect(c.body.endpoints).toEqual([
      { name: 'site', port: 8080, type: 'REST', basePath: '/', visibility: ['Public'] },
    ]);

    let deployments = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/deployments');
    for (let i = 0; i < 50 && deployments.body.items.length === 0; i++) {
      await sleep(200);
      deployments = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/deployments');
    }
    expect(deployments.body.items[0]).toMatchObject({
      environment: 'development',
      image: build.image,
      createdBy: 'rondo',
    });
    expect(await waitForDeployment(t, 'default', deployments.body.items[0].id)).toMatchObject({
      status: 'active',
      reason: null,
    });
    expect(await viaGateway(t, 'development.localhost', '/default/shop/web/site/')).toEqual({
      status: 200,
      body: 'built v1',
    });
  });

  it('logs the push as one line per layer of the image, then the digest, and no line twice', async () => {
    const list = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/builds');
    const build = list.body.items[0];
    const push = build.steps.find((s: { name: string }) => s.name === 'push');
    const lines: string[] = push.log.trimEnd().split('\n');
    const layers = (await docker.getImage(build.image).inspect()).RootFS.Layers ?? [];
    const digest = build.image.slice(build.image.indexOf('@') + 1);
    expect(lines).toHaveLength(layers.length + 2);
    for (const line of lines.slice(0, layers.length))
      expect(line).toMatch(
        /^layer [0-9a-f]{12} (\d+(\.\d)? [kMG]?B pushed in \d+\.\d s|already in the registry)/,
      );
    expect(lines.slice(-2)).toEqual([`digest ${digest}`, `pushed ${build.image}`]);
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('builds a commit once: asking again returns the same build (200, reused)', async () => {
    const head = g('rev-parse', 'HEAD');
    const again = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/web/builds', {
      body: { commit: head },
    });
    expect(again.status).toBe(200);
    expect(again.body.reused).toBe(true);
    const list = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/builds');
    expect(list.body.items).toHaveLength(1);
  });

  it('fails a Dockerfile that runs as root, saying how to fix it, deploys nothing, and fires a build alert', async () => {
    await component('root', 'root');
    const ROOT = '/api/v1/orgs/default/projects/shop/components/root';
    const rule = await t.call('POST', `${ROOT}/alerts`, {
      body: { name: 'builds', environment: 'development', kind: 'build-failure' },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const res = await t.call('POST', `${ROOT}/builds`, { body: {} });
    const build = await waitForBuild(res.body.build.id);
    expect(build.status).toBe('failed');
    expect(build.reason).toMatch(
      /^build: Dockerfile policy: the final stage sets no USER, so it would run as root; .*USER 10014/,
    );
    // The build-failure rule fires from the build as it was recorded, with the build's reason.
    await t.rondo.alerts.evaluator.evaluate();
    const [incident] = (await t.call('GET', `${ROOT}/alerts/history`)).body.items;
    expect(incident).toMatchObject({ rule: 'builds', source: 'rondo', resolvedAt: null });
    expect(incident.summary).toContain(
      `${build.id} of commit ${build.commit.slice(0, 12)} failed: build: Dockerfile policy`,
    );
    expect(build.steps.find((s: { name: string }) => s.name === 'push').status).toBe('skipped');
    expect(
      (await t.call('GET', '/api/v1/orgs/default/projects/shop/components/root/deployments')).body.items,
    ).toEqual([]);
  });

  it('fails init on a descriptor with a wrong field, naming the file and the field', async () => {
    await component('bad', 'bad');
    const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/bad/builds', {
      body: {},
    });
    const build = await waitForBuild(res.body.build.id);
    expect(build.reason).toBe('init: .rondo/component.yaml: endpoints[0]: unknown field(s) visibility');
  });

  it('fails init on a commit that does not exist, and refuses a branch that does not', async () => {
    const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/web/builds', {
      body: { commit: 'deadbeef'.repeat(5) },
    });
    const build = await waitForBuild(res.body.build.id);
    expect(build.reason).toMatch(/^init: commit deadbeef[0-9a-f]+ does not exist in file:\/\//);
    const branch = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/web/builds', {
      body: { branch: 'nope' },
    });
    expect(branch.status).toBe(400);
    expect(branch.body.detail).toMatch(/branch 'nope' does not exist/);
  });

  it('fails scan-source on a planted AWS key, naming file and line but never the key', async () => {
    await component('leaky', 'leaky');
    const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/leaky/builds', {
      body: {},
    });
    const build = await waitForBuild(res.body.build.id);
    expect(build.status).toBe('failed');
    expect(build.reason).toBe(
      'scan-source: found 1 possible secret(s): config.js:1 (aws); remove them from the repository, or list known false positives in .secretlintignore',
    );
    const everything = JSON.stringify(await t.call('GET', `/api/v1/orgs/default/builds/${build.id}`));
    expect(everything).not.toContain(planted.secret);
    const logs = await t.rondo.api.inject({
      method: 'GET',
      url: `/api/v1/orgs/default/builds/${build.id}/logs`,
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(logs.body).toContain('config.js:1');
    expect(logs.body).not.toContain(planted.secret);
    const rows = await t.rondo.store.db.selectFrom('builds').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(planted.secret);
  });

  it('builds a static site with the static preset, gives it an endpoint and serves it as a web app', async () => {
    // At the root of its own repository: the checkout's `.git` would be in the context.
    const site = createRepo(join(dir, 'site'));
    site.commit({ 'index.html': '<h1>static site</h1>', 'about/index.html': 'about' });
    const c = await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'site',
        type: 'web-app',
        source: { repoUrl: `file://${site.path}` },
        buildPreset: 'static',
        autoDeploy: true,
      },
    });
    expect(c.status).toBe(201);
    const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/site/builds', {
      body: {},
    });
    const build = await waitForBuild(res.body.build.id);
    expect(build.reason).toBeNull();
    expect(build.steps.find((s: { name: string }) => s.name === 'build').log).toMatch(
      /generated Dockerfile:\nFROM .*rondo\/static@sha256:/,
    );
    const component = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/site');
    expect(component.body.endpoints).toEqual([
      { name: 'rest', port: 8080, type: 'REST', basePath: '/', visibility: ['Public'] },
    ]);
    let active = false;
    for (let i = 0; i < 100 && !active; i++) {
      const status = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/site/status');
      active = status.body.items[0]?.active?.status === 'active';
      if (!active) await sleep(200);
    }
    expect(await viaGateway(t, 'site.shop.default.development.localhost', '/')).toEqual({
      status: 200,
      body: '<h1>static site</h1>',
    });
    expect(await viaGateway(t, 'site.shop.default.development.localhost', '/about/')).toEqual({
      status: 200,
      body: 'about',
    });
    // Neither the repository's metadata nor Rondo's generated Dockerfile is part of the image.
    for (const path of ['/.git/HEAD', '/.rondo.generated.Dockerfile', '/Dockerfile'])
      expect((await viaGateway(t, 'site.shop.default.development.localhost', path)).status).toBe(404);
  });

  it('says which base image is missing and how to provide it', async () => {
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'py',
        type: 'service',
        source: { repoUrl: `file://${repo}`, path: 'py' },
        buildPreset: 'python',
        buildConfigs: { runCommand: 'python3 app.py' },
      },
    });
    const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/py/builds', { body: {} });
    const build = await waitForBuild(res.body.build.id);
    expect(build.reason).toMatch(
      /^build: base image python:3.11-slim-bookworm is not available on this site \(.*\); run `rondo images bootstrap` or map the stack/,
    );
  });

  it('keeps the newest undeployed builds and one image per commit, deleting the rest from the registry', async () => {
    const manifest = (image: string) => {
      const [name, digest] = image.slice(registry.addr.length + 1).split('@');
      return fetch(`http://${registry.addr}/v2/${name}/manifests/${digest}`, {
        headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      }).then((r) => r.status);
    };
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'gc',
        type: 'service',
        source: { repoUrl: `file://${repo}`, path: 'web' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
      },
    });
    const built = [];
    for (const n of [1, 2, 3]) {
      const sha = commit({ [`web/www/n${n}.txt`]: String(n) });
      const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/gc/builds', {
        body: { commit: sha },
      });
      built.push(await waitForBuild(res.body.build.id));
    }
    const status = async (id: string) =>
      (await t.call('GET', `/api/v1/orgs/default/builds/${id}`)).body.status;
    expect(await status(built[0].id)).toBe('collected');
    expect(await manifest(built[0].image)).toBe(404);
    expect([await status(built[1].id), await status(built[2].id)]).toEqual(['succeeded', 'succeeded']);
    expect(await manifest(built[2].image)).toBe(200);

    const forced = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/gc/builds', {
      body: { commit: built[2].commit, force: true },
    });
    expect(forced.status).toBe(202);
    const rebuilt = await waitForBuild(forced.body.build.id);
    expect(rebuilt.status).toBe('succeeded');
    expect(await status(built[2].id)).toBe('replaced');
    expect(await manifest(rebuilt.image)).toBe(200);
    // The auto-deployed build of `web` is never collected.
    const web = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/builds');
    expect(web.body.items.at(-1).status).toBe('succeeded');
  });

  it('builds with BuildKit when the Dockerfile mounts the CA bundle as a secret, which never enters the image', async () => {
    const base = (
      await t.call('GET', '/api/v1/orgs/default/projects/shop/components/site/builds')
    ).body.items[0].steps
      .find((s: { name: string }) => s.name === 'build')
      .log.match(/^FROM (\S+)/m)[1];
    const sha = commit({
      'bk/Dockerfile': `FROM ${base}\nRUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt wc -c < /etc/ssl/certs/ca-certificates.crt > /www/ca-bytes\nUSER 10014\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`,
    });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'bk',
        type: 'service',
        source: { repoUrl: `file://${repo}`, path: 'bk' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
      },
    });
    const res = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/bk/builds', {
      body: { commit: sha },
    });
    const build = await waitForBuild(res.body.build.id);
    expect(build.reason).toBeNull();
    expect(build.steps.find((s: { name: string }) => s.name === 'build').log).toContain(
      'building with BuildKit',
    );
    const run = async (cmd: string) => {
      const c = await docker.createContainer({
        Image: build.image,
        Entrypoint: ['/bin/sh', '-c'],
        Cmd: [cmd],
        Labels: { 'rondo.test-image': '1' },
      });
      await c.start();
      await c.wait();
      const out = (await c.logs({ stdout: true, stderr: true })).toString('utf8');
      await c.remove({ force: true });
      return out;
    };
    const hostBytes = String(readFileSync('/etc/ssl/certs/ca-certificates.crt').length);
    expect(await run('cat /www/ca-bytes')).toContain(hostBytes);
    expect(await run('ls /etc/ssl/certs/ca-certificates.crt || echo absent')).toContain('absent');
  });
});
