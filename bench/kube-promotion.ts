/**
 * G6 speed: promotion into the Kubernetes environment → first 200, against the floor of
 * `kubectl apply` of the same Deployment + waiting for its pod's first 200, in the same run:
 * ≤ 1.3×.
 *
 * Set-up: the test cluster, a platform registry and its read-only door at the address the node
 * pulls from (as kube-images.test.ts), a control plane with the cluster registered, a pipeline
 * `kdev` (Docker) → `kprod` (the cluster), and a component whose image (busybox httpd with a CGI
 * that echoes `$MARK`) is deployed to `kdev`. Each round, interleaved:
 *  - floor: `kubectl apply -f` of a copy of the Deployment (and its env Secret) Rondo applied in
 *    the warm-up round (same image by digest, same probes, same env by reference; Rondo's labels
 *    replaced), with this round's MARK, then polling until the pod answers 200 with it;
 *  - Rondo: `config set` MARK on kprod (not timed), then the promote request → first 200 with the
 *    new MARK, and → the deployment `active` (readiness passed, traffic switched).
 * Rondo's first 200 is read through kprod's gateway inside the cluster (the site's gateway image,
 * built and pushed as `rondo images bootstrap` does, on the node's public port), at kprod's URL;
 * the floor's from its pod straight (the host routes the pod network): the floor has no gateway
 * to switch. `RONDO_BENCH_KUBE_STRAIGHT=1` reads Rondo's from its pod too (the earlier figures).
 * The first round pulls the image onto the node and creates the namespaces: not counted.
 * `RONDO_BENCH_ROUNDS` (default 8, first excluded).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, CoreV1Api, type V1Deployment, type V1Secret } from '@kubernetes/client-node';
import { buildGatewayImage } from '../src/builds/bootstrap-images.js';
import { DockerImages } from '../src/dataplane/docker/docker-images.js';
import { isNotFound } from '../src/dataplane/kubernetes/cluster.js';
import { LABEL } from '../src/dataplane/labels.js';
import {
  removeNodeImage,
  serveToCluster,
  startTestCluster,
  until,
} from '../test/deploy/kube-cluster-helpers.js';
import { removeImages } from '../test/helpers/images.js';
import { startPlatformRondo, startRegistry, waitForDeployment } from '../test/helpers/platform.js';
import { pushToRegistry } from './data-plane.js';
import { kubeConfigOf, kubectlPath, median } from './kube-common.js';
import { buildMarkImage } from './releases.js';

const ROUNDS = Number(process.env.RONDO_BENCH_ROUNDS ?? 8);
const FLOOR_NS = 'rondo-bench-floor';
const PATH = '/cgi-bin/mark';
/** The test cluster's node: its public port is the gateway's. */
const NODE = '10.201.0.2';

/** GET http://ip:port/path; the body when 200, else ''. */
function body(url: string, host?: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      url,
      // The CGI's headers end in a bare LF, which busybox httpd passes on and Node's strict
      // parser refuses (a gateway in between rewrites them): read leniently, on both sides.
      { agent: false, timeout: 1000, insecureHTTPParser: true, ...(host ? { headers: { host } } : {}) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(res.statusCode === 200 ? text.trim() : ''));
      },
    );
    req.on('error', () => resolve(''));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function benchKubePromotion(): Promise<void> {
  const cluster = startTestCluster();
  const kc = kubeConfigOf(cluster.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const kubectl = kubectlPath();
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-kprom-'));
  const registry = await startRegistry(dir);
  const door = await serveToCluster(join(dir, 'registry'), cluster.registry);
  const gatewayTag = await buildGatewayImage(new DockerImages(), registry.addr, () => undefined, {
    'rondo.bench': 'kube-promotion',
  });
  const gatewayImage = `${registry.addr}/rondo/gateway@${await new DockerImages().push(gatewayTag)}`;
  const t = await startPlatformRondo(
    'pglite',
    { drainMs: 0 },
    { registry: registry.addr, baseImages: { gateway: { '1': gatewayImage } } },
  );
  const base = '/api/v1/orgs/default/projects/kpromo/components/web';
  const call = async (method: string, url: string, b?: unknown) => {
    const res = await t.call(method, url, b === undefined ? {} : { body: b });
    if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  /** The pod IP of the (first running, not terminating) pod matching `labelSelector`. */
  const podIp = async (namespace: string | undefined, labelSelector: string) => {
    const { items } = namespace
      ? await core.listNamespacedPod({ namespace, labelSelector })
      : await core.listPodForAllNamespaces({ labelSelector });
    return items.find((p) => !p.metadata?.deletionTimestamp && p.status?.podIP)?.status?.podIP;
  };
  /** Polls the pod's address (from the API) and then the pod until it answers `want`. */
  const untilPodAnswers = async (namespace: string | undefined, labelSelector: string, want: string) => {
    let ip: string | undefined;
    const end = Date.now() + 300_000;
    for (;;) {
      if (Date.now() > end) throw new Error(`no answer ${want} from ${labelSelector} in 5 min`);
      ip ??= await podIp(namespace, labelSelector);
      if (ip && (await body(`http://${ip}:8080${PATH}`)) === want) return;
      await sleep(10);
    }
  };
  // The one place where Rondo's first 200 is read: kprod's gateway in the cluster (at kdev's URL
  // path, on kprod's host), or with RONDO_BENCH_KUBE_STRAIGHT=1 the pod straight.
  const straight = process.env.RONDO_BENCH_KUBE_STRAIGHT === '1';
  let prodUrl = '';
  const TARGET = straight ? 'the pod straight' : `kprod's gateway in the cluster (${NODE}:${t.publicPort})`;
  const untilRondoAnswers = async (deploymentId: string, want: string) => {
    if (straight) return untilPodAnswers(undefined, `${LABEL.deployment}=${deploymentId}`, want);
    const end = Date.now() + 300_000;
    while ((await body(prodUrl, `kprod.localhost:${t.publicPort}`)) !== want) {
      if (Date.now() > end) throw new Error(`no answer ${want} through ${prodUrl} in 5 min`);
      await sleep(10);
    }
  };

  try {
    await buildMarkImage('rondo-bench-mark:1');
    const image = `${registry.addr}/bench/mark:1`;
    await pushToRegistry('rondo-bench-mark:1', image);
    await call('POST', '/api/v1/orgs/default/dataplanes', {
      name: 'lab',
      type: 'kubernetes',
      config: { kubeconfig: cluster.kubeconfig, registry: { address: cluster.registry } },
    });
    for (const b of [{ name: 'kdev' }, { name: 'kprod', dataPlane: 'lab' }])
      await call('POST', '/api/v1/orgs/default/environments', b);
    await call('POST', '/api/v1/orgs/default/pipelines', { name: 'kpipe', environments: ['kdev', 'kprod'] });
    await call('POST', '/api/v1/orgs/default/projects', { name: 'kpromo', pipeline: 'kpipe' });
    await call('POST', '/api/v1/orgs/default/projects/kpromo/components', {
      name: 'web',
      type: 'service',
      source: { image },
      endpoints: [{ port: 8080 }],
    });
    await call('PATCH', `${base}/config`, { environment: 'kdev', set: [{ key: 'MARK', value: 'dev' }] });
    const dev = await call('POST', `${base}/deployments`, { environment: 'kdev' });
    const devDone = await waitForDeployment(t, 'default', dev.id, 120_000);
    if (devDone.status !== 'active') throw new Error(`kdev: ${JSON.stringify(devDone)}`);
    const status = await call('GET', `${base}/status`);
    const devUrl = new URL(
      status.items.find((e: { environment: string }) => e.environment === 'kdev').urls[0].url as string,
    );
    prodUrl = `http://${NODE}:${t.publicPort}${devUrl.pathname.replace(/\/$/, '')}${PATH}`;
    // An earlier run's floor namespace may still be terminating.
    await until('an earlier floor namespace gone', async () =>
      core.readNamespace({ name: FLOOR_NS }).then(
        () => undefined,
        (err: unknown) => (isNotFound(err) ? true : undefined),
      ),
    );
    await core.createNamespace({
      body: { metadata: { name: FLOOR_NS, labels: { 'rondo.bench': 'floor' } } },
    });
    await until('the floor namespace’s default service account', async () =>
      core
        .readNamespacedServiceAccount({ name: 'default', namespace: FLOOR_NS })
        .then(() => true)
        .catch(() => undefined),
    );

    const rondo = async (i: number) => {
      const mark = `prod-${i}`;
      await call('PATCH', `${base}/config`, { environment: 'kprod', set: [{ key: 'MARK', value: mark }] });
      const t0 = performance.now();
      const promoted = await call('POST', `${base}/promotions`, {});
      const id = promoted.deployment.id as string;
      await untilRondoAnswers(id, mark);
      const first = performance.now() - t0;
      const done = await waitForDeployment(t, 'default', id, 300_000);
      const active = performance.now() - t0;
      if (done.status !== 'active') throw new Error(`promotion ${i}: ${JSON.stringify(done)}`);
      return { first, active, id };
    };

    // The floor's manifest: Rondo's own Deployment and Secret of the warm-up round, renamed.
    let template: { deployment: V1Deployment; secret: V1Secret } | undefined;
    const floor = async (i: number) => {
      if (!template) throw new Error('no template');
      const name = `floor-${i}`;
      const mark = `floor-${i}`;
      const d = structuredClone(template.deployment);
      const podLabels = { app: name };
      const spec = d.spec!;
      spec.selector = { matchLabels: podLabels };
      spec.template.metadata = { labels: podLabels };
      for (const c of spec.template.spec!.containers)
        for (const e of c.env ?? [])
          if (e.valueFrom?.secretKeyRef) e.valueFrom.secretKeyRef.name = `${name}-env`;
      for (const v of spec.template.spec!.volumes ?? []) if (v.secret) v.secret.secretName = `${name}-env`;
      const envNames = spec.template.spec!.containers[0]?.env ?? [];
      const markKey = envNames.find((e) => e.name === 'MARK')?.valueFrom?.secretKeyRef?.key ?? 'env-0';
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `${name}-env`, namespace: FLOOR_NS },
        type: 'Opaque',
        data: { ...template.secret.data, [markKey]: Buffer.from(mark).toString('base64') },
      };
      const deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: FLOOR_NS },
        spec,
      };
      const file = join(dir, `${name}.json`);
      writeFileSync(
        file,
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [secret, deployment] }, null, 1),
      );
      const t0 = performance.now();
      execFileSync(kubectl, ['--kubeconfig', cluster.kubeconfigPath, 'apply', '-f', file], {
        stdio: 'ignore',
      });
      await untilPodAnswers(FLOOR_NS, `app=${name}`, mark);
      const ms = performance.now() - t0;
      await apps.deleteNamespacedDeployment({ name, namespace: FLOOR_NS }).catch(() => undefined);
      await core.deleteNamespacedSecret({ name: `${name}-env`, namespace: FLOOR_NS }).catch(() => undefined);
      return ms;
    };

    console.log(`Rondo's first 200 read from: ${TARGET}; the floor's from its pod`);
    const rows: { floor: number; first: number; active: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      let f: number;
      let r: Awaited<ReturnType<typeof rondo>>;
      if (i === 0) {
        r = await rondo(i);
        const { items } = await apps.listDeploymentForAllNamespaces({
          labelSelector: `${LABEL.deployment}=${r.id}`,
        });
        const d = items[0];
        if (!d) throw new Error('no Deployment of the promotion');
        const secretName = d.spec?.template.spec?.containers[0]?.env?.[0]?.valueFrom?.secretKeyRef?.name;
        const secret = await core.readNamespacedSecret({
          name: secretName ?? '',
          namespace: d.metadata?.namespace ?? '',
        });
        template = { deployment: d, secret };
        f = await floor(i);
      } else if (i % 2 === 1) {
        f = await floor(i);
        r = await rondo(i);
      } else {
        r = await rondo(i);
        f = await floor(i);
      }
      const row = { floor: f, first: r.first, active: r.active };
      console.log(
        `round ${i}${i === 0 ? ' (warm-up, not counted)' : ''}: floor ${f.toFixed(0)} ms, Rondo first 200 ${r.first.toFixed(0)} ms (${(r.first / f).toFixed(2)}×), active ${r.active.toFixed(0)} ms (${(r.active / f).toFixed(2)}×)`,
      );
      if (i > 0) rows.push(row);
      // The previous deployment's pod goes before the next round measures.
      await sleep(3000);
    }
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
    const fl = rows.map((r) => r.floor);
    const fi = rows.map((r) => r.first);
    const ac = rows.map((r) => r.active);
    const ratios = rows.map((r) => r.first / r.floor);
    console.log(`\n${rows.length} rounds                                   median     range`);
    console.log(
      `floor: kubectl apply → pod's first 200         ${median(fl).toFixed(0).padStart(6)} ms  ${range(fl)} ms`,
    );
    console.log(
      `Rondo: promote → first 200                     ${median(fi).toFixed(0).padStart(6)} ms  ${range(fi)} ms`,
    );
    console.log(
      `Rondo: promote → deployment active             ${median(ac).toFixed(0).padStart(6)} ms  ${range(ac)} ms`,
    );
    console.log(
      `ratio per round (first 200 / floor)            median ${median(ratios).toFixed(2)}×, range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}× (target ≤ 1.3×)`,
    );
    console.log(`ratio of medians                               ${(median(fi) / median(fl)).toFixed(2)}×`);
  } finally {
    const instance = t.instance;
    await t.close().catch((err: unknown) => console.log(`closing the control plane: ${err}`));
    const { items } = await core.listNamespace({ labelSelector: `${LABEL.instance}=${instance}` });
    for (const ns of items)
      await core.deleteNamespace({ name: ns.metadata?.name ?? '' }).catch(() => undefined);
    await core.deleteNamespace({ name: FLOOR_NS }).catch(() => undefined);
    await door.stop();
    registry.stop();
    await removeImages('rondo-bench-mark:1', `${registry.addr}/bench/mark:1`, gatewayTag);
    removeNodeImage(gatewayImage.replace(registry.addr, cluster.registry));
    rmSync(dir, { recursive: true, force: true });
    cluster.stop();
  }
}
