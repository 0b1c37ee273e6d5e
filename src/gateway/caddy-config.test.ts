import { describe, expect, it } from 'vitest';
import type { GatewayState } from '../domain/gateway-routes.js';
import { caddyConfig, greaterThanPattern, unenforceableRoutes } from './caddy-config.js';

describe('greaterThanPattern', () => {
  it.each([10485760, 1000, 999, 5])('matches exactly the numbers above %i', (limit) => {
    const re = new RegExp(greaterThanPattern(limit));
    const samples = [
      0,
      1,
      limit - 1,
      limit,
      limit + 1,
      limit + 9,
      limit * 2,
      limit * 10,
      99999999999,
      Math.floor(limit / 10),
    ];
    for (const n of samples) expect(re.test(String(n)), `${n} vs ${limit}`).toBe(n > limit);
    for (let n = Math.max(0, limit - 300); n < limit + 300; n++) expect(re.test(String(n))).toBe(n > limit);
  });
});

describe('caddyConfig with an endpoint policy', () => {
  it('closes the endpoint with 501 instead of proxying it without its policy', () => {
    const state: GatewayState = {
      publicGateway: {
        environments: [
          {
            host: 'dev.localhost',
            routes: [
              { prefix: '/a/p/c/open', basePath: '/', upstreams: [{ dial: '10.0.0.1:80' }] },
              {
                prefix: '/a/p/c/guarded',
                basePath: '/',
                upstreams: [{ dial: '10.0.0.1:80' }],
                policy: { rateLimit: { requests: 1, per: 'second' } },
              },
            ],
          },
        ],
        webApps: [],
      },
      internal: [],
    };
    const text = JSON.stringify(
      caddyConfig(state, { adminListen: 'a', publicListen: ':1', accessLogPath: 'l', bodyLimitBytes: 1 }),
    );
    expect(text.match(/reverse_proxy/g)).toHaveLength(1);
    expect(text).toContain('"status_code":501');
    expect(unenforceableRoutes(state)).toEqual(['dev.localhost/a/p/c/guarded']);
  });
});
