import { describe, expect, it } from 'vitest';
import { ownerHandler, ownerKey, parseCaddyAccessLine } from './caddy-access-log.js';
import { caddyConfig } from './caddy-config.js';

const OWNER = {
  orgId: 'org_1a',
  projectId: 'prj_2b',
  componentId: 'cmp_3c',
  environmentId: 'env_4d',
  deploymentId: 'dep_5e',
};

/** A line as Caddy 2.6.2 wrote it here (captured from a real run), with the owner's key. */
function caddyLine(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    level: 'info',
    ts: 1796051397.2652006,
    logger: 'http.log.access.public',
    msg: 'handled request',
    request: {
      remote_ip: '127.0.0.1',
      remote_port: '33086',
      proto: 'HTTP/1.1',
      method: 'GET',
      host: 'development.localhost:8080',
      uri: '/default/shop/api/books/b?token=s3cret',
      headers: { Accept: ['*/*'], 'User-Agent': ['curl/7.88.1'] },
    },
    user_id: ownerKey(OWNER),
    duration: 0.012345,
    size: 17,
    status: 500,
    resp_headers: {
      Server: ['Caddy'],
      'X-Rondo-Outcome': ['BACKEND_RESPONSE'],
      'X-Request-Id': ['7d0a6c1e-1a2b-4c3d-8e9f-0123456789ab'],
    },
    ...over,
  });
}

describe('Caddy access log lines', () => {
  it('become a gateway request of the route’s owner, without the query string', () => {
    const line = parseCaddyAccessLine(caddyLine());
    expect(line).toEqual({
      kind: 'request',
      atUs: '1796051397265201',
      request: {
        at: new Date(1796051397265),
        ...OWNER,
        method: 'GET',
        path: '/default/shop/api/books/b',
        status: 500,
        outcome: 'BACKEND_RESPONSE',
        durationMs: 12.345,
        bytes: 17,
        requestId: '7d0a6c1e-1a2b-4c3d-8e9f-0123456789ab',
      },
    });
  });

  it('keep a missing deployment as null, and an answer without an outcome header as GATEWAY_ERROR', () => {
    const line = parseCaddyAccessLine(
      caddyLine({ user_id: ownerKey({ ...OWNER, deploymentId: null }), resp_headers: {} }),
    );
    expect(line.kind === 'request' && line.request).toMatchObject({
      deploymentId: null,
      outcome: 'GATEWAY_ERROR',
      requestId: '',
    });
  });

  it('without an owner (the gateway’s own 404) are unattributed', () => {
    expect(parseCaddyAccessLine(caddyLine({ user_id: '' }))).toEqual({ kind: 'unattributed' });
    expect(parseCaddyAccessLine(caddyLine({ user_id: 'alice' }))).toEqual({ kind: 'unattributed' });
    // A key with a bad part (a client cannot set user_id, but nothing is taken on trust).
    for (const bad of [
      'rondo1;a;b;c;d',
      'rondo1;a;b;c;d;e;f',
      'rondo1;a b;b;c;d;-',
      'rondo2;a;b;c;d;-',
      'rondo1;;b;c;d;-',
    ])
      expect(parseCaddyAccessLine(caddyLine({ user_id: bad }))).toEqual({ kind: 'unattributed' });
  });

  it.each([
    ['empty', ''],
    ['garbage', '\u0000\u0001 not json at all'],
    ['cut', caddyLine().slice(0, 80)],
    ['an array', '[1,2,3]'],
    ['null', 'null'],
    ['another message', caddyLine({ msg: 'server running' })],
    ['no request', caddyLine({ request: 'GET /' })],
    ['a method that is not text', caddyLine({ request: { method: 7, uri: '/' } })],
    ['a status out of range', caddyLine({ status: 100000 })],
    ['a fractional status', caddyLine({ status: 200.5 })],
    ['a negative duration', caddyLine({ duration: -1 })],
    ['a size that is text', caddyLine({ size: '17' })],
    ['a time far away', caddyLine({ ts: 1e15 })],
    ['a time that is text', caddyLine({ ts: 'now' })],
    ['a huge line', caddyLine({ pad: 'x'.repeat(300 * 1024) })],
  ])('that are not requests (%s) are invalid', (_what, line) => {
    expect(parseCaddyAccessLine(line).kind).toBe('invalid');
  });

  it('make hostile text storable and bounded', () => {
    const line = parseCaddyAccessLine(
      caddyLine({
        request: {
          method: 'GET\u001b[31m\u0000',
          uri: `/a\u0000\u001b]0;title\u0007/${'x'.repeat(5000)}\ud800`,
        },
        resp_headers: {
          'X-Rondo-Outcome': ['<script>'],
          'X-Request-Id': [`id\u0000${'y'.repeat(200)}`],
        },
      }),
    );
    if (line.kind !== 'request') throw new Error(`not a request: ${JSON.stringify(line)}`);
    const r = line.request;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
    expect(r.method).not.toMatch(/[\u0000\u001b]/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
    expect(r.path).not.toMatch(/[\u0000\u001b\u0007]|[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(r.path.length).toBeLessThanOrEqual(2100);
    expect(r.requestId.length).toBeLessThanOrEqual(100);
    expect(r.requestId).not.toContain('\u0000');
    expect(r.outcome).toBe('GATEWAY_ERROR');
  });
});

describe('Caddy config names route owners only in the log', () => {
  const settings = {
    adminListen: '127.0.0.1:1',
    publicListen: ':8080',
    accessLogPath: '/tmp/a.log',
    bodyLimitBytes: 1024,
  };
  const config = caddyConfig(
    {
      publicGateway: {
        environments: [
          {
            host: 'development.localhost',
            routes: [
              {
                prefix: '/default/shop/api/books',
                basePath: '/',
                upstreams: [{ dial: '10.0.0.2:8080' }],
                owner: OWNER,
                componentPrefix: '/default/shop/api',
              },
            ],
          },
        ],
        webApps: [],
      },
      internal: [],
    },
    settings,
  );
  const text = JSON.stringify(config);
  const routes = (config as { apps: { http: { servers: { public: { routes: unknown[] } } } } }).apps.http
    .servers.public.routes;

  it('sets the owner as the logged user id, not as a header', () => {
    expect(text).toContain(JSON.stringify(ownerHandler(OWNER)));
    expect(text.split(ownerKey(OWNER)).length - 1).toBe(2);
    expect(text).not.toMatch(/"X-Rondo-(Owner|Component)/);
  });

  it('answers unknown endpoints under the component as its 404, after every endpoint route', () => {
    const index = (needle: string) => routes.findIndex((r) => JSON.stringify(r).includes(needle));
    const endpoint = index('/default/shop/api/books/*');
    const fallback = index('"/default/shop/api/*"');
    expect(endpoint).toBeGreaterThan(0);
    expect(fallback).toBeGreaterThan(endpoint);
    expect(JSON.stringify(routes[fallback])).toContain('RESOURCE_NOT_FOUND');
    expect(JSON.stringify(routes[fallback])).toContain('development.localhost');
  });
});
