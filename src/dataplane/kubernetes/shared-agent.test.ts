import https from 'node:https';
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedAgentKubeConfig } from './shared-agent.js';

const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');

const kubeconfig = (extra = '') => `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: ${CA.toString('base64')}
${extra}
users:
- name: admin
  user:
    token: secret-token
contexts:
- name: admin@lab
  context: { cluster: lab, user: admin }
current-context: admin@lab
`;

/** What the generated clients do for each call: a request context, authenticated by the kubeconfig. */
async function call(kc: SharedAgentKubeConfig) {
  const ctx = new RequestContext('https://10.0.0.1:6443/api/v1/pods', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx;
}

let kc: SharedAgentKubeConfig | undefined;
afterEach(() => kc?.closeAgent());

describe('SharedAgentKubeConfig', () => {
  it('sends every call of one cluster through one keep-alive agent with the kubeconfig’s TLS, the token per request', async () => {
    kc = new SharedAgentKubeConfig();
    kc.loadFromString(kubeconfig());
    const [a, b] = [await call(kc), await call(kc)];
    const agent = a.getAgent();
    expect(agent).toBeInstanceOf(https.Agent);
    expect(b.getAgent()).toBe(agent);
    const options = (agent as https.Agent).options as https.AgentOptions;
    expect(options.keepAlive).toBe(true);
    expect(Buffer.from(options.ca as Buffer).toString()).toBe(CA.toString());
    expect(b.getHeaders().Authorization).toBe('Bearer secret-token');
    // Closed (the driver's stop): the next call gets a new one.
    kc.closeAgent();
    expect((await call(kc)).getAgent()).not.toBe(agent);
  });

  it('leaves a cluster behind a proxy to the client’s own agent per call', async () => {
    kc = new SharedAgentKubeConfig();
    kc.loadFromString(kubeconfig('    proxy-url: http://proxy.example:3128'));
    const [a, b] = [await call(kc), await call(kc)];
    expect(a.getAgent()).toBeDefined();
    expect(b.getAgent()).not.toBe(a.getAgent());
  });
});
