import { describe, expect, it } from 'vitest';
import type { RoutingState } from './driver.js';
import { gatewayPart, routedAddresses } from './gateway-part.js';
import { LABEL } from './labels.js';

const owner = { orgId: 'o', projectId: 'p', componentId: 'c', environmentId: 'e', deploymentId: 'd2' };
const ref = { instance: 'i', org: 'acme', project: 'shop', environment: 'prod' };
const STATE: RoutingState = {
  revisions: [
    { ...ref, deployment: 'd1', names: [], switching: false },
    { ...ref, deployment: 'd2', names: [], switching: true },
  ],
  hosts: [
    {
      host: 'prod.example.com',
      routes: [
        {
          deployment: 'd1',
          port: 8080,
          owner,
          prefix: '/a',
          basePath: '/',
          componentPrefix: '/a',
          policy: { rateLimit: { requests: 5, per: 'second' } },
        },
      ],
    },
  ],
  webApps: [{ host: 'web.example.com', deployment: 'd2', port: 3000, owner }],
  internal: [
    { org: 'acme', environment: 'prod', port: 19100, routes: [] },
    { org: 'acme', environment: 'empty', port: 19101, routes: [] },
  ],
};

const replica = (deployment: string, ip: string | undefined, ready: boolean, state = 'running') => ({
  labels: { [LABEL.deployment]: deployment },
  ...(ip ? { ip } : {}),
  ready,
  state,
});

describe('a routing state as a gateway’s', () => {
  it('routes ready replicas, and every running one of a revision being switched to', () => {
    const addresses = routedAddresses(STATE, [
      replica('d1', '10.0.0.3', true),
      replica('d1', '10.0.0.2', false),
      replica('d1', '10.0.0.1', true, 'removing'),
      replica('d2', '10.0.0.9', false),
      replica('d2', undefined, true),
    ]);
    expect(Object.fromEntries(addresses)).toEqual({ d1: ['10.0.0.3'], d2: ['10.0.0.9'] });
  });

  it('gives upstreams by address, keeps policies, and leaves out organization gateways nothing can reach', () => {
    const part = gatewayPart(
      STATE,
      new Map([
        ['d1', ['10.0.0.3']],
        ['d2', ['10.0.0.9']],
      ]),
      (_org, env) => (env === 'prod' ? ['10.0.0.9/32', '10.0.0.3/32'] : []),
    );
    expect(part.publicGateway.environments[0]?.routes[0]).toMatchObject({
      upstreams: [{ dial: '10.0.0.3:8080' }],
      policy: { rateLimit: { requests: 5, per: 'second' } },
    });
    expect(part.publicGateway.webApps[0]?.upstreams).toEqual([{ dial: '10.0.0.9:3000' }]);
    expect(part.internal).toEqual([
      { environment: 'acme-prod', port: 19100, allowedCidrs: ['10.0.0.3/32', '10.0.0.9/32'], routes: [] },
    ]);
  });
});
