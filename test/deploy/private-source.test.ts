import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepo } from '../helpers/git.js';
import { serveGitHttp } from '../helpers/git-http.js';
import { serveGitSsh, sshKeyPair } from '../helpers/git-ssh.js';
import { docker, removeImagesLabelled } from '../helpers/images.js';
import {
  type PlatformTestRondo,
  startPlatformRondo,
  startRegistry,
  waitForBuild as waitForEnd,
} from '../helpers/platform.js';
import { snapshot } from '../helpers/stores.js';

const BUSYBOX = execFileSync('sh', ['-c', 'command -v busybox']).toString().trim();
const COMPONENT = '/api/v1/orgs/default/projects/shop/components/private';

/** A private repository over HTTPS-style basic auth, with a private submodule on the same host. */
describe('private repositories and submodules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-private-'));
  const token = `ghp_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  let t: PlatformTestRondo;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let host: Awaited<ReturnType<typeof serveGitHttp>>;

  const waitForBuild = (id: string) => waitForEnd(t, id);

  beforeAll(async () => {
    registry = await startRegistry(dir);
    host = await serveGitHttp(join(dir, 'repos'), token);
    t = await startPlatformRondo('pglite', {}, { registry: registry.addr });
    const lib = createRepo(join(dir, 'repos', 'lib'));
    lib.commit({ 'www/from-submodule.html': 'from the submodule' });
    const app = createRepo(join(dir, 'repos', 'app'));
    mkdirSync(join(dir, 'repos', 'app', 'www'), { recursive: true });
    copyFileSync(BUSYBOX, join(dir, 'repos', 'app', 'busybox'));
    app.commit({
      Dockerfile:
        'FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nCOPY lib/www /www/lib\nUSER 10014\nENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n',
      'www/index.html': 'private',
    });
    app.git(
      '-c',
      'protocol.file.allow=always',
      'submodule',
      'add',
      '-q',
      `file://${join(dir, 'repos', 'lib')}`,
      'lib',
    );
    app.git('config', '-f', '.gitmodules', 'submodule.lib.url', `${host.url}/lib/.git`);
    app.commit({}, 'add the submodule');
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'private',
        type: 'service',
        source: { repoUrl: `${host.url}/app/.git`, branch: 'main' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
      },
    });
  });
  afterAll(async () => {
    await t?.rondo.buildQueue?.idle();
    await t?.close();
    registry?.stop();
    await host?.stop();
    await removeImagesLabelled(`rondo.built-by=${t.instance}`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('says the repository needs credentials when there is no token', async () => {
    const res = await t.call('POST', `${COMPONENT}/builds`, { body: {} });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/could not read Username|Authentication failed/);
    expect(host.denied()).toBeGreaterThan(0);
  });

  it('builds with the stored token, submodule included, and the token appears nowhere', async () => {
    expect((await t.call('PUT', `${COMPONENT}/source-token`, { body: { token } })).status).toBe(204);
    const component = await t.call('GET', COMPONENT);
    expect(component.body.sourceToken).toBe(true);
    expect(JSON.stringify(component.body)).not.toContain(token);
    const res = await t.call('POST', `${COMPONENT}/builds`, { body: {} });
    expect(res.status).toBe(202);
    const build = await waitForBuild(res.body.build.id);
    expect(build.reason).toBeNull();
    expect(build.steps[0].log).toContain('with the stored access token');
    const files = execFileSync('/usr/bin/docker', [
      'run',
      '--rm',
      '--entrypoint',
      '/bin/busybox',
      build.image,
      'cat',
      '/www/lib/from-submodule.html',
    ]).toString();
    expect(files).toBe('from the submodule');
    expect(JSON.stringify(build)).not.toContain(token);
    expect(await snapshot(t.rondo.store)).not.toContain(token);
    const history = JSON.stringify(await docker.getImage(build.image).history());
    expect(history).not.toContain(token);
  });

  it('builds over ssh with a stored deploy key, which appears nowhere', async () => {
    const sshd = await serveGitSsh(join(dir, 'sshd'));
    try {
      const key = sshKeyPair(dir, 'deploy');
      sshd.authorize(key.publicKey);
      // The line that holds the private scalar (the first lines are a header every ed25519 key shares).
      const keyBody = key.privateKey.split('\n')[4]!;
      const repo = createRepo(join(dir, 'repos', 'over-ssh'));
      mkdirSync(join(repo.path, 'www'));
      copyFileSync(BUSYBOX, join(repo.path, 'busybox'));
      repo.commit({
        Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nUSER 10014\n',
        'www/index.html': 'over ssh',
      });
      const path = '/api/v1/orgs/default/projects/shop/components/over-ssh';
      await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
        body: {
          name: 'over-ssh',
          type: 'service',
          source: { repoUrl: `ssh://root@127.0.0.1:${sshd.port}${repo.path}`, branch: 'main' },
          buildPreset: 'dockerfile',
          buildConfigs: { dockerFilePath: 'Dockerfile' },
        },
      });
      const refused = await t.call('POST', `${path}/builds`, { body: {} });
      expect(refused.status).toBe(400);
      expect(refused.body.detail).toMatch(/Permission denied \(publickey\)/);
      expect((await t.call('PUT', `${path}/source-token`, { body: { token: key.privateKey } })).status).toBe(
        204,
      );
      const res = await t.call('POST', `${path}/builds`, { body: {} });
      expect(res.status).toBe(202);
      const build = await waitForBuild(res.body.build.id);
      expect(build.reason).toBeNull();
      expect(build.steps[0].log).toContain('with the stored SSH key');
      const logs = await t.rondo.api.inject({
        method: 'GET',
        url: `/api/v1/orgs/default/builds/${build.id}/logs`,
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      for (const seen of [
        JSON.stringify(build),
        logs.body,
        JSON.stringify((await t.call('GET', path)).body),
        await snapshot(t.rondo.store),
        JSON.stringify(await docker.getImage(build.image).history()),
      ])
        expect(seen).not.toContain(keyBody);
    } finally {
      await sshd.stop();
    }
  });

  it('refuses a token with control characters and forgets a removed one', async () => {
    expect((await t.call('PUT', `${COMPONENT}/source-token`, { body: { token: 'a\nb' } })).status).toBe(400);
    expect((await t.call('DELETE', `${COMPONENT}/source-token`)).status).toBe(204);
    expect((await t.call('GET', COMPONENT)).body.sourceToken).toBe(false);
    expect((await t.call('POST', `${COMPONENT}/builds`, { body: { force: true } })).status).toBe(400);
  });
});
