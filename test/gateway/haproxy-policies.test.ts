/**
 * Endpoint policies (G7) on the real HAProxy 2.6, no engine: rate limits per endpoint and per
 * consumer (429 + Retry-After, RATE_LIMITED), API keys (401 AUTH_FAILURE; revoked through the
 * runtime API without a reload), JWT validation (RS256/ES256 keys, issuer, audience, expiry, alg
 * allow-list, claims forwarded), CORS preflights (CORS_RESPONSE); every refusal is JSON and logged
 * with its outcome.
 */
import { createHash, createSign, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointPolicySchema } from '../../src/domain/endpoint-policy.js';
import type { GatewayState, PathRoute, RoutePolicy } from '../../src/domain/gateway-routes.js';
import { routePolicy } from '../../src/endpoint-policies/route-policy.js';
import { parseHaproxyAccessLine } from '../../src/gateway/haproxy-access-log.js';
import { type HaproxySettings, haproxyConfig, haproxyRouteName } from '../../src/gateway/haproxy-config.js';
import { HaproxyProcess, runtimeCommand } from '../../src/gateway/haproxy-process.js';
import { freePort } from '../helpers/platform.js';

const HOST = 'staging.localhost';
const owner = {
  orgId: 'org-1',
  projectId: 'prj-1',
  componentId: 'cmp-1',
  environmentId: 'env-1',
  deploymentId: 'dep-1',
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function ask(
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string>; chunked?: string; agent?: Agent } = {},
) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: init.method ?? 'GET',
        headers: {
          host: HOST,
          ...(init.chunked === undefined ? {} : { 'transfer-encoding': 'chunked' }),
          ...init.headers,
        },
        agent: init.agent ?? false,
        timeout: 5_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (init.chunked !== undefined) req.write(init.chunked);
    req.end();
  });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function jwt(key: KeyObject, alg: 'RS256' | 'ES256', claims: Record<string, unknown>, kid?: string): string {
  const head = `${b64({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64(claims)}`;
  const sig = createSign('SHA256')
    .update(head)
    .sign(alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${head}.${sig.toString('base64url')}`;
}

const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

describe('endpoint policies on HAProxy (real process)', () => {
  let dir: string;
  let echo: Server;
  let echoAddr: string;
  let haproxy: HaproxyProcess;
  let settings: HaproxySettings;
  let port: number;
  const seen: Record<string, unknown>[] = [];
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyA = randomBytes(24).toString('base64url');
  const keyB = randomBytes(24).toString('base64url');
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  let apiKeys = [{ consumer: 'alice', sha256: sha(keyA) }];

  const route = (name: string, policy: RoutePolicy): PathRoute => ({
    prefix: `/acme/shop/${name}/ep`,
    basePath: '/',
    upstreams: [{ dial: echoAddr }],
    owner,
    policy,
  });
  // Policies go through the domain schema, as the API stores them, then become routes' policies.
  const parsed = (p: unknown) => routePolicy(endpointPolicySchema.parse(p), { apiKeys, jwtKeys: [] }) ?? {};
  const state = (): GatewayState => {
    const jwtPolicy = parsed({
      jwt: {
        issuer: 'https://issuer.test/',
        audience: 'shop-api',
        algorithms: ['RS256', 'ES256'],
        publicKeyPem: pem(rsa.publicKey),
        forwardClaims: [
          { claim: 'sub', header: 'X-User' },
          { claim: 'email', header: 'X-User-Email' },
        ],
      },
    }).jwt;
    return {
      publicGateway: {
        environments: [
          {
            host: HOST,
            routes: [
              route('limited', parsed({ rateLimit: { requests: 10, per: 'minute' } })),
              route('paced', parsed({ rateLimit: { requests: 5, per: 'second' } })),
              route('bursty', parsed({ rateLimit: { requests: 100, per: 'minute', burst: 3 } })),
              route('keyed', parsed({ apiKey: {}, consumerRateLimit: { requests: 3, per: 'minute' } })),
              route('chunked', parsed({ apiKey: {}, rateLimit: { requests: 3, per: 'minute' } })),
              route('jwt', {
                jwt: jwtPolicy && {
                  ...jwtPolicy,
                  keys: [{ pem: pem(rsa.publicKey) }, { kid: 'ec-1', pem: pem(ec.publicKey) }],
                },
              }),
              // Another audience, and a consumer limit counted by the token's `sub`.
              route('jwt-billing', {
                jwt: jwtPolicy && {
                  ...jwtPolicy,
                  audience: 'billing-api',
                  keys: [{ pem: pem(rsa.publicKey) }],
                },
                consumerRateLimit: { requests: 2, per: 'minute' },
              }),
              route('cors', {
                cors: parsed({
                  cors: {
                    origins: ['https://app.example'],
                    methods: ['GET', 'POST'],
                    headers: ['content-type', 'x-trace'],
                    credentials: true,
                    maxAgeSeconds: 300,
                  },
                }).cors,
              }),
              { prefix: '/acme/shop/open/ep', basePath: '/', upstreams: [{ dial: echoAddr }], owner },
            ],
          },
        ],
        webApps: [],
      },
      internal: [],
    };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rondo-haproxy-policies-'));
    echo = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ url: req.url, headers: req.headers }));
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoAddr = `127.0.0.1:${(echo.address() as { port: number }).port}`;
    port = await freePort();
    settings = {
      publicListen: `127.0.0.1:${port}`,
      internalBindAddress: '127.0.0.1',
      runtimeSocket: join(dir, 'runtime.sock'),
      configDir: join(dir, 'config'),
      bodyLimitBytes: 10 * 1024 * 1024,
      threads: 1,
    };
    haproxy = new HaproxyProcess({
      settings,
      accessLogPath: join(dir, 'access.log'),
      errorLogPath: join(dir, 'haproxy.log'),
      masterSocket: join(dir, 'master.sock'),
    });
    await haproxy.start(haproxyConfig(state(), settings));
  });

  afterAll(async () => {
    await haproxy?.stop();
    await new Promise((r) => echo?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  function expectRefusal(res: Answer, status: number, code: string) {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-rondo-outcome']).toBe(code);
    expect(JSON.parse(res.body)).toMatchObject({ code, requestId: res.headers['x-request-id'] });
  }

  it('answers the 11th request of a 10-per-minute endpoint 429 with Retry-After, and not before', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await ask(port, '/acme/shop/limited/ep/x')).status);
    expect(statuses).toEqual([...Array(10).fill(200), 429, 429, 429, 429]);
    const refused = await ask(port, '/acme/shop/limited/ep/x');
    expectRefusal(refused, 429, 'RATE_LIMITED');
    expect(refused.headers['retry-after']).toBe('60');
    // Other endpoints are not counted with it.
    expect((await ask(port, '/acme/shop/open/ep/x')).status).toBe(200);
  });

  it('holds a 5-per-second limit to ±1 request per window under a bounded rate of 20 per second', async () => {
    const accepted: number[] = [];
    const start = Date.now();
    for (let i = 0; i < 80; i++) {
      await sleep(Math.max(0, start + i * 50 - Date.now()));
      const res = await ask(port, '/acme/shop/paced/ep/x');
      if (res.status === 200) accepted.push(Date.now() - start);
      else expect(res.status).toBe(429);
    }
    console.log(`paced: ${accepted.length} of 80 accepted over 4 s (limit 5/s)`);
    // Over the 4 s of requests: 5 per second, ±1 per window.
    expect(accepted.length).toBeGreaterThanOrEqual(4 * 5 - 4);
    expect(accepted.length).toBeLessThanOrEqual(4 * 5 + 4);
    // No one-second span holds more than the limit plus one.
    for (const t of accepted)
      expect(accepted.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(6);
  });

  it('caps a per-minute limit’s burst within one second', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await ask(port, '/acme/shop/bursty/ep/x')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it('requires an API key, counts per consumer, and refuses a revoked key at once without a reload', async () => {
    expectRefusal(await ask(port, '/acme/shop/keyed/ep/x'), 401, 'AUTH_FAILURE');
    expectRefusal(
      await ask(port, '/acme/shop/keyed/ep/x', { headers: { 'api-key': 'wrong' } }),
      401,
      'AUTH_FAILURE',
    );
    const ok = await ask(port, '/acme/shop/keyed/ep/x', { headers: { 'api-key': keyA } });
    expect(ok.status).toBe(200);
    // The backend never sees the key.
    expect(JSON.parse(ok.body).headers['api-key']).toBeUndefined();

    // Rotation: B added, then A revoked; both through the runtime API.
    const pid = await runtimeCommand(settings.runtimeSocket, 'show info').then(
      (o) => /Pid: (\d+)/.exec(o)?.[1],
    );
    apiKeys = [...apiKeys, { consumer: 'alice', sha256: sha(keyB) }];
    expect(await haproxy.load(haproxyConfig(state(), settings))).toBe(false);
    expect((await ask(port, '/acme/shop/keyed/ep/x', { headers: { 'api-key': keyB } })).status).toBe(200);
    apiKeys = apiKeys.filter((k) => k.sha256 !== sha(keyA));
    expect(await haproxy.load(haproxyConfig(state(), settings))).toBe(false);
    expectRefusal(
      await ask(port, '/acme/shop/keyed/ep/x', { headers: { 'api-key': keyA } }),
      401,
      'AUTH_FAILURE',
    );
    // alice has had 2 of her 3 per minute (A, then B); the third passes, the fourth is limited.
    expect((await ask(port, '/acme/shop/keyed/ep/x', { headers: { 'api-key': keyB } })).status).toBe(200);
    const limited = await ask(port, '/acme/shop/keyed/ep/x', { headers: { 'api-key': keyB } });
    expectRefusal(limited, 429, 'RATE_LIMITED');
    expect(
      await runtimeCommand(settings.runtimeSocket, 'show info').then((o) => /Pid: (\d+)/.exec(o)?.[1]),
    ).toBe(pid);
    // The files hold hashes only, for the next worker.
    const file = `keys-${haproxyRouteName('public', `${HOST}/acme/shop/keyed/ep`)}.map`;
    expect(readdirSync(settings.configDir)).toContain(file);
    expect(readFileSync(join(settings.configDir, file), 'utf8')).toBe(`${sha(keyB)} alice\n`);
  });

  it('holds a chunked request (sent to the route’s body-limit twin) to the same key and the same rate limit', async () => {
    const post = (chunked: boolean, key?: string) =>
      ask(port, '/acme/shop/chunked/ep/x', {
        method: 'POST',
        headers: key ? { 'api-key': key } : {},
        ...(chunked ? { chunked: 'hello' } : {}),
      });
    expectRefusal(await post(true), 401, 'AUTH_FAILURE');
    const ok = await post(true, keyB);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).headers).toMatchObject({ 'transfer-encoding': 'chunked' });
    expect(JSON.parse(ok.body).headers['api-key']).toBeUndefined();
    // One count for both backends (the refused request counts too: the limit comes before the key).
    expect((await post(false, keyB)).status).toBe(200);
    expectRefusal(await post(true, keyB), 429, 'RATE_LIMITED');
  });

  it('passes a JWT signed by a configured key and forwards its claims; refuses expired, other audience, alg none and other keys', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = {
      iss: 'https://issuer.test/',
      aud: 'shop-api',
      sub: 'user-7',
      email: 'u7@example.com',
      exp: now + 300,
    };
    for (const token of [jwt(rsa.privateKey, 'RS256', good), jwt(ec.privateKey, 'ES256', good, 'ec-1')]) {
      const res = await ask(port, '/acme/shop/jwt/ep/x', {
        headers: { authorization: `Bearer ${token}`, 'x-user': 'forged' },
      });
      expect(res.status, res.body).toBe(200);
      const headers = JSON.parse(res.body).headers;
      expect(headers['x-user']).toBe('user-7');
      expect(headers['x-user-email']).toBe('u7@example.com');
    }
    // A verified token is remembered with its expiry: it passes again, and is refused once expired.
    const brief = jwt(rsa.privateKey, 'RS256', { ...good, exp: now + 2 });
    const withBrief = () =>
      ask(port, '/acme/shop/jwt/ep/x', { headers: { authorization: `Bearer ${brief}` } });
    expect((await withBrief()).status).toBe(200);
    expect((await withBrief()).status).toBe(200);
    await sleep(Math.max(0, (now + 3) * 1000 - Date.now()));
    expectRefusal(await withBrief(), 401, 'AUTH_FAILURE');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(good)}.`;
    const refused = {
      missing: undefined,
      expired: jwt(rsa.privateKey, 'RS256', { ...good, exp: now - 5 }),
      noExpiry: jwt(rsa.privateKey, 'RS256', { ...good, exp: undefined }),
      otherAudience: jwt(rsa.privateKey, 'RS256', { ...good, aud: 'billing-api' }),
      otherIssuer: jwt(rsa.privateKey, 'RS256', { ...good, iss: 'https://evil.test/' }),
      // An array `aud` is refused, even one naming the endpoint (docs/gateway-policies.md).
      arrayAudience: jwt(rsa.privateKey, 'RS256', { ...good, aud: ['shop-api', 'other'] }),
      algNone: none,
      otherKey: jwt(other.privateKey, 'RS256', good),
      // Another key under a configured key id: the id does not make it verify.
      wrongKid: jwt(other.privateKey, 'RS256', good, 'ec-1'),
      garbage: 'not.a.token',
    };
    for (const [why, token] of Object.entries(refused)) {
      const res = await ask(port, '/acme/shop/jwt/ep/x', {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      expect(res.status, why).toBe(401);
      expectRefusal(res, 401, 'AUTH_FAILURE');
    }
  });

  it('remembers a verified token per connection and endpoint only: the same token again, never another, never another endpoint’s', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = {
      iss: 'https://issuer.test/',
      aud: 'shop-api',
      sub: 'user-8',
      email: 'u8@example.com',
      exp: now + 300,
    };
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const on = (path: string, token: string | undefined, headers: Record<string, string> = {}) =>
        ask(port, path, {
          agent,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
        });
      const seenUser = (res: Answer) => JSON.parse(res.body).headers;
      const token = jwt(rsa.privateKey, 'RS256', good);
      // The first request verifies it; the next ones on the same connection take it from there,
      // and still forward its claims over a client's own copy.
      for (let i = 0; i < 3; i++) {
        const res = await on('/acme/shop/jwt/ep/x', token, { 'x-user': 'forged', 'x-user-email': 'f@x' });
        expect(res.status, res.body).toBe(200);
        expect(seenUser(res)).toMatchObject({ 'x-user': 'user-8', 'x-user-email': 'u8@example.com' });
      }
      // Another token on that connection is verified on its own: its claims, not the last one's.
      const noEmail = jwt(rsa.privateKey, 'RS256', { ...good, sub: 'user-9', email: undefined });
      const res = await on('/acme/shop/jwt/ep/x', noEmail, { 'x-user-email': 'forged' });
      expect(res.status, res.body).toBe(200);
      expect(seenUser(res)['x-user']).toBe('user-9');
      expect(seenUser(res)['x-user-email']).toBeUndefined();
      // Tokens differing from the remembered one only in their payload or their signature.
      const [h, p, sig] = token.split('.');
      const forged = `${h}.${b64({ ...good, sub: 'admin' })}.${sig}`;
      const resigned = `${h}.${p}.${jwt(other.privateKey, 'RS256', good).split('.')[2]}`;
      expect((await on('/acme/shop/jwt/ep/x', token)).status).toBe(200);
      for (const bad of [forged, resigned, `${token}x`, token.slice(0, -1), undefined])
        expectRefusal(await on('/acme/shop/jwt/ep/x', bad), 401, 'AUTH_FAILURE');
      // The token was verified for this endpoint's audience on this connection: another
      // endpoint's policy still refuses it, and one of its own audience passes there.
      expect((await on('/acme/shop/jwt/ep/x', token)).status).toBe(200);
      expectRefusal(await on('/acme/shop/jwt-billing/ep/x', token), 401, 'AUTH_FAILURE');
      const billing = jwt(rsa.privateKey, 'RS256', { ...good, aud: 'billing-api' });
      expect((await on('/acme/shop/jwt-billing/ep/x', billing)).status).toBe(200);
      expect((await on('/acme/shop/jwt/ep/x', token)).status).toBe(200);
      // Expiry is checked on every request, remembered or not.
      const brief = jwt(rsa.privateKey, 'RS256', { ...good, exp: now + 2 });
      expect((await on('/acme/shop/jwt/ep/x', brief)).status).toBe(200);
      expect((await on('/acme/shop/jwt/ep/x', brief)).status).toBe(200);
      await sleep(Math.max(0, (now + 3) * 1000 - Date.now()));
      expectRefusal(await on('/acme/shop/jwt/ep/x', brief), 401, 'AUTH_FAILURE');
      expect((await on('/acme/shop/jwt/ep/x', token)).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('counts a consumer limit by the token’s sub, remembered or not', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: 'https://issuer.test/', aud: 'billing-api', exp: now + 300 };
    const [a, b] = ['sub-a', 'sub-b'].map((sub) => jwt(rsa.privateKey, 'RS256', { ...claims, sub }));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const statuses = async (token: string, keepAlive: boolean) => {
        const out: number[] = [];
        for (let i = 0; i < 2; i++)
          out.push(
            (
              await ask(port, '/acme/shop/jwt-billing/ep/x', {
                headers: { authorization: `Bearer ${token}` },
                ...(keepAlive ? { agent } : {}),
              })
            ).status,
          );
        return out;
      };
      // Two per minute for each sub, whether the token comes back on its connection or a new one.
      expect([...(await statuses(a!, true)), ...(await statuses(a!, false))]).toEqual([200, 200, 429, 429]);
      expect([...(await statuses(b!, false)), ...(await statuses(b!, true))]).toEqual([200, 200, 429, 429]);
    } finally {
      agent.destroy();
    }
  });

  it('answers CORS preflights: 204 with the policy for an allowed origin, 403 for another', async () => {
    const preflight = (origin: string) =>
      ask(port, '/acme/shop/cors/ep/x', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const before = seen.length;
    const ok = await preflight('https://app.example');
    expect(ok.status).toBe(204);
    expect(ok.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'content-type, x-trace',
      'access-control-max-age': '300',
      'access-control-allow-credentials': 'true',
      'x-rondo-outcome': 'CORS_RESPONSE',
    });
    expectRefusal(await preflight('https://evil.example'), 403, 'CORS_RESPONSE');
    expect(seen.length).toBe(before);
    // A simple request from the allowed origin reaches the backend and is marked for the browser.
    const simple = await ask(port, '/acme/shop/cors/ep/x', { headers: { origin: 'https://app.example' } });
    expect(simple.status).toBe(200);
    expect(simple.headers['access-control-allow-origin']).toBe('https://app.example');
    const foreign = await ask(port, '/acme/shop/cors/ep/x', { headers: { origin: 'https://evil.example' } });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('logs every refusal with its status and outcome, attributed to the endpoint’s owner, and never a key', async () => {
    await sleep(200);
    const lines = readFileSync(join(dir, 'access.log'), 'utf8').trim().split('\n');
    const requests = lines
      .map(parseHaproxyAccessLine)
      .flatMap((p) => (p.kind === 'request' ? [p.request] : []));
    const outcomes = new Set(requests.map((r) => `${r.status} ${r.outcome}`));
    for (const o of ['429 RATE_LIMITED', '401 AUTH_FAILURE', '204 CORS_RESPONSE', '403 CORS_RESPONSE'])
      expect(outcomes, o).toContain(o);
    expect(
      requests.filter((r) => r.outcome !== 'BACKEND_RESPONSE').every((r) => r.componentId === 'cmp-1'),
    ).toBe(true);
    const all = lines.join('\n') + readFileSync(join(dir, 'haproxy.log'), 'utf8');
    expect(all).not.toContain(keyA);
    expect(all).not.toContain(keyB);
  });
});
