import { type AddressInfo, createServer } from 'node:net';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  DataPlaneDriver,
  EnvironmentInfo,
  LogLine,
  ReplicaExit,
  RevisionSpec,
} from '../../src/dataplane/driver.js';
import { kubernetesDriver } from '../../src/dataplane/kubernetes/kubernetes-driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import { loadBusyboxImage, startTestCluster, type TestCluster, until } from './kube-cluster-helpers.js';

/**
 * What the Kubernetes driver observes for G3 (G6 item 5), against the real test cluster: each
 * container stop once with its code (an OOM kill as 137), resource readings through the node
 * proxy, and when the credentials may not use it, the metrics API's refusal named; pods' output
 * line by line; the cluster's status (reachable, version, capacity, or why not).
 */
const IMAGE = 'localhost/rondo-observe:test';
const INSTANCE = `ko${process.pid}`;
const REF = { instance: INSTANCE, org: 'acme', project: 'shop', environment: 'obs' };
const SA = `rondo-observe-${process.pid}`;

const SERVE = [
  'echo "serving"',
  'echo "second line"',
  'mkdir -p /tmp/www && echo ok > /tmp/www/index.html',
  'exec /bin/busybox httpd -f -p 8080 -h /tmp/www',
].join('\n');
/** Allocates 64 MiB at once (dd's block buffer) under a 16 MiB limit: the kernel kills it. */
const HOG = 'echo hogging; /bin/busybox dd if=/dev/zero of=/dev/null bs=64M count=4';

describe('Kubernetes observed state (real cluster)', () => {
  let cluster: TestCluster | undefined;
  let driver: DataPlaneDriver;
  let env: EnvironmentInfo;
  const kc = new KubeConfig();
  let core: CoreV1Api;
  const watch = new AbortController();
  const exits: ReplicaExit[] = [];

  const labels = (component: string, deployment: string) => ({
    [LABEL.instance]: INSTANCE,
    [LABEL.managed]: 'true',
    [LABEL.org]: REF.org,
    [LABEL.project]: REF.project,
    [LABEL.environment]: REF.environment,
    [LABEL.component]: component,
    [LABEL.deployment]: deployment,
  });
  const revision = (deployment: string, script: string, over: Partial<RevisionSpec> = {}): RevisionSpec => ({
    environment: env,
    labels: labels(deployment.split('-')[0] ?? deployment, deployment),
    name: deployment,
    image: IMAGE,
    replicas: 1,
    env: {},
    files: [{ path: '/app/run.sh', content: script }],
    ports: [],
    names: [],
    ...over,
  });
  const exitsOf = (deployment: string) => exits.filter((e) => e.labels[LABEL.deployment] === deployment);

  beforeAll(async () => {
    cluster = startTestCluster();
    loadBusyboxImage(IMAGE, ['/bin/busybox', 'sh', '/app/run.sh']);
    kc.loadFromString(cluster.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    driver = kubernetesDriver({
      id: 'kube-observe',
      type: 'kubernetes',
      config: { kubeconfig: cluster.kubeconfig },
    });
    env = await driver.environments.ensure(REF);
    // The watch runs for the whole file, as the control plane's does.
    void (async () => {
      for await (const e of driver.observe.exits!({ [LABEL.instance]: INSTANCE }, watch.signal))
        exits.push(e);
    })().catch(() => undefined);
  }, 900_000);

  afterAll(async () => {
    watch.abort();
    if (env) await core?.deleteNamespace({ name: env.name }).catch(() => undefined);
    await driver?.stop?.();
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.deleteClusterRoleBinding({ name: SA }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: SA }).catch(() => undefined);
    cluster?.stop();
  }, 120_000);

  it('reports a run that exits once, with its code', async () => {
    const run = await driver.jobs.start({
      environment: env,
      name: 'run-exit-7',
      labels: { ...labels('job', 'dep-job'), [LABEL.execution]: 'exec-7' },
      image: IMAGE,
      env: {},
      files: [{ path: '/app/run.sh', content: 'echo done; exit 7' }],
      args: [],
    });
    expect(await driver.jobs.wait(run.id)).toBe(7);
    await until(
      'the run’s exit',
      async () => (exits.some((e) => e.id === run.id) ? true : undefined),
      30_000,
    );
    // The Job controller and the kubelet write the pod again after the stop: still reported once.
    await new Promise((r) => setTimeout(r, 3000));
    const mine = exits.filter((e) => e.id === run.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ exitCode: 7, oomKilled: false, reason: 'Error' });
    expect(mine[0]?.labels).toMatchObject({ [LABEL.execution]: 'exec-7', [LABEL.instance]: INSTANCE });
  });

  it('reports each crash of a restarting replica once, with its code and replica index', async () => {
    const [replica] = await driver.revisions.start(revision('crash-1', 'echo "giving up"; exit 3'), [0]);
    await until('two crashes', async () => (exitsOf('crash-1').length >= 2 ? true : undefined), 90_000);
    const pod = await core.readNamespacedPod({ name: replica!.name, namespace: env.name });
    const c = pod.status?.containerStatuses?.[0];
    const runsEnded = (c?.restartCount ?? 0) + (c?.state?.terminated ? 1 : 0);
    const mine = exitsOf('crash-1');
    // One report per ended run, never more.
    expect(mine.length).toBeLessThanOrEqual(runsEnded);
    for (const e of mine) {
      expect(e).toMatchObject({ id: replica!.id, exitCode: 3, oomKilled: false });
      expect(e.labels[LABEL.replica]).toBe('0');
    }
    await driver.revisions.remove(replica!.id, 0);
  });

  it('reports an OOM-killed container as exit 137 with the OOM flag', async () => {
    const [replica] = await driver.revisions.start(
      revision('oom-1', HOG, { resources: { memoryMiB: 16, cpuMillicores: 500 } }),
      [0],
    );
    const oom = await until('the OOM kill', async () => exitsOf('oom-1').find((e) => e.oomKilled), 90_000);
    expect(oom).toMatchObject({ id: replica!.id, exitCode: 137, reason: 'OOMKilled' });
    expect(oom.labels).toMatchObject({ [LABEL.deployment]: 'oom-1', [LABEL.replica]: '0' });
    await driver.revisions.remove(replica!.id, 0);
  });

  let web = '';

  it('reads a running replica’s CPU counter and memory through the node proxy, and its output line by line', async () => {
    const [replica] = await driver.revisions.start(
      revision('web-1', SERVE, { ports: [8080], readiness: { kind: 'tcp', port: 8080 } }),
      [0],
    );
    web = replica!.id;
    await until('ready', async () =>
      (await driver.revisions.probe(web, undefined)).failure ? undefined : true,
    );
    // The kubelet reads a new container's stats at its next housekeeping (up to ~15 s).
    const stats = await until(
      'a reading',
      async () => (await driver.observe.stats!({ [LABEL.instance]: INSTANCE })).find((s) => s.id === web),
      60_000,
    );
    expect(stats.labels).toMatchObject({ [LABEL.deployment]: 'web-1', [LABEL.replica]: '0' });
    expect(stats.cpuSeconds).toBeGreaterThan(0);
    expect(stats.cpuMillicores).toBeUndefined();
    expect(stats.memoryBytes).toBeGreaterThan(100 * 1024);
    expect(stats.memoryBytes).toBeLessThan(64 * 2 ** 20);
    expect(stats).toMatchObject({ restarts: 0, oomKilled: false });

    const lines: LogLine[] = [];
    const stop = new AbortController();
    for await (const line of driver.observe.logLines!(web, { signal: stop.signal })) {
      lines.push(line);
      if (lines.length === 2) stop.abort();
    }
    expect(lines.map((l) => l.text)).toEqual(['serving', 'second line']);
    expect(lines[0]!.ns).toBeGreaterThan(BigInt(Date.now() - 120_000) * 1_000_000n);
    expect(lines[1]!.ns).toBeGreaterThanOrEqual(lines[0]!.ns);
    // From a mark on: only what came after it.
    const after: LogLine[] = [];
    const again = new AbortController();
    setTimeout(() => again.abort(), 2000);
    for await (const line of driver.observe.logLines!(web, {
      sinceNs: lines[1]!.ns + 1n,
      signal: again.signal,
    }))
      after.push(line);
    expect(after).toEqual([]);
  });

  it('says the cluster is reachable, its version and its nodes’ capacity', async () => {
    const s = await driver.status(4000);
    expect(s).toMatchObject({ reachable: true, version: 'Kubernetes v1.20.2' });
    expect(s.reason).toBeUndefined();
    expect(s.capacity?.nodes).toBe(1);
    expect(s.capacity?.cpus).toBeGreaterThan(0);
    expect(s.capacity?.memoryBytes).toBeGreaterThan(2 ** 30);
  });

  it('says why a cluster is unreachable, quickly: nothing listening, no answer at all, refused credentials', async () => {
    const at = (server: string) =>
      kubernetesDriver({
        id: 'away',
        type: 'kubernetes',
        config: { kubeconfig: cluster!.kubeconfig.replace(/server: \S+/, `server: ${server}`) },
      });
    const refused = await at('https://127.0.0.1:1').status(4000);
    expect(refused.reachable).toBe(false);
    expect(refused.reason).toMatch(/https:\/\/127\.0\.0\.1:1 does not answer \(.*ECONNREFUSED/);

    // A server that takes the connection and never says a word: only the deadline ends the wait.
    const mute = createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => mute.once('listening', r));
    const silent = await at(`https://127.0.0.1:${(mute.address() as AddressInfo).port}`).status(1500);
    mute.close();
    expect(silent).toMatchObject({ reachable: false });
    expect(silent.reason).toMatch(/does not answer \(no answer in 1\.5 s\)/);

    const token = /token: (\S+)/.exec(cluster!.kubeconfig)?.[1] ?? '';
    const wrong = kubernetesDriver({
      id: 'wrong',
      type: 'kubernetes',
      config: { kubeconfig: cluster!.kubeconfig.replace(token, 'not-a-token') },
    });
    const s = await wrong.status(4000);
    expect(s.reachable).toBe(false);
    expect(s.reason).toMatch(/refused the kubeconfig's credentials \(401/);
    expect(JSON.stringify(s)).not.toContain(token);
  });

  it('with credentials that may list pods but not use the node proxy: stats name both refusals, status lacks capacity', async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: env.name, body: { metadata: { name: SA } } });
    await rbac.createClusterRole({
      body: {
        metadata: { name: SA },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: SA },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: SA },
        subjects: [{ kind: 'ServiceAccount', name: SA, namespace: env.name }],
      },
    });
    // Kubernetes 1.20 makes a token Secret for every ServiceAccount.
    const secret = await until('the service account’s token', async () => {
      const sa = await core.readNamespacedServiceAccount({ name: SA, namespace: env.name });
      const name = sa.secrets?.[0]?.name;
      return name
        ? ((await core.readNamespacedSecret({ name, namespace: env.name })) as V1Secret)
        : undefined;
    });
    const saToken = Buffer.from(secret.data?.token ?? '', 'base64').toString();
    const token = /token: (\S+)/.exec(cluster!.kubeconfig)?.[1] ?? '';
    const limited = kubernetesDriver({
      id: 'limited',
      type: 'kubernetes',
      config: { kubeconfig: cluster!.kubeconfig.replace(token, saToken) },
    });
    const err = await until('RBAC to settle', async () =>
      limited.observe.stats!({ [LABEL.instance]: INSTANCE }).then(
        () => undefined,
        (e: unknown) => e as Error,
      ),
    );
    expect(err.message).toMatch(
      /the kubelet's summary through the node proxy failed \(403: nodes "[^"]+" is forbidden/,
    );
    expect(err.message).toMatch(/the metrics API failed \((403|404): /);
    expect(err.message).toMatch(/let the credentials get nodes\/proxy, or install metrics-server/);
    expect(err.message).not.toContain(saToken);

    const s = await limited.status(4000);
    expect(s).toMatchObject({ reachable: true, version: 'Kubernetes v1.20.2' });
    expect(s.capacity).toBeUndefined();
    expect(s.reason).toMatch(/capacity unknown: listing the nodes failed \(403: nodes is forbidden/);
  });

  it('reports no exit of a replica that keeps running', () => {
    expect(web).not.toBe('');
    expect(exits.filter((e) => e.id === web)).toEqual([]);
  });
});
