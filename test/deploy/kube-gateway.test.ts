import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGatewayImage } from '../../src/builds/bootstrap-images.js';
import { DockerImages } from '../../src/dataplane/docker/docker-images.js';
import type {
  DataPlaneDriver,
  EnvironmentInfo,
  PathRouteIntent,
  Replica,
  RevisionSpec,
  RoutingState,
} from '../../src/dataplane/driver.js';
import { Cluster } from '../../src/dataplane/kubernetes/cluster.js';
import { GATEWAY_NAME, gatewayNamespace } from '../../src/dataplane/kubernetes/gateway.js';
import { kubernetesDriver } from '../../src/dataplane/kubernetes/kubernetes-driver.js';
import { execInPod } from '../../src/dataplane/kubernetes/pod-exec.js';
import { LABEL } from '../../src/dataplane/labels.js';
import type { RoutePolicy } from '../../src/domain/gateway-routes.js';
import { docker } from '../helpers/images.js';
import { startLoad } from '../helpers/load.js';
import { gatewayRequest, startRegistry } from '../helpers/platform.js';
import {
  loadBusyboxImage,
  removeNodeImage,
  revisionLabels,
  serveToCluster,
  startTestCluster,
  type TestCluster,
  until,
} from './kube-cluster-helpers.js';

/**
 * G6 item 2 / G7 item 4 on the real test cluster: Rondo's gateway inside the cluster — the site's
 * gateway image (busybox and Debian's HAProxy, built as `rondo images bootstrap` builds it, pushed
 * to the platform registry and pulled by the node by digest) as a DaemonSet on the node's network,
 * configured through the Kubernetes driver's traffic port with the same `haproxyConfig` as the
 * host's gateway, routing to pod IPs (the cluster has neither kube-proxy nor DNS).
 */
const NODE = '10.201.0.2';
const INSTANCE = `kg${process.pid}`;
const REF = { instance: INSTANCE, org: 'acme', project: 'shop', environment: 'kgw' };
const HOST = `${REF.environment}.rondo.test`;
const PUBLIC_PORT = 18080;
const CONTROL_PORT = 17072;
const ORG_PORT = 19100;
const APP = 'localhost/rondo-gw-app:test';
const API = '/acme/shop/web/api';
const KEYED = '/acme/shop/web/keyed';
/** Routed to a listener that reads bodies and never answers (busybox httpd answers a chunked POST 501 at once). */
const SINK = '/acme/shop/web/sink';
const API_KEY = `key-${Math.random().toString(36).slice(2)}`;
const NONCE = Math.random().toString(36).slice(2, 10);
const PULLER = { name: 'puller', password: `pull-${NONCE}` };
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Each version answers its name; `/app/run.sh` is mounted as a file. */
const SERVE = [
  // nc ends a connection at the end of its input: a pipe that stays open keeps it reading.
  '(while true; do /bin/busybox sleep 3600 | /bin/busybox nc -l -p 8081 > /dev/null; done) &',
  'mkdir -p /tmp/www',
  'echo "$VERSION" > /tmp/www/index.html',
  'exec /bin/busybox httpd -f -p 8080 -h /tmp/www',
].join('\n');

describe('Rondo’s gateway inside the cluster', () => {
  let cluster: TestCluster | undefined;
  let registry: Awaited<ReturnType<typeof startRegistry>> | undefined;
  let door: Awaited<ReturnType<typeof serveToCluster>> | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rondo-kube-gateway-'));
  const kc = new KubeConfig();
  let core: CoreV1Api;
  let driver: DataPlaneDriver;
  let api: Cluster;
  let env: EnvironmentInfo;
  let gatewayImage = '';
  let gatewayTag = '';
  const running = new Map<string, Replica>();

  const owner = (deployment: string) => ({
    orgId: 'o1',
    projectId: 'p1',
    componentId: 'c1',
    environmentId: 'e1',
    deploymentId: deployment,
  });
  const policy: RoutePolicy = {
    apiKey: { header: 'x-api-key', keys: [{ consumer: 'mobile', sha256: sha256(API_KEY) }] },
    consumerRateLimit: { requests: 3, per: 'minute' },
  };
  /** The routing state the control plane computes with `deployment` routed (§6.4). */
  const state = (deployment: string, switching = false): RoutingState => {
    const route = (
      prefix: string,
      componentPrefix: string,
      p?: RoutePolicy,
      port = 8080,
    ): PathRouteIntent => ({
      deployment,
      port,
      owner: owner(deployment),
      prefix,
      basePath: '/',
      componentPrefix,
      ...(p ? { policy: p } : {}),
    });
    return {
      revisions: [{ ...REF, deployment, names: ['web'], switching }],
      hosts: [
        {
          host: HOST,
          routes: [
            route(API, '/acme/shop/web'),
            route(KEYED, '/acme/shop/web', policy),
            route(SINK, '/acme/shop/web', undefined, 8081),
          ],
        },
      ],
      webApps: [],
      internal: [
        {
          org: REF.org,
          environment: REF.environment,
          port: ORG_PORT,
          routes: [route('/shop/web/api', '/shop/web')],
        },
      ],
    };
  };
  const revision = (deployment: string, version: string, readyPath = '/'): RevisionSpec => ({
    environment: env,
    labels: revisionLabels(REF, 'web', deployment),
    name: `rondo-${INSTANCE}.${deployment}`,
    image: APP,
    replicas: 1,
    env: { VERSION: version },
    files: [{ path: '/app/run.sh', content: SERVE }],
    ports: [8080, 8081],
    readiness: { kind: 'http', port: 8080, path: readyPath },
    names: ['web'],
    organizationGatewayPort: ORG_PORT,
  });
  const start = async (deployment: string, version: string) => {
    const [replica] = await driver.revisions.start(revision(deployment, version), [0]);
    await until(`${deployment} to be ready`, async () => {
      const r = await driver.revisions.probe(replica!.id, undefined);
      return r.failure === undefined ? r : undefined;
    });
    running.set(deployment, replica!);
    return replica!;
  };
  /** A GET through the cluster's public listener with the environment's host. */
  const get = (path: string, headers: Record<string, string> = {}) =>
    gatewayRequest(PUBLIC_PORT, HOST, path, { address: NODE, headers });

  beforeAll(async () => {
    cluster = startTestCluster();
    kc.loadFromString(cluster.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    api = new Cluster('kube-gateway', { kubeconfig: cluster.kubeconfig });
    loadBusyboxImage(APP, ['/bin/busybox', 'sh', '/app/run.sh']);
    // The site's gateway image, as `rondo images bootstrap` builds and pushes it.
    registry = await startRegistry(dir);
    door = await serveToCluster(join(dir, 'registry'), cluster.registry, PULLER);
    gatewayTag = await buildGatewayImage(new DockerImages(), registry.addr, () => undefined, {
      'rondo.test': NONCE,
    });
    gatewayImage = `${registry.addr}/rondo/gateway@${await new DockerImages().push(gatewayTag)}`;
    driver = kubernetesDriver(
      {
        id: 'kube-gateway',
        type: 'kubernetes',
        config: {
          kubeconfig: cluster.kubeconfig,
          registry: { address: cluster.registry, username: PULLER.name, password: PULLER.password },
        },
      },
      {
        platformRegistry: registry.addr,
        gateway: {
          image: gatewayImage,
          instance: INSTANCE,
          publicPort: PUBLIC_PORT,
          controlPort: CONTROL_PORT,
          bodyLimitBytes: 10 * 1024 * 1024,
        },
      },
    );
    env = await driver.environments.ensure(REF);
  }, 900_000);

  afterAll(async () => {
    for (const ns of [env?.name, gatewayNamespace(INSTANCE)])
      if (ns) await core?.deleteNamespace({ name: ns }).catch(() => undefined);
    await driver?.stop?.();
    if (gatewayImage && cluster) removeNodeImage(gatewayImage.replace(registry!.addr, cluster.registry));
    await door?.stop();
    registry?.stop();
    if (gatewayTag)
      await docker
        .getImage(gatewayTag)
        .remove({ force: true })
        .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    cluster?.stop();
  }, 180_000);

  it('routes an environment’s host to its pod through the gateway pulled by digest', async () => {
    await start('dpl-v1', 'v1');
    await driver.traffic.publish(state('dpl-v1'));
    const res = await get(`${API}/`);
    expect(res.status).toBe(200);
    expect(res.body.trim()).toBe('v1');
    expect(res.headers['x-rondo-outcome']).toBe('BACKEND_RESPONSE');
    expect(res.headers['x-request-id']).toMatch(/[0-9a-f-]{36}/);
    // An address no route names: the gateway's JSON 404.
    const missing = await get('/acme/shop/nothing/');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ code: 'RESOURCE_NOT_FOUND' });

    // The gateway runs the site's image, by digest, from the address the cluster pulls.
    const { items } = await core.listNamespacedPod({ namespace: gatewayNamespace(INSTANCE) });
    expect(items.length).toBe(1);
    expect(items[0]?.spec?.hostNetwork).toBe(true);
    expect(items[0]?.status?.containerStatuses?.[0]?.imageID).toBe(
      gatewayImage.replace(registry!.addr, cluster!.registry),
    );

    // It carries the installation's labels, yet is neither an environment nor a replica of it:
    // the reconciler would remove a stray one (it once deleted the gateway mid-promotion).
    const environments = await driver.environments.list(INSTANCE);
    expect(environments.map((e) => e.name)).toEqual([env!.name]);
    const replicas = await driver.revisions.list({ [LABEL.instance]: INSTANCE });
    expect(replicas.map((r) => r.labels[LABEL.deployment])).toEqual(['dpl-v1']);
    expect(replicas.every((r) => !r.id.startsWith(`${gatewayNamespace(INSTANCE)}/`))).toBe(true);
  }, 300_000);

  it('answers a body over 10 MB with the 413 JSON, announced or chunked', async () => {
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(11 * 1024 * 1024, 'x'));
    // Announced: refused before routing, from the headers alone.
    const head = await rawRequest(
      `POST ${API}/ HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${11 * 1024 * 1024}\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    expect(head).toMatch(/^HTTP\/1\.1 413/);
    expect(JSON.parse(head.slice(head.indexOf('\r\n\r\n') + 4))).toMatchObject({
      code: 'REQUEST_TOO_LARGE',
    });
    // Chunked: counted by the body limit's Lua filter in the pod.
    const out = execFileSync(
      'curl',
      [
        '-s',
        '-H',
        `Host: ${HOST}`,
        '-H',
        'Transfer-Encoding: chunked',
        '--data-binary',
        `@${big}`,
        '-w',
        '\n%{http_code}',
        `http://${NODE}:${PUBLIC_PORT}${SINK}/`,
      ],
      { encoding: 'utf8' },
    );
    const [body, code] = [out.slice(0, out.lastIndexOf('\n')), out.slice(out.lastIndexOf('\n') + 1)];
    expect(code).toBe('413');
    expect(JSON.parse(body)).toMatchObject({ code: 'REQUEST_TOO_LARGE' });
  }, 120_000);

  it('enforces an endpoint’s policy in the cluster: API key and rate limit, the key only hashed', async () => {
    const none = await get(`${KEYED}/`);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ code: 'AUTH_FAILURE' });
    expect((await get(`${KEYED}/`, { 'x-api-key': 'wrong' })).status).toBe(401);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(`${KEYED}/`, { 'x-api-key': API_KEY })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // What the cluster holds is the key's hash, never the key.
    const cm = await core.readNamespacedConfigMap({
      name: GATEWAY_NAME,
      namespace: gatewayNamespace(INSTANCE),
    });
    const text = JSON.stringify(cm.data);
    expect(text).toContain(sha256(API_KEY));
    expect(text).not.toContain(API_KEY);
  }, 60_000);

  it('opens the organization gateway to the environment’s pods only', async () => {
    const v1 = running.get('dpl-v1')!;
    const [namespace, pod] = v1.id.split('/') as [string, string];
    const inside = await execInPod(api, { namespace, pod, container: 'app' }, [
      '/bin/busybox',
      'sh',
      '-c',
      'echo "$RONDO_INTERNAL_GATEWAY"; /bin/busybox wget -q -O - "$RONDO_INTERNAL_GATEWAY/shop/web/api/"',
    ]);
    expect(inside.stderr).toBe('');
    const [address, answer] = inside.stdout.trim().split('\n');
    expect(address).toBe(`http://${NODE}:${ORG_PORT}`);
    expect(answer).toBe('v1');
    // From outside the environment (this host) the listener drops the connection unanswered.
    await expect(
      fetch(`http://${NODE}:${ORG_PORT}/shop/web/api/`, { signal: AbortSignal.timeout(5000) }),
    ).rejects.toThrow();
  }, 60_000);

  it('rolls v1 → v2 under load with no failed request; an unready v3 leaves v2 serving', async () => {
    const load = startLoad(PUBLIC_PORT, HOST, `${API}/`, 10, NODE);
    await sleep(1000);
    await start('dpl-v2', 'v2');
    // The switch (every running replica of v2), then v2 marked; then v1 is drained and removed.
    await driver.traffic.publish(state('dpl-v2', true));
    await driver.traffic.publish(state('dpl-v2'));
    await sleep(2000);
    await driver.revisions.remove(running.get('dpl-v1')!.id, 5);
    await sleep(1000);
    // v3 never passes readiness: it is never routed, and v2 goes on serving.
    const [v3] = await driver.revisions.start(revision('dpl-v3', 'v3', '/never-ready'), [0]);
    const reading = await until('v3 to fail readiness', async () => {
      const r = await driver.revisions.probe(v3!.id, undefined);
      return r.failure && r.replica?.state === 'running' ? r : undefined;
    });
    expect(reading.failure).toBeDefined();
    await driver.traffic.publish(state('dpl-v2'));
    await sleep(2000);
    const r = await load.stop();
    expect(r.failures.slice(0, 5)).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.resets).toBe(0);
    expect(r.ok).toBeGreaterThan(50);
    const bodies = r.bodies.map((b) => b.trim());
    expect(bodies).toContain('v1');
    expect(bodies).toContain('v2');
    expect(bodies).not.toContain('v3');
    expect(bodies.slice(-20).every((b) => b === 'v2')).toBe(true);
    await driver.revisions.remove(v3!.id, 1);
  }, 300_000);

  it('a restarted gateway pod serves the last published configuration (the ConfigMap)', async () => {
    const ns = gatewayNamespace(INSTANCE);
    const { items } = await core.listNamespacedPod({ namespace: ns });
    await core.deleteNamespacedPod({ name: items[0]!.metadata!.name!, namespace: ns, gracePeriodSeconds: 1 });
    const body = await until(
      'the new gateway pod to answer',
      async () => {
        const res = await get(`${API}/`);
        return res.status === 200 ? res.body.trim() : undefined;
      },
      120_000,
    );
    expect(body).toBe('v2');
  }, 180_000);
});

/** One request on a raw connection, for bodies a client would send before reading the answer. */
function rawRequest(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(PUBLIC_PORT, NODE);
    let out = '';
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    socket.on('connect', () => socket.write(text));
    socket.on('data', (d: string) => {
      out += d;
    });
    socket.on('error', (err) => (out ? resolve(out) : reject(err)));
    socket.on('close', () => resolve(out));
  });
}
