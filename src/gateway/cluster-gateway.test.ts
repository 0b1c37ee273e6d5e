import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import type { GatewayState } from '../domain/gateway-routes.js';
import {
  CLUSTER_GATEWAY_DIR,
  clusterGatewayCommand,
  clusterGatewayConfig,
  clusterGatewayFiles,
  clusterGatewayPush,
} from './cluster-gateway.js';
import { haproxyConfig } from './haproxy-config.js';

const SETTINGS = { publicPort: 18080, controlPort: 17072, bodyLimitBytes: 10 * 1024 * 1024 };
const owner = { orgId: 'o', projectId: 'p', componentId: 'c', environmentId: 'e', deploymentId: 'd' };

const state = (keys: string[]): GatewayState => ({
  publicGateway: {
    environments: [
      {
        host: 'prod.example.com',
        routes: [
          {
            prefix: '/acme/shop/web/api',
            basePath: '/',
            upstreams: [{ dial: '10.244.0.7:8080' }],
            owner,
            policy: {
              apiKey: { header: 'x-api-key', keys: keys.map((sha256, i) => ({ consumer: `c${i}`, sha256 })) },
            },
          },
        ],
      },
    ],
    webApps: [],
  },
  internal: [{ environment: 'acme-prod', port: 19100, allowedCidrs: ['10.244.0.7/32'], routes: [] }],
});

async function untar(buf: Buffer): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const x = extract();
  const done = new Promise<void>((resolve, reject) => {
    x.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        files[header.name] = Buffer.concat(chunks).toString('utf8');
        next();
      });
    });
    x.on('finish', resolve);
    x.on('error', reject);
  });
  x.end(buf);
  await done;
  return files;
}

describe('the gateway inside a cluster', () => {
  it('listens on the node’s public port, its organization listeners open to the pods given', () => {
    const config = clusterGatewayConfig(state(['a'.repeat(64)]), SETTINGS);
    expect(config.text).toContain('bind :18080');
    expect(config.text).toContain('bind :19100');
    expect(config.text).toContain('src 10.244.0.7/32');
    expect(config.text).toContain('server s0 10.244.0.7:8080');
    // The identity is answered on the node's loopback only.
    expect(config.text).toContain('bind 127.0.0.1:17072');
    expect(config.text).toContain('if { path /rondo/config-id }');
    expect(config.text).toContain(`lua-load-per-thread ${CLUSTER_GATEWAY_DIR}/`);
  });

  it('reloads for an API key change (no runtime API from outside the pod); the host gateway does not', () => {
    const one = clusterGatewayConfig(state(['a'.repeat(64)]), SETTINGS);
    const two = clusterGatewayConfig(state(['b'.repeat(64)]), SETTINGS);
    expect(one.identity).not.toBe(two.identity);
    const host = {
      ...SETTINGS,
      publicListen: ':8080',
      internalBindAddress: '',
      runtimeSocket: '/x',
      configDir: '/x',
    };
    expect(haproxyConfig(state(['a'.repeat(64)]), host).identity).toBe(
      haproxyConfig(state(['b'.repeat(64)]), host).identity,
    );
  });

  it('pushes every file as a tar read to its length, then reloads the master and waits for the identity', async () => {
    const config = clusterGatewayConfig(state(['a'.repeat(64)]), SETTINGS);
    const push = await clusterGatewayPush(config, SETTINGS);
    const files = await untar(push.stdin);
    expect(files).toEqual(clusterGatewayFiles(config));
    expect(files['haproxy.cfg']).toBe(config.text);
    expect(Object.values(files).join('\n')).toContain('a'.repeat(64));
    const script = push.command[2]!;
    expect(push.command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(script).toContain(`head -c ${push.stdin.length} | tar -x`);
    expect(script).toContain('kill -USR2 1');
    expect(script).toContain(`http://127.0.0.1:17072/rondo/config-id`);
    expect(script).toContain(`= ${config.identity} ] && exit 0`);
    // haproxy.cfg is moved in last, after the files it names.
    expect(script.indexOf('mv -f "$in/haproxy.cfg"')).toBeGreaterThan(script.indexOf('for f in'));
  });

  it('starts HAProxy as the container’s first process, from the ConfigMap’s copy', () => {
    const [sh, c, line] = clusterGatewayCommand();
    expect([sh, c]).toEqual(['/bin/sh', '-c']);
    expect(line).toMatch(/cp -L \/etc\/rondo-gateway\/\* \/run\/rondo-gateway\/ && exec haproxy -W /);
  });
});
