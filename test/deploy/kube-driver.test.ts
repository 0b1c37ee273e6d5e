import { createHash } from 'node:crypto';
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DataPlaneDriver, EnvironmentInfo, Replica, RevisionSpec } from '../../src/dataplane/driver.js';
import { Cluster } from '../../src/dataplane/kubernetes/cluster.js';
import { Environments } from '../../src/dataplane/kubernetes/environments.js';
import { kubernetesDriver } from '../../src/dataplane/kubernetes/kubernetes-driver.js';
import { listReplicas } from '../../src/dataplane/kubernetes/revisions.js';
import { LABEL } from '../../src/dataplane/labels.js';
import { RondoError } from '../../src/domain/errors.js';
import { loadBusyboxImage, startTestCluster, type TestCluster, until } from './kube-cluster-helpers.js';

/**
 * The Kubernetes driver (src/dataplane/kubernetes) against the real test cluster
 * (scripts/kube-test-cluster.sh): environments as namespaces with their policies, revisions as
 * Deployments whose pods are the replicas, task runs as Jobs, routing as Services.
 */
const IMAGE = 'localhost/rondo-app:test';
const INSTANCE = `kt${process.pid}`;
const REF = { instance: INSTANCE, org: 'acme', project: 'shop', environment: 'dev' };
const PLANTED = `planted-${Math.random().toString(36).slice(2)}`;
const PLANTED_FILE = `file-secret-${Math.random().toString(36).slice(2)}\n`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const notFound = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: { code?: number }) => (err.code === 404 ? true : undefined),
  );

/** The image runs `/app/run.sh`, which each workload mounts as a file. */
const SERVE = [
  'echo "greeting=$GREETING"',
  'echo "password-length=$(printf %s "$PASSWORD" | wc -c | tr -d " ")"',
  'echo "secret-file=$(sha256sum /etc/rondo/secret.txt | cut -d" " -f1)"',
  'mkdir -p /tmp/www && echo ok > /tmp/www/index.html',
  'exec /bin/busybox httpd -f -p 8080 -h /tmp/www',
].join('\n');

describe('Kubernetes driver', () => {
  let cluster: TestCluster | undefined;
  let driver: DataPlaneDriver;
  let env: EnvironmentInfo;
  const kc = new KubeConfig();
  let core: CoreV1Api;
  let apps: AppsV1Api;

  const labels = (component: string, deployment: string) => ({
    [LABEL.instance]: INSTANCE,
    [LABEL.managed]: 'true',
    [LABEL.org]: REF.org,
    [LABEL.project]: REF.project,
    [LABEL.environment]: REF.environment,
    [LABEL.component]: component,
    [LABEL.deployment]: deployment,
  });
  const revision = (over: Partial<RevisionSpec> & Pick<RevisionSpec, 'labels' | 'name' | 'files'>) =>
    ({
      environment: env,
      image: IMAGE,
      replicas: 1,
      env: {},
      ports: [],
      names: [],
      ...over,
    }) satisfies RevisionSpec;

  beforeAll(() => {
    cluster = startTestCluster();
    loadBusyboxImage(IMAGE, ['/bin/busybox', 'sh', '/app/run.sh']);
    kc.loadFromString(cluster.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    driver = kubernetesDriver({
      id: 'kube-test',
      type: 'kubernetes',
      config: { kubeconfig: cluster.kubeconfig },
    });
  }, 900_000);

  afterAll(async () => {
    if (env) await core?.deleteNamespace({ name: env.name }).catch(() => undefined);
    // Its caches' watches and pooled connections.
    await driver?.stop?.();
    cluster?.stop();
  }, 120_000);

  it('answers ping, and says what to fix when the API server does not answer', async () => {
    await driver.ping();
    const away = kubernetesDriver({
      id: 'away',
      type: 'kubernetes',
      config: { kubeconfig: cluster!.kubeconfig.replace(/server: \S+/, 'server: https://127.0.0.1:1') },
    });
    const err = await away.ping().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RondoError);
    expect((err as RondoError).code).toBe('RONDO_ERR_UNAVAILABLE');
    expect((err as RondoError).message).toContain('https://127.0.0.1:1');
    expect(() => kubernetesDriver({ id: 'bad', type: 'kubernetes', config: {} })).toThrow(/kubeconfig/);
  });

  it('ensures an environment: a labelled namespace with default-deny and same-environment policies', async () => {
    env = await driver.environments.ensure(REF);
    expect(env.name).toBe(`rondo-${INSTANCE}-acme-shop-dev`);
    expect(env.labels).toMatchObject({
      [LABEL.instance]: INSTANCE,
      [LABEL.org]: 'acme',
      [LABEL.environment]: 'dev',
    });
    const ns = await core.readNamespace({ name: env.name });
    expect(ns.metadata?.labels).toMatchObject({
      [LABEL.instance]: INSTANCE,
      [LABEL.managed]: 'true',
      [LABEL.org]: 'acme',
      [LABEL.project]: 'shop',
      [LABEL.environment]: 'dev',
    });
    const policies = await kc
      .makeApiClient(NetworkingV1Api)
      .listNamespacedNetworkPolicy({ namespace: env.name });
    const byName = Object.fromEntries(policies.items.map((p) => [p.metadata?.name, p.spec]));
    expect(byName['rondo-default-deny']).toMatchObject({ podSelector: {}, policyTypes: ['Ingress'] });
    expect(byName['rondo-default-deny']?.ingress ?? []).toEqual([]);
    expect(byName['rondo-same-environment']?.ingress).toEqual([{ _from: [{ podSelector: {} }] }]);
    // Again: the same namespace, no error.
    expect((await driver.environments.ensure(REF)).name).toBe(env.name);
    expect((await driver.environments.list(INSTANCE)).map((e) => e.name)).toEqual([env.name]);
  });

  let web: Replica[] = [];
  const webLabels = labels('web', 'dep-web-1');

  it('starts a 2-replica revision: ready pods, indexes 0 and 1, env and files arrive, secrets stay in the Secret', async () => {
    const started = await driver.revisions.start(
      revision({
        labels: webLabels,
        name: 'web-dep-web-1',
        replicas: 2,
        env: { GREETING: 'hello', PASSWORD: PLANTED },
        files: [
          { path: '/app/run.sh', content: SERVE },
          { path: '/etc/rondo/secret.txt', content: Buffer.from(PLANTED_FILE), secret: true },
        ],
        ports: [8080],
        readiness: { kind: 'tcp', port: 8080 },
        resources: { memoryMiB: 64, cpuMillicores: 200 },
      }),
      [0, 1],
    );
    expect(started).toHaveLength(2);
    for (const r of started)
      await until(`${r.id} ready`, async () =>
        (await driver.revisions.probe(r.id, undefined)).failure ? undefined : true,
      );

    web = await driver.revisions.list({ [LABEL.deployment]: 'dep-web-1' });
    expect(web.map((r) => r.labels[LABEL.replica]).sort()).toEqual(['0', '1']);
    expect(web.map((r) => r.id).sort()).toEqual(started.map((r) => r.id).sort());
    for (const r of web) {
      expect(r).toMatchObject({ state: 'running', ready: true, restartCount: 0 });
      expect(r.labels).toMatchObject(webLabels);
      expect(r.ip).toMatch(/^10\.244\./);
      const served = await driver.revisions.markServing(r.id, env.name, []);
      expect(served.ready).toBe(true);
      // The host routes the pod network: the replica answers on its port.
      expect(await (await fetch(`http://${r.ip}:8080/`)).text()).toBe('ok\n');
      const log = await driver.revisions.logs(r.id, 50);
      expect(log).toContain('greeting=hello');
      expect(log).toContain(`password-length=${PLANTED.length}`);
      expect(log).toContain(`secret-file=${sha256(PLANTED_FILE)}`);
    }

    const deployment = await apps.readNamespacedDeployment({ name: 'dep-web-1', namespace: env.name });
    const text = JSON.stringify(deployment);
    expect(text).not.toContain(PLANTED);
    expect(text).not.toContain(PLANTED_FILE.trim());
    expect(deployment.metadata?.managedFields?.map((f) => [f.manager, f.operation])).toContainEqual([
      'rondo',
      'Apply',
    ]);
    const c = deployment.spec?.template.spec?.containers[0];
    expect(c?.ports).toEqual([{ containerPort: 8080, protocol: 'TCP' }]);
    expect(c?.resources?.limits).toEqual({ memory: '64Mi', cpu: '200m' });
    expect(c?.readinessProbe?.tcpSocket?.port).toBe(8080);
    expect(c?.livenessProbe?.tcpSocket?.port).toBe(8080);
    expect(c?.volumeMounts?.every((m) => m.readOnly && m.subPath)).toBe(true);
    const secret = await core.readNamespacedSecret({ name: 'dep-web-1-env', namespace: env.name });
    const values = Object.values(secret.data ?? {}).map((v) => Buffer.from(v, 'base64').toString());
    expect(values).toContain(PLANTED);
    expect(values).toContain(PLANTED_FILE);
    expect(driver.capabilities.restartsOnLiveness).toBe(true);
    expect(await driver.revisions.pin(`localhost/busybox@sha256:${'a'.repeat(64)}`)).toBe(
      `localhost/busybox@sha256:${'a'.repeat(64)}`,
    );
  });

  it('keeps watch-backed caches that, once in sync, answer as the API server does and follow its changes', async () => {
    // A second client of the cluster (its own caches and connections), closed at the end.
    const c = new Cluster('kube-cache', { kubeconfig: cluster!.kubeconfig });
    try {
      const cache = c.caches.of(INSTANCE);
      await cache?.whenSynced();
      expect(cache?.pods.synced).toBe(true);
      const shown = (rs: Replica[]) =>
        rs.map((r) => [r.id, r.labels[LABEL.replica], r.state, r.ready]).sort();
      expect(shown(await listReplicas(c, webLabels, { cached: true }))).toEqual(
        shown(await listReplicas(c, webLabels)),
      );
      // The environment as ensured: confirmed by the caches, without a call to the API server.
      const reads = [
        vi.spyOn(c.core, 'readNamespace'),
        vi.spyOn(c.core, 'listNode'),
        vi.spyOn(c.networking, 'listNamespacedNetworkPolicy'),
      ];
      expect(await new Environments(c).ensure(REF)).toEqual(env);
      for (const read of reads) expect(read).not.toHaveBeenCalled();
      // A change on the server reaches the cache through the watch.
      const name = `cache-probe-${process.pid}`;
      await core.createNamespacedService({
        namespace: env.name,
        body: {
          metadata: { name, labels: { [LABEL.instance]: INSTANCE, [LABEL.managed]: 'true' } },
          spec: { ports: [{ port: 80, protocol: 'TCP' }] },
        },
      });
      await until('the Service in the cache', async () => cache?.services.view()?.get(name, env.name));
      await core.deleteNamespacedService({ name, namespace: env.name });
      await until('the Service gone from the cache', async () =>
        cache?.services.view()?.get(name, env.name) ? undefined : true,
      );
    } finally {
      await c.stop();
    }
  });

  it('publishes a routed component as a Service selecting its deployment, and prunes it when no longer routed', async () => {
    const owner = {
      orgId: 'acme',
      projectId: 'shop',
      componentId: 'web',
      environmentId: 'dev',
      deploymentId: 'dep-web-1',
    };
    await driver.traffic.publish({
      revisions: [
        {
          ...REF,
          deployment: 'dep-web-1',
          names: ['web'],
          switching: false,
        },
      ],
      hosts: [],
      webApps: [{ host: 'web.example', deployment: 'dep-web-1', port: 8080, owner }],
      internal: [],
    });
    const svc = await core.readNamespacedService({ name: 'web', namespace: env.name });
    expect(svc.spec?.selector).toEqual({ [LABEL.deployment]: 'dep-web-1' });
    expect(svc.spec?.ports?.map((p) => [p.port, p.protocol])).toEqual([[8080, 'TCP']]);
    await driver.traffic.publish({ revisions: [], hosts: [], webApps: [], internal: [] });
    expect(await notFound(core.readNamespacedService({ name: 'web', namespace: env.name }))).toBe(true);
  });

  it('reports a revision whose container exits 3 as stopped, with the exit code', async () => {
    const [r] = await driver.revisions.start(
      revision({
        labels: labels('crash', 'dep-crash-1'),
        name: 'crash-dep-crash-1',
        files: [{ path: '/app/run.sh', content: 'echo going down; exit 3' }],
      }),
      [0],
    );
    const reading = await until('the crash to be seen as a stop', async () => {
      const x = await driver.revisions.probe(r!.id, undefined);
      return x.stopped ? x : undefined;
    });
    expect(reading.failure).toMatch(/code 3/);
    const [listed] = await driver.revisions.list({ [LABEL.deployment]: 'dep-crash-1' });
    expect(listed?.exitCode).toBe(3);
    await driver.revisions.remove(r!.id, 1);
    expect(await notFound(apps.readNamespacedDeployment({ name: 'dep-crash-1', namespace: env.name }))).toBe(
      true,
    );
  });

  it('removes replicas one by one: the other one stays, and the Deployment goes with the last', async () => {
    const [first] = [...web].sort((a, b) => a.labels[LABEL.replica]!.localeCompare(b.labels[LABEL.replica]!));
    await driver.revisions.remove(first!.id, 2);
    const scale = await apps.readNamespacedDeploymentScale({ name: 'dep-web-1', namespace: env.name });
    expect(scale.spec?.replicas).toBe(1);
    const left = await until('one replica left', async () => {
      const l = await driver.revisions.list({ [LABEL.deployment]: 'dep-web-1' });
      return l.length === 1 ? l : undefined;
    });
    // The other one, or the replacement the ReplicaSet began for the removed one (1.20 ranks pods
    // that became ready in the same second as equals when it scales down): never the removed one.
    expect(left.map((r) => r.labels[LABEL.replica])).toEqual(['0']);
    expect(left[0]!.id).not.toBe(first!.id);
    const last = left[0]!;
    await driver.revisions.remove(last.id, 2);
    expect(await notFound(apps.readNamespacedDeployment({ name: 'dep-web-1', namespace: env.name }))).toBe(
      true,
    );
    expect(await notFound(core.readNamespacedSecret({ name: 'dep-web-1-env', namespace: env.name }))).toBe(
      true,
    );
    // Nothing replaced the last pod.
    const after = await until('no replica left', async () => {
      const l = await driver.revisions.list({ [LABEL.deployment]: 'dep-web-1' });
      return l.length === 0 ? l : undefined;
    });
    expect(after).toEqual([]);
    // A replica that is gone already: no error.
    await driver.revisions.remove(last.id, 2);
  }, 240_000);

  it('runs a job: its arguments follow the entrypoint, wait gives exit code 7, logs and follow have the output', async () => {
    const jobLabels = { ...labels('report', 'dep-report-1'), [LABEL.execution]: 'exec-1' };
    const run = await driver.jobs.start({
      environment: env,
      name: 'report-exec-1',
      labels: jobLabels,
      image: IMAGE,
      env: { TOKEN: PLANTED },
      files: [
        {
          path: '/app/run.sh',
          content:
            'echo "args: $# [$1] [$2]"; echo "token-length=$(printf %s "$TOKEN" | wc -c | tr -d " ")"; exit 7',
        },
      ],
      args: ['one', 'two words'],
    });
    expect(run.labels).toMatchObject(jobLabels);
    expect(await driver.jobs.wait(run.id)).toBe(7);
    expect(await driver.jobs.wait(run.id)).toBe(7);
    const logs = await driver.jobs.logs(run.id, 10);
    expect(logs).toContain('args: 2 [one] [two words]');
    expect(logs).toContain(`token-length=${PLANTED.length}`);

    const stream = await driver.jobs.follow(run.id);
    let followed = '';
    for await (const chunk of stream as AsyncIterable<Buffer>) followed += chunk.toString();
    expect(followed).toContain('args: 2 [one] [two words]');

    const lines = [];
    for await (const line of driver.observe.logLines!(run.id, {})) lines.push(line);
    expect(lines.map((l) => l.text)).toContain('args: 2 [one] [two words]');
    const ns = lines[0]!.ns;
    expect(typeof ns).toBe('bigint');
    expect(Number(ns / 1_000_000n)).toBeGreaterThan(Date.now() - 10 * 60_000);

    const [listed] = await driver.jobs.list({ [LABEL.execution]: 'exec-1' });
    expect(listed).toMatchObject({ id: run.id, state: 'exited', exitCode: 7 });
    expect((await driver.observe.list({ [LABEL.execution]: 'exec-1' })).map((r) => r.id)).toEqual([run.id]);
    const batch = kc.makeApiClient(BatchV1Api);
    const job = await batch.readNamespacedJob({ name: 'report-exec-1', namespace: env.name });
    expect(job.spec?.backoffLimit).toBe(0);
    expect(job.spec?.template.spec?.restartPolicy).toBe('Never');
    expect(job.spec?.template.spec?.containers[0]?.args).toEqual(['one', 'two words']);
    expect(JSON.stringify(job)).not.toContain(PLANTED);

    await driver.jobs.remove(run.id, 1);
    expect(await notFound(batch.readNamespacedJob({ name: 'report-exec-1', namespace: env.name }))).toBe(
      true,
    );
    await until('the run to go', async () =>
      (await driver.jobs.list({ [LABEL.execution]: 'exec-1' })).length === 0 ? true : undefined,
    );
  });

  it('removes the environment: its namespace goes', async () => {
    await driver.environments.remove(env);
    expect(await driver.environments.list(INSTANCE)).toEqual([]);
    await until('the namespace to go', () => notFound(core.readNamespace({ name: env.name })), 180_000);
    await driver.environments.remove(env);
  }, 240_000);
});
