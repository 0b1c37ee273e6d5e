import {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  VersionApi,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster, until } from './kube-cluster-helpers.js';

/**
 * The test cluster G6's driver will run against (scripts/kube-test-cluster.sh): a real API
 * server, scheduler, controller manager and kubelet built from Debian's source package. This
 * checks what the driver will rely on, through the client the driver will use: server-side apply
 * with Rondo as field manager, Secrets into env vars, readiness, pod logs, pods reachable from
 * the host, Jobs, and API discovery of CronJob's version.
 */
const NS = `rondo-test-${process.pid}`;
const FIELD_MANAGER = 'rondo';
const PLANTED = `planted-${Math.random().toString(36).slice(2)}`;
const SERVE = [
  'echo "password has $(printf %s "$PASSWORD" | wc -c | tr -d " ") characters"',
  'mkdir /www && echo ok > /www/index.html',
  'exec /bin/busybox httpd -f -p 8080 -h /www',
].join('; ');

describe('Kubernetes test cluster', () => {
  const kc = new KubeConfig();
  let objects: KubernetesObjectApi;
  let core: CoreV1Api;
  let cluster: TestCluster | undefined;

  const apply = (o: KubernetesObject) =>
    objects.patch(o, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);

  beforeAll(() => {
    cluster = startTestCluster();
    kc.loadFromFile(cluster.kubeconfigPath);
    objects = KubernetesObjectApi.makeApiClient(kc);
    core = kc.makeApiClient(CoreV1Api);
  }, 900_000);

  afterAll(async () => {
    await core?.deleteNamespace({ name: NS }).catch(() => undefined);
    cluster?.stop();
  }, 120_000);

  it('is a real API server: Kubernetes v1.20.2', async () => {
    const v = await kc.makeApiClient(VersionApi).getCode();
    expect(v.gitVersion).toBe('v1.20.2');
  });

  it('runs a Deployment applied server-side: Secret into env, readiness, logs, reachable from the host', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS, labels: { 'rondo.test': '1' } },
    });
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'config', namespace: NS },
      stringData: { PASSWORD: PLANTED },
    } as KubernetesObject);
    const labels = { 'rondo.component': 'web' };
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'web',
                image: 'localhost/busybox:rondo',
                imagePullPolicy: 'Never',
                command: ['/bin/busybox', 'sh', '-c'],
                // The shell counts the secret's characters: the log shows it arrived, never the value.
                args: [SERVE],
                ports: [{ containerPort: 8080, protocol: 'TCP' }],
                envFrom: [{ secretRef: { name: 'config' } }],
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    } as KubernetesObject);
    // Service ports always name their protocol: 1.20's server-side apply refuses one without.
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
    } as KubernetesObject);

    const applied = await objects.read({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
    });
    expect(applied.metadata?.managedFields?.map((f) => [f.manager, f.operation])).toContainEqual([
      FIELD_MANAGER,
      'Apply',
    ]);

    const pod = await until('a ready pod', async () => {
      const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'rondo.component=web' });
      return pods.items.find((p) =>
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
    });
    const log = await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: NS });
    expect(log).toContain(`password has ${PLANTED.length} characters`);
    expect(log).not.toContain(PLANTED);
    const res = await fetch(`http://${pod.status!.podIP}:8080/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('runs a Job to completion', async () => {
    await apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'once', namespace: NS },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [
              {
                name: 'once',
                image: 'localhost/busybox:rondo',
                imagePullPolicy: 'Never',
                command: ['/bin/busybox', 'echo', 'hello from a job'],
              },
            ],
          },
        },
      },
    } as KubernetesObject);
    const batch = kc.makeApiClient(BatchV1Api);
    const job = await until('the job to succeed', async () => {
      const j = await batch.readNamespacedJob({ name: 'once', namespace: NS });
      return (j.status?.succeeded ?? 0) > 0 ? j : undefined;
    });
    expect(job.status?.failed ?? 0).toBe(0);
  });

  it('says by discovery which batch version serves CronJob (v1beta1 on 1.20, v1 on current clusters)', async () => {
    const served: string[] = [];
    for (const version of ['v1', 'v1beta1']) {
      const list = (await objects.list(`batch/${version}`, 'CronJob', NS).catch(() => undefined)) as
        | { items: unknown[] }
        | undefined;
      if (list) served.push(version);
    }
    expect(served).toEqual(['v1beta1']);
  });
});
