import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceName } from '../../src/dataplane/kubernetes/environments.js';
import { cleanupInstance } from '../helpers/images.js';
import {
  type PlatformTestRondo,
  platformServerEnv,
  startPlatformRondo,
  startServerGateway,
  waitForDeployment,
} from '../helpers/platform.js';
import { ensureBuilt, type ServerProcess, serverApi, startServer } from '../helpers/processes.js';
import { loadBusyboxImage, startTestCluster, type TestCluster, until } from './kube-cluster-helpers.js';

/**
 * A control plane deploying to the real test cluster (G6's tests beyond the driver): a cluster
 * that does not answer or refuses the credentials refuses a deploy with 503 and records nothing;
 * a namespace Rondo does not own is refused, never adopted or deleted; a scheduled task runs on
 * the cluster, each execution with its logs and exit code; and a control plane killed with -9
 * mid-rollout converges on the cluster after a restart.
 */
const V1 = 'localhost/rondo-kcp-web:v1';
const V2_SLOW = 'localhost/rondo-kcp-web:v2-slow';
const TASK = 'localhost/rondo-kcp-task:v1';
const DATAPLANES = '/api/v1/orgs/default/dataplanes';
const httpd = (body: string, delaySeconds = 0) => [
  '/bin/busybox',
  'sh',
  '-c',
  `sleep ${delaySeconds}; mkdir -p /tmp/www && echo ${body} > /tmp/www/index.html && exec /bin/busybox httpd -f -p 8080 -h /tmp/www`,
];

let cluster: TestCluster;
let kube: { core: CoreV1Api; apps: AppsV1Api };

beforeAll(() => {
  cluster = startTestCluster();
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig);
  kube = { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
  loadBusyboxImage(V1, httpd('v1'));
  // Ready only after 4 s: a rollout to it is long enough to be killed half-way.
  loadBusyboxImage(V2_SLOW, httpd('v2', 4));
  loadBusyboxImage(TASK, ['/bin/busybox', 'sh', '-c', 'echo "task ran: greeting=$GREETING"; exit 4']);
}, 900_000);
afterAll(() => cluster?.stop(), 120_000);

describe('deploying to a cluster through the control plane', () => {
  let t: PlatformTestRondo;
  const token = () => /token: (\S+)/.exec(cluster.kubeconfig)?.[1] ?? '';
  const taken = { namespace: '', marker: 'keep-me' };

  /** A project whose pipeline is one environment on `dataPlane`. */
  const projectOn = async (project: string, environment: string, dataPlane: string) => {
    const env = await t.call('POST', '/api/v1/orgs/default/environments', {
      body: { name: environment, dataPlane },
    });
    expect(env.status, JSON.stringify(env.body)).toBe(201);
    await t.call('POST', '/api/v1/orgs/default/pipelines', {
      body: { name: project, environments: [environment] },
    });
    const p = await t.call('POST', '/api/v1/orgs/default/projects', {
      body: { name: project, pipeline: project },
    });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
  };
  const component = async (project: string, body: Record<string, unknown>) => {
    const c = await t.call('POST', `/api/v1/orgs/default/projects/${project}/components`, { body });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    return `/api/v1/orgs/default/projects/${project}/components/${body.name}`;
  };

  beforeAll(async () => {
    t = await startPlatformRondo(
      'pglite',
      {},
      { tasks: { scheduleRules: { allowSeconds: true, minIntervalSeconds: 2 } } },
    );
    const register = async (name: string, kubeconfig: string) => {
      const res = await t.call('POST', DATAPLANES, {
        body: { name, type: 'kubernetes', config: { kubeconfig } },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    };
    await register('lab', cluster.kubeconfig);
    await register('away', cluster.kubeconfig.replace(/server: \S+/, 'server: https://127.0.0.1:1'));
    await register('wrong', cluster.kubeconfig.replace(token(), 'rondo-not-a-token'));
    await projectOn('far', 'kaway', 'away');
    await projectOn('denied', 'kwrong', 'wrong');
    await projectOn('taken', 'ktaken', 'lab');
    await projectOn('ops', 'kops', 'lab');
    // Someone else's namespace, under the very name Rondo would give the environment.
    taken.namespace = namespaceName({
      instance: t.instance,
      org: 'default',
      project: 'taken',
      environment: 'ktaken',
    });
    await kube.core.createNamespace({
      body: { metadata: { name: taken.namespace, labels: { owner: 'someone-else' } } },
    });
    await kube.core.createNamespacedConfigMap({
      namespace: taken.namespace,
      body: { metadata: { name: taken.marker }, data: { note: 'not Rondo’s' } },
    });
  }, 180_000);
  afterAll(async () => {
    await t?.rondo.tasks?.runner.idle();
    const instance = t?.instance;
    await t?.close();
    if (instance) {
      const mine = await kube.core.listNamespace({ labelSelector: `rondo.instance=${instance}` });
      for (const n of mine.items)
        await kube.core.deleteNamespace({ name: n.metadata!.name! }).catch(() => undefined);
    }
    if (taken.namespace) await kube.core.deleteNamespace({ name: taken.namespace }).catch(() => undefined);
  }, 180_000);

  it('refuses a deploy to a cluster that does not answer or refuses the credentials: 503, what to fix, nothing recorded', async () => {
    for (const [project, environment, dataPlane, why] of [
      ['far', 'kaway', 'away', /does not answer/],
      ['denied', 'kwrong', 'wrong', /credentials/],
    ] as const) {
      const path = await component(project, {
        name: 'web',
        type: 'service',
        source: { image: V1 },
        endpoints: [{ port: 8080 }],
      });
      const res = await t.call('POST', `${path}/deployments`, { body: { environment } });
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.detail).toMatch(new RegExp(`data plane '${dataPlane}' is unreachable: `));
      expect(res.body.detail).toMatch(why);
      expect(res.body.detail).not.toContain(token());
      const list = await t.call('GET', `${path}/deployments?environment=${environment}`);
      expect(list.body.items).toEqual([]);
    }
  });

  it('refuses a namespace it does not own: the deployment fails naming it, and the namespace is neither adopted nor deleted', async () => {
    const path = await component('taken', {
      name: 'web',
      type: 'service',
      source: { image: V1 },
      endpoints: [{ port: 8080 }],
    });
    const d = await t.call('POST', `${path}/deployments`, { body: { environment: 'ktaken' } });
    expect(d.status, JSON.stringify(d.body)).toBe(202);
    const ended = await waitForDeployment(t, 'default', d.body.id, 90_000);
    expect(ended.status).toBe('failed');
    expect(ended.reason).toContain(`namespace ${taken.namespace} exists but is not Rondo's`);
    const ns = await kube.core.readNamespace({ name: taken.namespace });
    expect(Object.keys(ns.metadata?.labels ?? {}).filter((k) => k.startsWith('rondo.'))).toEqual([]);
    expect(ns.metadata?.labels?.owner).toBe('someone-else');
    const pods = await kube.core.listNamespacedPod({ namespace: taken.namespace });
    expect(pods.items).toEqual([]);
    // Removing the component leaves the namespace (and what is in it) alone.
    expect((await t.call('DELETE', path)).status).toBeLessThan(300);
    await sleep(2000);
    const marker = await kube.core.readNamespacedConfigMap({
      name: taken.marker,
      namespace: taken.namespace,
    });
    expect(marker.data?.note).toBe('not Rondo’s');
    expect((await kube.core.readNamespace({ name: taken.namespace })).status?.phase).toBe('Active');
  }, 180_000);

  it('runs a scheduled task on the cluster: each execution has its logs and exit code', async () => {
    const path = await component('ops', { name: 'tick', type: 'scheduled-task', source: { image: TASK } });
    const set = await t.call('PATCH', `${path}/config`, {
      body: { set: [{ key: 'GREETING', value: 'hi' }] },
    });
    expect(set.status).toBe(200);
    const d = await t.call('POST', `${path}/deployments`, {
      body: { environment: 'kops', cron: '*/3 * * * * *' },
    });
    expect(d.status, JSON.stringify(d.body)).toBe(202);
    expect(await waitForDeployment(t, 'default', d.body.id, 90_000)).toMatchObject({ status: 'active' });
    // biome-ignore lint/suspicious/noExplicitAny: the execution's JSON
    const run = await until<any>(
      'an ended scheduled run on the cluster',
      async () => {
        const h = await t.call('GET', `${path}/executions?environment=kops`);
        // biome-ignore lint/suspicious/noExplicitAny: the execution's JSON
        return h.body.items.find((x: any) => x.status !== 'running' && x.trigger === 'schedule');
      },
      120_000,
    );
    expect(run).toMatchObject({
      status: 'failed',
      exitCode: 4,
      trigger: 'schedule',
      triggeredBy: 'scheduler',
    });
    const logs = await t.rondo.api.inject({
      method: 'GET',
      url: `/api/v1/orgs/default/executions/${run.id}/logs`,
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(logs.statusCode).toBe(200);
    expect(logs.body).toContain('task ran: greeting=hi');
    await t.call('PUT', `${path}/schedules/kops`, { body: { suspended: true } });
  }, 240_000);
});

/** The control plane as its own process, killed with -9 while a rollout to the cluster is half-way. */
describe('a control plane killed mid-rollout to the cluster', () => {
  const TOKEN = 'rondo_kube_recovery_test_admin_token_01234567';
  const dir = mkdtempSync(join(tmpdir(), 'rondo-kube-recovery-'));
  let gateway: Awaited<ReturnType<typeof startServerGateway>>;
  let env: NodeJS.ProcessEnv;
  let server: ServerProcess | undefined;
  let instance = '';
  const api = serverApi(() => server, TOKEN);
  const WEB = '/orgs/default/projects/shop/components/web';
  const deploymentsOnCluster = async (ns: string) =>
    (await kube.apps.listNamespacedDeployment({ namespace: ns })).items.map((d) => d.metadata?.name ?? '');

  beforeAll(async () => {
    ensureBuilt();
    env = await platformServerEnv(join(dir, 'data'), TOKEN);
    gateway = await startServerGateway(env);
    server = await startServer(env);
    const lab = await api('POST', '/orgs/default/dataplanes', {
      name: 'lab',
      type: 'kubernetes',
      config: { kubeconfig: cluster.kubeconfig },
    });
    expect(lab.status, JSON.stringify(lab.body)).toBe(201);
    expect(
      (await api('POST', '/orgs/default/environments', { name: 'kprod', dataPlane: 'lab' })).status,
    ).toBe(201);
    await api('POST', '/orgs/default/pipelines', { name: 'kube', environments: ['kprod'] });
    await api('POST', '/orgs/default/projects', { name: 'shop', pipeline: 'kube' });
    await api('POST', '/orgs/default/projects/shop/components', {
      name: 'web',
      type: 'service',
      source: { image: V1 },
      endpoints: [{ port: 8080 }],
    });
  }, 180_000);
  afterAll(async () => {
    await server?.stop('SIGKILL');
    if (instance) {
      const mine = await kube.core.listNamespace({ labelSelector: `rondo.instance=${instance}` });
      for (const n of mine.items)
        await kube.core.deleteNamespace({ name: n.metadata!.name! }).catch(() => undefined);
      await cleanupInstance(instance);
    }
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it('converges after a restart: the new revision alone runs, the old one superseded and its pods gone', async () => {
    const status = async (id: string) => {
      const d = (await api('GET', `/orgs/default/deployments/${id}`)).body;
      if (d.status === 'failed') throw new Error(`deployment ${id} failed: ${d.reason}`);
      return d.status as string;
    };
    const deploy = async (body: Record<string, unknown>) => {
      const res = await api('POST', `${WEB}/deployments`, { environment: 'kprod', replicas: 2, ...body });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      return res.body as { id: string };
    };
    const v1 = await deploy({});
    await until('v1 active', async () => ((await status(v1.id)) === 'active' ? true : undefined), 120_000);
    const v2 = await deploy({ image: V2_SLOW });
    // Half-way: v2's Deployment is on the cluster, its pods not ready yet (4 s to start serving).
    const ns = await until(
      'v2 applied to the cluster',
      async () => {
        const list = await kube.apps.listDeploymentForAllNamespaces({
          labelSelector: `rondo.deployment=${v2.id}`,
        });
        return list.items[0]?.metadata?.namespace;
      },
      60_000,
    );
    instance = (await kube.core.readNamespace({ name: ns })).metadata?.labels?.['rondo.instance'] ?? '';
    expect(await status(v2.id)).toBe('rolling-out');
    await server!.stop('SIGKILL');
    server = await startServer(env);
    await until(
      'v2 active after the restart',
      async () => ((await status(v2.id)) === 'active' ? true : undefined),
      180_000,
    );
    expect(await status(v1.id)).toBe('superseded');
    await until(
      'only v2 on the cluster',
      async () => {
        const names = await deploymentsOnCluster(ns);
        const pods = await kube.core.listNamespacedPod({ namespace: ns });
        const running = pods.items.filter((p) => !p.metadata?.deletionTimestamp);
        const v2Pods = running.filter((p) => p.metadata?.labels?.['rondo.deployment'] === v2.id);
        return names.length === 1 && running.length === 2 && v2Pods.length === 2 ? true : undefined;
      },
      120_000,
    );
  }, 480_000);
});
