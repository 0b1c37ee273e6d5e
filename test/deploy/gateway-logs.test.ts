import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL } from '../../src/dataplane/labels.js';
import { buildBusyboxImage, docker, TEST_IMAGE_LABEL } from '../helpers/images.js';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt } from '../helpers/processes.js';

const COMPONENT = '/api/v1/orgs/default/projects/shop/components/web';
const GATEWAY_LOGS = `${COMPONENT}/logs?environment=development&type=gateway`;
const HOST = 'development.localhost';

/**
 * A service behind busybox httpd: `/` answers 200, a missing file 404, `/cgi-bin/fail` 500, and
 * `/cgi-bin/grow` makes the shell (PID 1) read 200 MB into memory, for the OOM condition.
 */
async function buildWebImage(): Promise<string> {
  const script = [
    'export PATH=/bin',
    '/bin/busybox --install -s /bin',
    'mkdir -p /tmp',
    'httpd -p 8080 -h /www',
    'while [ ! -e /tmp/grow ]; do sleep 0.2; done',
    'echo "growing"',
    'x=$(head -c 200000000 /dev/zero | tr "\\000" a)',
    'echo "grew"',
    'sleep 3600',
    '',
  ].join('\n');
  const cgi = (body: string) => `#!/bin/sh\n${body}\n`;
  return buildBusyboxImage(
    'rondo-test-gateway-logs:v1',
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'COPY run.sh /run.sh',
      'COPY www /www',
      'RUN ["/bin/busybox", "chmod", "755", "/www/cgi-bin/fail", "/www/cgi-bin/grow"]',
      `LABEL ${TEST_IMAGE_LABEL}=1`,
      'ENTRYPOINT ["/bin/busybox", "sh", "/run.sh"]',
    ].join('\n'),
    {
      'run.sh': script,
      'www/index.html': 'ok',
      'www/cgi-bin/fail': cgi(
        'printf "Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nboom"',
      ),
      'www/cgi-bin/grow': cgi('touch /tmp/grow\nprintf "Content-Type: text/plain\\r\\n\\r\\ngrowing"'),
    },
  );
}

/** A request through the public gateway (any method). */
function send(
  t: PlatformTestRondo,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: t.publicPort,
        method,
        path,
        headers: { host: HOST, ...headers },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface GatewayLine {
  timestamp: string;
  method: string;
  path: string;
  status: number;
  outcome: string;
  durationMs: number;
  bytes: number;
  requestId: string;
  deployment: string | null;
}

interface Event {
  kind: string;
  message: string;
}

describe('gateway access logs and deployment conditions (real engine)', () => {
  let t: PlatformTestRondo;
  let deployment: string;
  let image: string;
  const sent: { method: string; path: string; status: number }[] = [];

  const page = async (query = ''): Promise<{ items: GatewayLine[]; nextCursor: string | null }> => {
    const res = await t.call('GET', `${GATEWAY_LOGS}${query}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  async function untilLogged(count: number, query = '&limit=5000'): Promise<GatewayLine[]> {
    let items: GatewayLine[] = [];
    for (let i = 0; i < 100 && items.length < count; i++) {
      items = (await page(query)).items;
      if (items.length < count) await sleep(100);
    }
    return items;
  }
  async function eventsUntil(component: string, kind: string): Promise<Event[]> {
    let events: Event[] = [];
    for (let i = 0; i < 150 && !events.some((e) => e.kind === kind); i++) {
      await sleep(200);
      events = (await t.call('GET', `/api/v1/orgs/default/projects/shop/components/${component}/events`)).body
        .items;
    }
    return events;
  }

  beforeAll(async () => {
    image = await buildWebImage();
    t = await startPlatformRondo('pglite', { readinessTimeoutMs: 4000 });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'web', type: 'service', source: { image }, endpoints: [{ name: 'site', port: 8080 }] },
    });
    const d = await t.call('POST', `${COMPONENT}/deployments`, { body: { environment: 'development' } });
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
    deployment = (await t.call('GET', `/api/v1/orgs/default/deployments/${d.body.id}`)).body.name;
  }, 120_000);
  afterAll(() => t?.close());

  it('logs each request of the component with its status, outcome, method and path', async () => {
    const plan: [string, string, number][] = [
      ['GET', '/default/shop/web/site/', 200],
      ['GET', '/default/shop/web/site/missing.html', 404],
      ['GET', '/default/shop/web/site/cgi-bin/fail', 500],
      ['POST', '/default/shop/web/site/cgi-bin/fail?token=hidden', 500],
      ['GET', '/default/shop/web/nope/x', 404],
      ['GET', '/default/shop/web', 404],
    ];
    for (let round = 0; round < 3; round++)
      for (const [method, path, expected] of plan) {
        expect(await send(t, method, path)).toBe(expected);
        sent.push({ method, path: path.split('?')[0]!, status: expected });
      }
    // Credentials a client sends never reach the access log file (its request headers are dropped).
    const planted = `planted-${Math.random().toString(36).slice(2)}`;
    const credentials = { authorization: `Bearer ${planted}`, cookie: `s=${planted}`, 'x-api-key': planted };
    expect(await send(t, 'GET', '/default/shop/web/site/', credentials)).toBe(200);
    sent.push({ method: 'GET', path: '/default/shop/web/site/', status: 200 });
    // Not the component's: another component's path, and no component at all.
    expect(await send(t, 'GET', '/default/shop/other/site/')).toBe(404);
    expect(await send(t, 'GET', '/')).toBe(404);

    const items = await untilLogged(sent.length);
    expect(items.map(({ method, path, status }) => ({ method, path, status }))).toEqual(sent);
    const outcomes = new Map(items.map((l) => [`${l.method} ${l.path}`, l.outcome]));
    expect(outcomes.get('GET /default/shop/web/site/')).toBe('BACKEND_RESPONSE');
    expect(outcomes.get('GET /default/shop/web/site/cgi-bin/fail')).toBe('BACKEND_RESPONSE');
    expect(outcomes.get('GET /default/shop/web/nope/x')).toBe('RESOURCE_NOT_FOUND');
    expect(outcomes.get('GET /default/shop/web')).toBe('RESOURCE_NOT_FOUND');
    for (const l of items) {
      expect(l.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(l.durationMs).toBeGreaterThanOrEqual(0);
      expect(l.deployment).toBe(deployment);
    }
    // What the client received: the 2-byte body and the answer's headers.
    const bytes = items.find((l) => l.path === '/default/shop/web/site/')?.bytes ?? 0;
    expect(bytes).toBeGreaterThan(2 + 'HTTP/1.1 200 OK\r\n\r\n'.length);
    expect(bytes).toBeLessThan(1024);
    expect(JSON.stringify(items)).not.toContain('hidden');
    const file = readFileSync(t.platform.gateway.accessLogPath, 'utf8');
    // JSON lines, where HAProxy writes `/` as `\\/`.
    expect(file.replaceAll('\\/', '/')).toContain('/default/shop/web/site/');
    expect(file).not.toContain(planted);
  });

  it('pages, filters by time and grep, and answers 404 for another organization', async () => {
    const all = (await page('&limit=5000')).items;
    const first = await page('&limit=4');
    expect(first.items).toEqual(all.slice(-4));
    const second = await page(`&limit=4&cursor=${first.nextCursor}`);
    expect(second.items).toEqual(all.slice(-8, -4));
    const failures = (await page('&grep=cgi-bin/fail%20500')).items;
    expect(failures).toHaveLength(6);
    const since = all[6]!.timestamp;
    const until = all[12]!.timestamp;
    const range = (await page(`&since=${since}&until=${until}&limit=100`)).items;
    expect(range).toEqual(all.slice(6, 12));

    await t.call('POST', '/api/v1/orgs', { body: { name: 'rival' } });
    await t.call('POST', '/api/v1/users', { body: { name: 'otto' } });
    await t.call('PUT', '/api/v1/orgs/rival/members/otto', { body: { role: 'admin' } });
    const outsider = (await t.call('POST', '/api/v1/users/otto/tokens', { body: { name: 't' } })).body.token;
    expect((await t.call('GET', GATEWAY_LOGS, { token: outsider })).status).toBe(404);
    const bad = await t.call('GET', `${GATEWAY_LOGS}&level=error`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('level');
  });

  it('prints the gateway log with rondo logs --type gateway', async () => {
    ensureBuilt();
    const env = cleanEnv({ RONDO_SERVER: t.apiUrl, RONDO_TOKEN: t.adminToken });
    const out = await cli(
      [
        'logs',
        'component',
        'web',
        '--project',
        'shop',
        '--env',
        'development',
        '--type',
        'gateway',
        '--grep',
        'nope',
      ],
      env,
    );
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout.trim().split('\n')).toHaveLength(3);
    expect(out.stdout).toMatch(
      new RegExp(
        `^\\S+Z ${deployment.replaceAll('.', '\\.')} GET /default/shop/web/nope/x 404 RESOURCE_NOT_FOUND `,
        'm',
      ),
    );
  });

  it('resumes after a restart of its collector without duplicates or gaps', async () => {
    const collector = t.rondo.gatewayLogCollector!;
    const before = (await page('&limit=5000')).items.length;
    await collector.stop();
    for (let i = 0; i < 5; i++) expect(await send(t, 'GET', `/default/shop/web/site/missing-${i}`)).toBe(404);
    collector.start();
    for (let i = 5; i < 10; i++)
      expect(await send(t, 'GET', `/default/shop/web/site/missing-${i}`)).toBe(404);
    const items = await untilLogged(before + 10);
    await sleep(500);
    const after = (await page('&limit=5000')).items;
    expect(after).toHaveLength(before + 10);
    expect(after.slice(-10).map((l) => l.path)).toEqual(
      Array.from({ length: 10 }, (_, i) => `/default/shop/web/site/missing-${i}`),
    );
    expect(new Set(items.map((l) => l.requestId)).size).toBe(items.length);
  });

  it('records a readiness failure with the probe’s answer, and an image that cannot be pulled', async () => {
    // Listens on 8080, but the endpoint says 9090: the readiness probe is refused.
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'deaf', type: 'service', source: { image }, endpoints: [{ name: 'site', port: 9090 }] },
    });
    const d = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/deaf/deployments', {
      body: { environment: 'development' },
    });
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({ status: 'failed' });
    const readiness = (await eventsUntil('deaf', 'readiness-failed')).find(
      (e) => e.kind === 'readiness-failed',
    );
    expect(readiness?.message).toMatch(
      /^1 of 1 replicas did not pass readiness within 4 s; the probe answered: tcp [\d.]+:9090: ECONNREFUSED$/,
    );

    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'ghost',
        type: 'service',
        source: { image: '127.0.0.1:1/ghost:v1' },
        endpoints: [{ port: 8080 }],
      },
    });
    const g = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/ghost/deployments', {
      body: { environment: 'development' },
    });
    expect(await waitForDeployment(t, 'default', g.body.id)).toMatchObject({ status: 'failed' });
    const pull = (await eventsUntil('ghost', 'image-pull-failed')).find(
      (e) => e.kind === 'image-pull-failed',
    );
    expect(pull?.message).toMatch(/^cannot pull image 127\.0\.0\.1:1\/ghost:v1: /);

    ensureBuilt();
    const env = cleanEnv({ RONDO_SERVER: t.apiUrl, RONDO_TOKEN: t.adminToken });
    const out = await cli(['events', 'deaf', '--project', 'shop'], env);
    expect(out.stdout).toMatch(/readiness-failed: 1 of 1 replicas did not pass readiness/);
    // The status (and `describe`) shows why the latest rollout failed, though nothing is active.
    const status = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/deaf/status');
    const dev = status.body.items.find((e: { environment: string }) => e.environment === 'development');
    expect(dev.active).toBeNull();
    expect(dev.events).toContainEqual(
      expect.objectContaining({ kind: 'readiness-failed', deployment: d.body.name }),
    );
    const described = await cli(['describe', 'component', 'deaf', '--project', 'shop'], env);
    expect(described.stdout).toContain(`readiness-failed (${d.body.name}): 1 of 1 replicas`);
  });

  it('records an OOM kill of a replica over the memory limit its deployment sets', async () => {
    ensureBuilt();
    const env = cleanEnv({ RONDO_SERVER: t.apiUrl, RONDO_TOKEN: t.adminToken });
    const out = await cli(
      [
        'deploy',
        'web',
        '--project',
        'shop',
        '--env',
        'development',
        '--memory',
        '32',
        '--cpu',
        '500',
        '--wait',
      ],
      env,
    );
    expect(out.stdout).toMatch(/Limits:\s+memory 32 MiB, CPU 500m/);
    const [replica] = await docker.listContainers({
      filters: { label: [`${LABEL.instance}=${t.instance}`, `${LABEL.component}=web`] },
    });
    expect(replica).toBeDefined();
    const { HostConfig } = await docker.getContainer(replica!.Id).inspect();
    expect(HostConfig).toMatchObject({
      Memory: 32 * 1024 * 1024,
      MemorySwap: 32 * 1024 * 1024,
      NanoCpus: 5e8,
    });
    expect(await send(t, 'GET', '/default/shop/web/site/cgi-bin/grow')).toBe(200);
    const oom = (await eventsUntil('web', 'oom-killed')).find((e) => e.kind === 'oom-killed');
    expect(oom?.message).toMatch(/^replica 0 was killed for exceeding its memory limit \(exit code 137\)/);
  });
});
