import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepo, type TestRepo } from '../helpers/git.js';
import { removeImagesLabelled } from '../helpers/images.js';
import {
  type PlatformTestRondo,
  startPlatformRondo,
  startRegistry,
  viaGateway,
  waitForBuild as waitForEnd,
} from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt } from '../helpers/processes.js';

const BUSYBOX = execFileSync('sh', ['-c', 'command -v busybox']).toString().trim();
const DOCKERFILE =
  'FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nUSER 10014\nENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n';
const C = '/api/v1/orgs/default/projects/shop/components';

// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
type Json = any;

/**
 * Git automation (§9, F6) against a real repository made by the test: deliveries signed as the
 * providers sign them, builds on the real engine and registry, auto-deploy through the gateway.
 */
describe('webhooks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-webhooks-'));
  const repoPath = join(dir, 'shop');
  let repo: TestRepo;
  let t: PlatformTestRondo;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let secret = '';
  let urls: Record<string, string> = {};
  let n = 0;

  const builds = async (): Promise<Json[]> =>
    (await t.rondo.store.db.selectFrom('builds').selectAll().orderBy('created_at').execute()) as Json[];
  const deliver = async (
    provider: string,
    payload: unknown,
    headers: Record<string, string> = {},
    key = secret,
  ) => {
    const raw = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const sig = `sha256=${createHmac('sha256', key).update(raw).digest('hex')}`;
    const signing: Record<string, Record<string, string>> = {
      github: { 'x-github-event': 'push', 'x-github-delivery': `gh-${++n}`, 'x-hub-signature-256': sig },
      gitlab: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': `gl-${++n}`, 'x-gitlab-token': key },
      bitbucket: { 'x-event-key': 'repo:push', 'x-request-uuid': `bb-${++n}`, 'x-hub-signature': sig },
    };
    const url = new URL(urls[provider] ?? `http://x/hooks/${provider}/hook_unknown`).pathname;
    const res = await t.rondo.api.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...signing[provider], ...headers },
      payload: raw,
    });
    if (res.statusCode >= 400) expect(res.headers['content-type']).toContain('application/problem+json');
    return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as Json) : undefined };
  };
  const githubPush = (before: string, after: string, files: string[]) => ({
    ref: 'refs/heads/main',
    before,
    after,
    repository: { clone_url: `file://${repoPath}`, html_url: `file://${repoPath}` },
    commits: [{ id: after, added: [], removed: [], modified: files }],
  });
  const waitForBuild = (id: string) => waitForEnd(t, id);

  beforeAll(async () => {
    ensureBuilt();
    registry = await startRegistry(dir);
    t = await startPlatformRondo('pglite', {}, { registry: registry.addr });
    repo = createRepo(repoPath);
    for (const c of ['api', 'web']) {
      mkdirSync(join(repoPath, c, 'www'), { recursive: true });
      copyFileSync(BUSYBOX, join(repoPath, c, 'busybox'));
    }
    repo.commit({
      'api/Dockerfile': DOCKERFILE,
      'api/www/index.html': 'api v1',
      'web/Dockerfile': DOCKERFILE,
      'web/www/index.html': 'web v1',
      'docs/README.md': 'docs',
    });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    for (const [name, autoDeploy] of [
      ['api', true],
      ['web', false],
    ] as const) {
      const c = await t.call('POST', C, {
        body: {
          name,
          type: 'service',
          source: { repoUrl: `file://${repoPath}`, branch: 'main', path: name },
          buildPreset: 'dockerfile',
          buildConfigs: { dockerFilePath: 'Dockerfile' },
          endpoints: [{ port: 8080, visibility: ['Public'] }],
          autoBuild: true,
          autoDeploy,
          ...(name === 'web' ? { watchPaths: ['shared/ui'] } : {}),
        },
      });
      expect(c.status, JSON.stringify(c.body)).toBe(201);
    }
  }, 120_000);
  afterAll(async () => {
    await t?.rondo.buildQueue?.idle();
    await t?.close();
    registry?.stop();
    await removeImagesLabelled(`rondo.built-by=${t.instance}`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the repository’s webhook with a secret shown once; show never returns it', async () => {
    const before = await t.call('GET', `${C}/api/webhook`);
    expect(before.body).toMatchObject({ configured: false, urls: {} });
    const created = await t.call('POST', `${C}/api/webhook/secret`);
    expect(created.status).toBe(200);
    secret = created.body.secret;
    urls = created.body.urls;
    expect(secret).toMatch(/^whsec_[\w-]{32}$/);
    expect(urls.github).toMatch(/\/hooks\/github\/hook_\w+$/);
    // Both components build from this repository: one webhook.
    const shown = await t.call('GET', `${C}/web/webhook`);
    expect(shown.body).toMatchObject({ configured: true, urls });
    expect(JSON.stringify(shown.body)).not.toContain(secret);
    expect(shown.body.setup.github).toMatch(/application\/json/);
    const rows = await t.rondo.store.db.selectFrom('config_values').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(secret);
  });

  it('refuses bad, missing and replayed signatures, unknown hooks, malformed and oversized payloads; builds nothing', async () => {
    const head = repo.git('rev-parse', 'HEAD');
    const push = githubPush('0'.repeat(40), head, ['api/www/index.html']);
    expect((await deliver('github', push, {}, 'not-the-secret')).status).toBe(401);
    expect((await deliver('github', push, { 'x-hub-signature-256': '' })).status).toBe(401);
    expect((await deliver('gitlab', push, { 'x-gitlab-token': 'wrong' })).status).toBe(401);
    const unknown = await t.rondo.api.inject({
      method: 'POST',
      url: '/hooks/github/hook_nope',
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(unknown.statusCode).toBe(404);
    expect((await deliver('github', '{"ref": ')).status).toBe(400);
    expect((await deliver('github', { ...push, ref: 'main' })).status).toBe(400);
    const big = await deliver('github', { ...push, padding: 'x'.repeat(10 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(await builds()).toEqual([]);
    const ping = await deliver('github', { zen: 'hi', hook_id: 1 }, { 'x-github-event': 'ping' });
    expect(ping).toMatchObject({ status: 200, body: { outcome: 'ping' } });
  });

  it('push → build → deploy → the new code answers through the gateway; a replay does nothing', async () => {
    const before = repo.git('rev-parse', 'HEAD');
    repo.commit({ 'api/www/index.html': 'api v2' });
    const after = repo.git('rev-parse', 'HEAD');
    const res = await deliver('github', githubPush(before, after, ['api/www/index.html']), {
      'x-github-delivery': 'gh-fixed-1',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ outcome: 'built', builds: [{ component: 'shop/api' }] });
    const build = await waitForBuild(res.body.builds[0].build);
    expect(build).toMatchObject({ status: 'succeeded', commit: after });
    let body = '';
    for (let i = 0; i < 100 && body !== 'api v2'; i++) {
      body = (await viaGateway(t, 'development.localhost', '/default/shop/api/rest/')).body;
      if (body !== 'api v2') await sleep(200);
    }
    expect(body).toBe('api v2');
    const replay = await deliver('github', githubPush(before, after, ['api/www/index.html']), {
      'x-github-delivery': 'gh-fixed-1',
    });
    expect(replay.status).toBe(409);
    expect((await builds()).length).toBe(1);
  });

  it('a monorepo push builds each component it touches (watch paths count) and nothing for the rest', async () => {
    const before = repo.git('rev-parse', 'HEAD');
    repo.commit({ 'api/www/index.html': 'api v3', 'shared/ui/button.css': 'b' });
    const after = repo.git('rev-parse', 'HEAD');
    const both = await deliver('gitlab', {
      object_kind: 'push',
      ref: 'refs/heads/main',
      before,
      after,
      project: { git_http_url: `file://${repoPath}` },
      commits: [
        { id: after, added: ['shared/ui/button.css'], modified: ['api/www/index.html'], removed: [] },
      ],
      total_commits_count: 1,
    });
    expect(both.status, JSON.stringify(both.body)).toBe(202);
    expect(both.body.builds.map((b: Json) => b.component).sort()).toEqual(['shop/api', 'shop/web']);
    await Promise.all(both.body.builds.map((b: Json) => waitForBuild(b.build)));

    const docsBefore = repo.git('rev-parse', 'HEAD');
    repo.commit({ 'docs/README.md': 'more docs' });
    const docs = await deliver('bitbucket', {
      push: {
        changes: [
          {
            new: { type: 'branch', name: 'main', target: { hash: repo.git('rev-parse', 'HEAD') } },
            old: { type: 'branch', name: 'main', target: { hash: docsBefore } },
          },
        ],
      },
      repository: { links: { html: { href: `file://${repoPath}` } } },
    });
    // Bitbucket lists no files: Rondo asked Git, which says only docs changed.
    expect(docs).toMatchObject({ status: 200, body: { outcome: 'nothing-matched' } });
    const other = await deliver('github', {
      ...githubPush(docsBefore, docsBefore, ['api/x']),
      ref: 'refs/heads/dev',
    });
    expect(other.body.outcome).toBe('nothing-matched');
    expect((await builds()).length).toBe(3);

    const log = await t.call('GET', '/api/v1/orgs/default/webhook-deliveries?limit=50');
    const outcomes = log.body.items.map((d: Json) => d.outcome);
    expect(outcomes).toEqual(expect.arrayContaining(['built', 'nothing-matched', 'refused', 'ping']));
    const skipped = log.body.items.find((d: Json) => d.provider === 'bitbucket').detail.skipped;
    expect(skipped).toEqual(
      expect.arrayContaining([{ component: 'shop/api', why: 'no changed file under api' }]),
    );
  });

  it('the CLI shows the webhook, rotates its secret (the old one stops working) and lists deliveries', async () => {
    const env = cleanEnv({ HOME: dir, RONDO_SERVER: t.apiUrl, RONDO_TOKEN: t.adminToken });
    const shown = await cli(['webhooks', 'show', 'api', '--project', 'shop'], env);
    expect(shown.status, shown.stderr).toBe(0);
    // URLs follow the address the request came to (RONDO_PUBLIC_URL overrides it).
    expect(shown.stdout).toContain(`github: ${t.apiUrl}${new URL(urls.github!).pathname}\n`);
    expect(shown.stdout).not.toContain(secret);
    const rotated = await cli(['webhooks', 'rotate-secret', 'api', '--project', 'shop', '-o', 'json'], env);
    expect(rotated.status, rotated.stderr).toBe(0);
    const fresh = JSON.parse(rotated.stdout) as { secret: string; urls: Record<string, string> };
    expect(fresh.secret).not.toBe(secret);
    expect(new URL(fresh.urls.gitlab!).pathname).toBe(new URL(urls.gitlab!).pathname);
    const ping = { zen: 'hi' };
    expect((await deliver('github', ping, { 'x-github-event': 'ping' }, secret)).status).toBe(401);
    expect((await deliver('github', ping, { 'x-github-event': 'ping' }, fresh.secret)).status).toBe(200);
    secret = fresh.secret;
    const settings = await cli(
      [
        'webhooks',
        'settings',
        'web',
        '--project',
        'shop',
        '--watch-paths',
        'shared/ui,lib',
        '--build-tags',
        'on',
      ],
      env,
    );
    expect(settings.stdout).toMatch(/Watch paths:\s+shared\/ui, lib\nBuild tags:\s+on/);
    const bad = await cli(
      ['webhooks', 'settings', 'web', '--project', 'shop', '--watch-paths', '../etc'],
      env,
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/watchPaths\[0\]/);
    const deliveries = await cli(['webhooks', 'deliveries', '--limit', '5'], env);
    expect(deliveries.stdout).toMatch(/github\s+gh-\d+\s+200\s+ping/);
  });

  it('polling finds a new commit and builds it once; a failing repository records why and backs off', async () => {
    const env = cleanEnv({ HOME: dir, RONDO_SERVER: t.apiUrl, RONDO_TOKEN: t.adminToken });
    const on = await cli(['webhooks', 'poll', 'api', '--project', 'shop', '--every', '1'], env);
    expect(on.status, on.stderr).toBe(0);
    expect(on.stdout).toMatch(/Polling:\s+every 1 s/);
    const polled = async () => (await t.call('GET', `${C}/api/webhook`)).body.polling;
    for (let i = 0; i < 100 && !(await polled())?.polledAt; i++) await sleep(100);
    const count = (await builds()).length;
    repo.commit({ 'api/www/index.html': 'api v4' });
    const head = repo.git('rev-parse', 'HEAD');
    let mine: Json[] = [];
    for (let i = 0; i < 150 && mine.length === 0; i++) {
      mine = (await builds()).filter((b) => b.commit === head);
      if (mine.length === 0) await sleep(200);
    }
    expect(mine).toHaveLength(1);
    await waitForBuild(mine[0].id);
    // More polls see nothing new.
    const seen = (await polled()).polledAt;
    for (let i = 0; i < 100 && (await polled()).polledAt === seen; i++) await sleep(100);
    expect((await builds()).length).toBe(count + 1);
    const log = await t.call('GET', '/api/v1/orgs/default/webhook-deliveries?limit=10');
    expect(log.body.items.find((d: Json) => d.provider === 'poll')).toMatchObject({
      outcome: 'built',
      deliveryId: `poll:refs/heads/main:${head}`,
    });
    const off = await cli(['webhooks', 'poll', 'api', '--project', 'shop', '--every', 'off'], env);
    expect(off.stdout).toMatch(/Polling:\s+off/);
    expect((await cli(['webhooks', 'poll', 'api', '--project', 'shop', '--every', 'soon'], env)).status).toBe(
      2,
    );

    await t.call('POST', C, {
      body: {
        name: 'ghost',
        type: 'service',
        source: { repoUrl: `file://${dir}/no-such-repo`, branch: 'main', path: '.' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
      },
    });
    await t.call('PUT', `${C}/ghost/webhook/polling`, { body: { intervalSeconds: 1 } });
    let ghost: Json = {};
    for (let i = 0; i < 100 && !(ghost.polling?.failures >= 2); i++) {
      ghost = (await t.call('GET', `${C}/ghost/webhook`)).body;
      if (!(ghost.polling?.failures >= 2)) await sleep(200);
    }
    expect(ghost.polling).toMatchObject({
      failures: 2,
      error: expect.stringMatching(/Could not read from remote repository/),
    });
    // Two failures: the next poll waits 1 s × 2² = 4 s.
    const at = Date.parse(ghost.polling.polledAt);
    await sleep(2500);
    expect(Date.parse((await t.call('GET', `${C}/ghost/webhook`)).body.polling.polledAt)).toBe(at);
    await t.call('PUT', `${C}/ghost/webhook/polling`, { body: { intervalSeconds: null } });
  });
});
