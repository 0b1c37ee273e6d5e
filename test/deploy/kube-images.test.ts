import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerImages } from '../../src/dataplane/docker/docker-images.js';
import type { DataPlaneDriver, EnvironmentInfo, RevisionSpec } from '../../src/dataplane/driver.js';
import { PULL_SECRET } from '../../src/dataplane/kubernetes/images.js';
import { kubernetesDriver } from '../../src/dataplane/kubernetes/kubernetes-driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import { buildWebImage, docker } from '../helpers/images.js';
import { startRegistry } from '../helpers/platform.js';
import {
  removeNodeImage,
  serveToCluster,
  startTestCluster,
  type TestCluster,
  until,
} from './kube-cluster-helpers.js';

/**
 * G6 item 4 on the real cluster and a real registry: an image pushed to the platform registry as
 * a build pushes it (loopback, where no node reaches) is pinned by the Kubernetes driver to its
 * digest at the address the cluster pulls from (the registry's read-only door on the host's side
 * of the veth pair, asking for credentials), pulled by the node with the pull Secret the driver
 * made from the record's credentials, and runs: the pod's `imageID` is the same digest.
 */
const INSTANCE = `ki${process.pid}`;
const REF = { instance: INSTANCE, org: 'acme', project: 'shop', environment: 'kimg' };
const NONCE = Math.random().toString(36).slice(2, 10);
const PULLER = { name: 'puller', password: `pull-${NONCE}-${Math.random().toString(36).slice(2)}` };

describe('Kubernetes pulls the platform registry’s images by digest', () => {
  let cluster: TestCluster | undefined;
  let registry: Awaited<ReturnType<typeof startRegistry>> | undefined;
  let door: Awaited<ReturnType<typeof serveToCluster>> | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rondo-kube-images-'));
  const kc = new KubeConfig();
  let core: CoreV1Api;
  let tag = '';
  let digest = '';
  let env: EnvironmentInfo | undefined;
  const pulled: string[] = [];

  const driverWith = (credentials: boolean): DataPlaneDriver =>
    kubernetesDriver(
      {
        id: 'kube-images',
        type: 'kubernetes',
        config: {
          kubeconfig: cluster!.kubeconfig,
          registry: {
            address: cluster!.registry,
            ...(credentials ? { username: PULLER.name, password: PULLER.password } : {}),
          },
        },
      },
      { platformRegistry: registry!.addr },
    );
  const revision = (deployment: string, image: string): RevisionSpec => ({
    environment: env!,
    labels: {
      [LABEL.instance]: INSTANCE,
      [LABEL.managed]: 'true',
      [LABEL.org]: REF.org,
      [LABEL.project]: REF.project,
      [LABEL.environment]: REF.environment,
      [LABEL.component]: 'web',
      [LABEL.deployment]: deployment,
    },
    name: `rondo-${INSTANCE}.${deployment}`,
    image,
    replicas: 1,
    env: {},
    files: [],
    ports: [8080],
    readiness: { kind: 'http', port: 8080, path: '/' },
    names: [],
  });
  const podOf = async (deployment: string): Promise<V1Pod | undefined> =>
    (
      await core.listNamespacedPod({
        namespace: env!.name,
        labelSelector: `${LABEL.deployment}=${deployment}`,
      })
    ).items[0];

  beforeAll(async () => {
    cluster = startTestCluster();
    kc.loadFromString(cluster.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    registry = await startRegistry(dir);
    door = await serveToCluster(join(dir, 'registry'), cluster.registry, PULLER);
    // Content of this run only: no node has it cached from an earlier run.
    tag = `${registry.addr}/rondo-test/kube-web:${NONCE}`;
    await buildWebImage(tag, { body: `kube image ${NONCE}` });
    digest = await new DockerImages().push(tag);
  }, 900_000);

  afterAll(async () => {
    if (env) await core?.deleteNamespace({ name: env.name }).catch(() => undefined);
    for (const ref of pulled) removeNodeImage(ref);
    await door?.stop();
    registry?.stop();
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    cluster?.stop();
  }, 120_000);

  it('pins a pushed tag to its digest at the address the cluster pulls from', async () => {
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const driver = driverWith(true);
    const pinned = await driver.revisions.pin(tag);
    expect(pinned).toBe(`${cluster!.registry}/rondo-test/kube-web@${digest}`);
    pulled.push(pinned);
    // A build's reference (by digest) pins to the same.
    expect(await driver.revisions.pin(`${registry!.addr}/rondo-test/kube-web@${digest}`)).toBe(pinned);
    await expect(driver.revisions.pin(`${registry!.addr}/rondo-test/kube-web:gone`)).rejects.toThrow(
      /no such tag in the platform registry/,
    );
  });

  it('without the pull credentials the node is refused, and the replica says why', async () => {
    const driver = driverWith(false);
    env = await driver.environments.ensure(REF);
    const image = await driver.revisions.pin(tag);
    const [replica] = await driver.revisions.start(revision('dpl-nocreds', image), [0]);
    expect(replica).toBeDefined();
    const reading = await until('the pull to be refused', async () => {
      const r = await driver.revisions.probe(replica!.id, undefined);
      return /ErrImagePull|ImagePullBackOff|unauthorized|401/.test(r.failure ?? '') ? r : undefined;
    });
    expect(reading.failure).toMatch(/ErrImagePull|ImagePullBackOff|unauthorized|401/);
    expect((await podOf('dpl-nocreds'))?.spec?.imagePullSecrets).toBeUndefined();
    await driver.revisions.remove(replica!.id, 1);
  }, 180_000);

  it('with them the node pulls the digest, and the pod runs exactly that image', async () => {
    const driver = driverWith(true);
    env = await driver.environments.ensure(REF);
    // The pull Secret is in the namespace, for the registry's address only.
    const secret = await core.readNamespacedSecret({ name: PULL_SECRET, namespace: env.name });
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    const auths = JSON.parse(
      Buffer.from(secret.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8'),
    );
    expect(Object.keys(auths.auths)).toEqual([cluster!.registry]);
    expect(secret.metadata?.labels?.[LABEL.instance]).toBe(INSTANCE);

    const image = await driver.revisions.pin(tag);
    const [replica] = await driver.revisions.start(revision('dpl-digest', image), [0]);
    const ready = await until('the replica to be ready', async () => {
      const r = await driver.revisions.probe(replica!.id, undefined);
      return r.failure === undefined ? r : undefined;
    });
    expect(ready.replica?.state).toBe('running');
    const pod = await podOf('dpl-digest');
    expect(pod?.spec?.imagePullSecrets).toEqual([{ name: PULL_SECRET }]);
    expect(pod?.spec?.containers[0]?.image).toBe(`${cluster!.registry}/rondo-test/kube-web@${digest}`);
    const status = pod?.status?.containerStatuses?.[0];
    expect(status?.imageID).toBe(`${cluster!.registry}/rondo-test/kube-web@${digest}`);
    // It serves this run's content (the pod network is routed from the host).
    const body = await until('the pod to answer', async () =>
      fetch(`http://${pod?.status?.podIP}:8080/`, { signal: AbortSignal.timeout(3000) }).then((r) =>
        r.text(),
      ),
    );
    expect(body.trim()).toBe(`kube image ${NONCE}`);
    await driver.revisions.remove(replica!.id, 1);
  }, 180_000);
});
