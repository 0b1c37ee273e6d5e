import { describe, expect, it } from 'vitest';
import { parseHaproxyAccessLine } from './haproxy-access-log.js';
import { haproxyConfig } from './haproxy-config.js';
import { ownerKey, parseOwnerKey } from './route-owner.js';

const owner = { orgId: 'o1', projectId: 'p1', componentId: 'c1', environmentId: 'e1', deploymentId: null };
const line = (fields: Record<string, unknown>) =>
  JSON.stringify({
    at: 1764500000.042,
    listener: 'public',
    route: 'r-1',
    owner: ownerKey(owner),
    requestId: '4b0e0c1e-8f7a-4a57-9a3c-2f8c2f5b7f10',
    method: 'GET',
    host: 'staging.localhost',
    path: '/acme/shop/api/books/1',
    status: 200,
    outcome: 'BACKEND_RESPONSE',
    durationMs: 3,
    bytes: 120,
    ...fields,
  });

describe('HAProxy access log', () => {
  it('reads a line written before `atUs` into the owner’s GatewayRequest, at the millisecond', () => {
    const parsed = parseHaproxyAccessLine(line({}));
    expect(parsed).toEqual({
      kind: 'request',
      atUs: '1764500000042000',
      request: {
        at: new Date(1764500000042),
        ...owner,
        method: 'GET',
        path: '/acme/shop/api/books/1',
        status: 200,
        outcome: 'BACKEND_RESPONSE',
        durationMs: 3,
        bytes: 120,
        requestId: '4b0e0c1e-8f7a-4a57-9a3c-2f8c2f5b7f10',
      },
    });
  });

  it('reads the logging time to the microsecond, so requests in one millisecond keep their order', () => {
    const first = parseHaproxyAccessLine(line({ at: undefined, atUs: 1764500000042101 }));
    const second = parseHaproxyAccessLine(line({ at: undefined, atUs: 1764500000042907 }));
    expect(first).toMatchObject({ kind: 'request', atUs: '1764500000042101' });
    expect(second).toMatchObject({ kind: 'request', atUs: '1764500000042907' });
    if (first.kind !== 'request') throw new Error('not a request');
    expect(first.request.at).toEqual(new Date(1764500000042));
    for (const atUs of [-1, 1.5, '1764500000042101', 2 ** 60])
      expect(parseHaproxyAccessLine(line({ at: undefined, atUs })).kind).toBe('invalid');
  });

  it('tells apart requests no route owns, notices and garbage', () => {
    expect(parseHaproxyAccessLine(line({ owner: '-' }))).toEqual({ kind: 'unattributed' });
    expect(parseHaproxyAccessLine('Proxy public stopped (cumulated conns: FE: 3, BE: 0).').kind).toBe(
      'invalid',
    );
    expect(parseHaproxyAccessLine(line({ status: 'x' })).kind).toBe('invalid');
    expect(parseHaproxyAccessLine(line({ at: -1 })).kind).toBe('invalid');
    expect(parseHaproxyAccessLine(line({ durationMs: -1 })).kind).toBe('invalid');
    expect(parseHaproxyAccessLine('{"at":1').kind).toBe('invalid');
  });

  it('answers GATEWAY_ERROR for an outcome it does not know, and makes text storable', () => {
    const parsed = parseHaproxyAccessLine(line({ outcome: '', method: 'GE\u0000T', path: '/a\u001b[31m' }));
    expect(parsed).toMatchObject({
      kind: 'request',
      request: { outcome: 'GATEWAY_ERROR', method: 'GE\ufffdT', path: '/a' },
    });
  });

  it('reads back exactly the owner keys ownerKey writes', () => {
    const withDeployment = { ...owner, deploymentId: 'd1' };
    expect(parseOwnerKey(ownerKey(owner))).toEqual(owner);
    expect(parseOwnerKey(ownerKey(withDeployment))).toEqual(withDeployment);
    expect(parseOwnerKey('other;o1;p1;c1;e1;-')).toBeUndefined();
    expect(parseOwnerKey(`${ownerKey(owner)};x`)).toBeUndefined();
    expect(parseOwnerKey('rondo1;o 1;p1;c1;e1;-')).toBeUndefined();
  });
});

describe('haproxyConfig', () => {
  const settings = {
    publicListen: ':8080',
    internalBindAddress: '',
    runtimeSocket: '/run/rondo/haproxy.sock',
    configDir: '/var/lib/rondo/haproxy',
    bodyLimitBytes: 10 * 1024 * 1024,
  };
  const state = (prefix: string) => ({
    publicGateway: {
      environments: [{ host: 'staging.localhost', routes: [{ prefix, basePath: '/', upstreams: [] }] }],
      webApps: [],
    },
    internal: [],
  });

  it('refuses a route that could break out of a map line or a rule', () => {
    for (const prefix of ['/a b', "/a'b", '/a\nb', '/a#b'])
      expect(() => haproxyConfig(state(prefix), settings), prefix).toThrow(/cannot carry/);
  });

  it('is the same text, with the same identity, for the same state', () => {
    const a = haproxyConfig(state('/acme/shop/api/books'), settings);
    expect(haproxyConfig(state('/acme/shop/api/books'), settings)).toEqual(a);
    expect(haproxyConfig(state('/acme/shop/api/other'), settings).identity).not.toBe(a.identity);
    expect(a.maps['public-paths.map']).toMatch(
      /^staging\.localhost\/acme\/shop\/api\/books\/ r-[0-9a-f]{20}\n$/,
    );
  });
});
