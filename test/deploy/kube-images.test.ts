import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGatewayImage } from '../../src/builds/bootstrap-images.js';
import { DockerImages } from '../../src/dataplane/docker/docker-images.js';
import type { DataPlaneDriver, EnvironmentInfo, RevisionSpec } from '../../src/dataplane/driver.js';
import { PULL_SECRET } from '../../src/dataplane/kubernetes/images.js';
import { kubernetesDriver } from '../../src/dataplane/kubernetes/kubernetes-driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import { createRepo, type TestRepo } from '../helpers/git.js';
import { buildWebImage, docker, removeImagesLabelled } from '../helpers/images.js';
import {
  gatewayRequest,
  type PlatformTestRondo,
  startPlatformRondo,
  startRegistry,
  waitForBuild,
  waitForDeployment,
} from '../helpers/platform.js';
import {
  removeNodeImage,
  revisionLabels,
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
 * made from the record's credentials, and runs: the pod's `imageID` is the same digest. Through
 * the control plane, a component deployed to a Docker environment and promoted to the cluster's
 * runs that one digest on both.
 */
const INSTANCE = `ki${process.pid}`;
const REF = { instance: INSTANCE, org: 'acme', project: 'shop', environment: 'kimg' };
const NONCE = Math.random().toString(36).slice(2, 10);
const BUSYBOX = execFileSync('sh', ['-c', 'command -v busybox']).toString().trim();
const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
COPY www /www
USER 10014
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
`;
const CGI = `#!/bin/busybox sh
echo "Content-Type: text/plain"
echo ""
echo "greeting=$GREETING"
`;
const DESCRIPTOR = `schemaVersion: 1.2
endpoints:
  - name: site
    service: { basePath: /, port: 8080 }
    type: REST
    networkVisibilities: [Public]
configurations:
  env:
    - name: GREETING
      valueFrom: { configForm: { type: string, required: true } }
`;
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
  /** The site's gateway image (`rondo images bootstrap`), which the promoted component is served through. */
  let gatewayTag = '';
  let gatewayImage = '';
  let env: EnvironmentInfo | undefined;
  const pulled: string[] = [];

  /** Every driver made, stopped at the end (their caches' watches, their pooled connections). */
  const drivers: DataPlaneDriver[] = [];
  const driverWith = (credentials: boolean): DataPlaneDriver => {
    const d = kubernetesDriver(
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
    drivers.push(d);
    return d;
  };
  const revision = (deployment: string, image: string): RevisionSpec => ({
    environment: env!,
    labels: revisionLabels(REF, 'web', deployment),
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
    gatewayTag = await buildGatewayImage(new DockerImages(), registry.addr, () => undefined, {
      'rondo.test': NONCE,
    });
    gatewayImage = `${registry.addr}/rondo/gateway@${await new DockerImages().push(gatewayTag)}`;
  }, 900_000);

  afterAll(async () => {
    if (env) await core?.deleteNamespace({ name: env.name }).catch(() => undefined);
    await Promise.allSettled(drivers.map((d) => d.stop?.()));
    for (const ref of pulled) removeNodeImage(ref);
    await door?.stop();
    registry?.stop();
    for (const t of [tag, gatewayTag].filter(Boolean))
      await docker
        .getImage(t)
        .remove({ force: true })
        .catch(() => undefined);
    if (gatewayImage && cluster) removeNodeImage(gatewayImage.replace(registry!.addr, cluster.registry));
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
    // A replica not ready is still counted by the index `list` gives it (the reconciler counts by it).
    expect(reading.replica?.labels[LABEL.replica]).toBe('0');
    expect((await driver.revisions.inspect(replica!.id))?.labels[LABEL.replica]).toBe('0');
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
    // Off the node again: the promotion below pulls it anew, with the control plane's Secret.
    removeNodeImage(image);
  }, 180_000);

  describe('through the control plane', () => {
    let t: PlatformTestRondo | undefined;
    let repo: TestRepo;
    const COMPONENT = '/api/v1/orgs/default/projects/shop/components/web';
    const config = (environment: string, value: string) =>
      t!.call('PATCH', `${COMPONENT}/config`, { body: { environment, set: [{ key: 'GREETING', value }] } });
    /** The component's answer at an environment's public URL, through that environment's gateway. */
    const answerOf = async (environment: string, address?: string) => {
      const status = await t!.call('GET', `${COMPONENT}/status`);
      const item = status.body.items.find((e: { environment: string }) => e.environment === environment);
      const url = new URL(item.urls.find((u: { visibility: string }) => u.visibility === 'Public').url);
      expect(url.hostname).toBe(`${environment}.localhost`);
      const path = `${url.pathname.replace(/\/$/, '')}/cgi-bin/env`;
      return gatewayRequest(t!.publicPort, url.host, path, address ? { address } : {});
    };

    beforeAll(async () => {
      t = await startPlatformRondo(
        'pglite',
        {},
        { registry: registry!.addr, baseImages: { gateway: { '1': gatewayImage } } },
      );
      repo = createRepo(join(dir, 'repo'));
      mkdirSync(join(dir, 'repo', 'web', 'www', 'cgi-bin'), { recursive: true });
      copyFileSync(BUSYBOX, join(dir, 'repo', 'web', 'busybox'));
      repo.commit({
        'web/Dockerfile': DOCKERFILE,
        'web/www/index.html': `kube image ${NONCE}`,
        'web/www/cgi-bin/env': CGI,
        'web/.rondo/component.yaml': DESCRIPTOR,
      });
      chmodSync(join(dir, 'repo', 'web', 'www', 'cgi-bin', 'env'), 0o755);
      repo.commit({}, 'make the CGI script executable');
      const lab = await t.call('POST', '/api/v1/orgs/default/dataplanes', {
        body: {
          name: 'lab',
          type: 'kubernetes',
          config: {
            kubeconfig: cluster!.kubeconfig,
            registry: { address: cluster!.registry, username: PULLER.name, password: PULLER.password },
          },
        },
      });
      expect(lab.status, JSON.stringify(lab.body)).toBe(201);
      for (const body of [{ name: 'kdev' }, { name: 'kprod', dataPlane: 'lab' }])
        expect((await t.call('POST', '/api/v1/orgs/default/environments', { body })).status).toBe(201);
      await t.call('POST', '/api/v1/orgs/default/pipelines', {
        body: { name: 'kpipe', environments: ['kdev', 'kprod'] },
      });
      await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop', pipeline: 'kpipe' } });
      const component = await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
        body: {
          name: 'web',
          type: 'service',
          source: { repoUrl: `file://${repo.path}`, branch: 'main', path: 'web' },
          buildPreset: 'dockerfile',
          buildConfigs: { dockerFilePath: 'Dockerfile' },
        },
      });
      expect(component.status, JSON.stringify(component.body)).toBe(201);
    }, 120_000);

    afterAll(async () => {
      const instance = t?.instance;
      await t?.rondo.buildQueue?.idle();
      await t?.close();
      if (instance) {
        const { items } = await core.listNamespace({ labelSelector: `${LABEL.instance}=${instance}` });
        for (const ns of items)
          await core.deleteNamespace({ name: ns.metadata!.name! }).catch(() => undefined);
        await removeImagesLabelled(`rondo.built-by=${instance}`);
      }
    }, 120_000);

    it('builds from Git once, deploys to a Docker environment, promotes to a Kubernetes one: the same digest, each with its configuration, through its gateway', async () => {
      const res = await t!.call('POST', `${COMPONENT}/builds`, { body: {} });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const build = await waitForBuild(t!, res.body.build.id);
      expect(build.status, JSON.stringify(build)).toBe('succeeded');
      const image = build.image as string;
      expect(image).toMatch(new RegExp(`^${registry!.addr}/.+@sha256:[0-9a-f]{64}$`));
      expect((await config('kdev', 'hello kdev')).status).toBe(200);
      expect((await config('kprod', 'hello kprod')).status).toBe(200);

      const dev = await t!.call('POST', `${COMPONENT}/deployments`, {
        body: { environment: 'kdev', buildId: build.id },
      });
      expect(dev.status, JSON.stringify(dev.body)).toBe(202);
      const devSettled = await waitForDeployment(t!, 'default', dev.body.id, 90_000);
      expect(devSettled, JSON.stringify(devSettled)).toMatchObject({ status: 'active' });
      const onDev = await answerOf('kdev');
      expect(onDev.status).toBe(200);
      expect(onDev.body).toContain('greeting=hello kdev');

      const promoted = await t!.call('POST', `${COMPONENT}/promotions`, { body: {} });
      expect(promoted.status, JSON.stringify(promoted.body)).toBe(202);
      const prod = promoted.body.deployment;
      expect(prod.environment).toBe('kprod');
      const settled = await waitForDeployment(t!, 'default', prod.id, 240_000);
      expect(settled, JSON.stringify(settled)).toMatchObject({ status: 'active' });

      // One build, one release, one image reference: the build's digest in the platform registry.
      const list = (await t!.call('GET', `${COMPONENT}/deployments`)).body.items as {
        id: string;
        image: string;
        release: string;
      }[];
      const [onKube, onDocker] = [prod.id, dev.body.id].map((id) => list.find((d) => d.id === id));
      expect(onDocker?.image).toBe(image);
      expect(onKube?.image).toBe(image);
      expect(onKube?.release).toBe(onDocker?.release);
      const builds = (await t!.call('GET', `${COMPONENT}/builds`)).body.items as unknown[];
      expect(builds.length).toBe(1);

      // Docker runs the image the engine knows by that digest.
      const containers = await docker.listContainers({
        filters: { label: [`${LABEL.deployment}=${dev.body.id}`] },
      });
      expect(containers.length).toBe(1);
      const running = await docker.getImage(containers[0]!.ImageID).inspect();
      expect(running.RepoDigests).toContain(image);

      // The cluster pulled the same digest from its own address, with the record's credentials.
      const pods = await core.listPodForAllNamespaces({ labelSelector: `${LABEL.deployment}=${prod.id}` });
      expect(pods.items.length).toBe(1);
      expect(pods.items[0]?.spec?.imagePullSecrets).toEqual([{ name: PULL_SECRET }]);
      // Active means ready: the container runs (a rollout never goes active on a pod still being created).
      const pulledImage = image.replace(registry!.addr, cluster!.registry);
      pulled.push(pulledImage);
      expect(pods.items[0]?.status?.containerStatuses?.[0]?.imageID).toBe(pulledImage);

      // Production answers at its own URL through the gateway inside the cluster (a node's public
      // port), with production's configuration; development still with its own.
      const onProd = await answerOf('kprod', '10.201.0.2');
      expect(onProd.status).toBe(200);
      expect(onProd.body).toContain('greeting=hello kprod');
      expect(onProd.headers['x-rondo-outcome']).toBe('BACKEND_RESPONSE');
      expect((await answerOf('kdev')).body).toContain('greeting=hello kdev');
    }, 400_000);
  });
});
