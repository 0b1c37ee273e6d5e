/**
 * G6 speed: a reconcile of 1,000 components on one cluster with nothing to change, < 5 s and no
 * write call to the API server.
 *
 * Set-up, through the control plane's API on the test cluster (scripts/kube-test-cluster.sh):
 * a `kubernetes` data plane, one environment on it (one namespace), 1,000 components of a tiny
 * image (a static accept-and-close server, loaded into the node, 1 replica, one endpoint: a readiness probe and a
 * Service each), each deployed once by Rondo's driver until active (pods running and ready).
 * Then that control plane's reconciler is stopped and a fresh one, as a restarted control plane
 * has it, measures three passes over the same store and cluster:
 *   1. its first resync pass: every key is new to it, so every key is reconciled once;
 *   2. the next resync pass (steady state);
 *   3. every key enqueued (`enqueueKey`): all the steps, for every key;
 *   4. the same again (the driver's caches warm);
 *   5. every key enqueued by its deployment, as a replica's exit does (`enqueue`): the key's
 *      replicas listed live, since the trigger is news.
 * Each with wall time, this process's CPU, the reads the API server counted (GET and LIST of the
 * resources the driver reads, per key; `readsBetween`), and the write calls
 * (POST/PUT/PATCH/DELETE) the API server received from the admin user (its audit log) and from
 * every client (its `apiserver_request_total`). Everything it created goes at the end.
 *
 * `RONDO_BENCH_KUBE_KEYS` (default 1000) sets the number of components; `RONDO_BENCH_PROFILE=<dir>`
 * writes a CPU profile of the control plane's thread for each pass there.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import pino from 'pino';
import { kubernetesDriver } from '../src/dataplane/kubernetes/kubernetes-driver.js';
import { LABEL } from '../src/dataplane/labels.js';
import { DataPlaneRegistry } from '../src/dataplane/registry.js';
import { GatewaySync } from '../src/deploy/gateway-sync.js';
import { Reconciler } from '../src/deploy/reconciler.js';
import type { Keyring } from '../src/secrets/envelope.js';
import { removeNodeImage, startTestCluster, type TestCluster } from '../test/deploy/kube-cluster-helpers.js';
import { type PlatformTestRondo, startPlatformRondo } from '../test/helpers/platform.js';
import {
  AuditWrites,
  kubeConfigOf,
  readsBetween,
  requestTotals,
  summarize,
  writesBetween,
} from './kube-common.js';

const KEYS = Number(process.env.RONDO_BENCH_KUBE_KEYS ?? 1000);
const IMAGE = 'localhost/rondo-bench-accept:1';
const ENV = 'kbench';
/** Deployments asked for at once while setting up (the kubelet starts pods a few a second). */
const WAVE = 100;
/** How long the set-up may take before the passes run over what is active by then. */
const SETUP_MS = Number(process.env.RONDO_BENCH_KUBE_SETUP_MIN ?? 40) * 60_000;

const elapsed = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(0)} s`;

export async function benchKubeReconcileIdle(): Promise<void> {
  const cluster = startTestCluster();
  const kc = kubeConfigOf(cluster.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const audit = new AuditWrites();
  const { items: nodes } = await core.listNode();
  const capacity = nodes.reduce((n, node) => n + Number(node.status?.capacity?.pods ?? 0), 0);
  if (capacity < KEYS + 10)
    throw new Error(
      `the test cluster takes ${capacity} pods, fewer than ${KEYS} components need: restart it with this checkout's scripts/kube-test-cluster.sh (down, then up, under engine-lock; RONDO_KUBE_MAX_PODS)`,
    );
  loadAcceptImage(IMAGE);
  // Rollouts wait for the kubelet, which starts 1,000 pods in minutes, not seconds.
  const t = await startPlatformRondo(
    'pglite',
    { drainMs: 0, readinessTimeoutMs: 900_000 },
    { resyncMs: 60_000 },
  );
  try {
    // Following 1,000 pods' logs is not what is measured, and would load the API server and the
    // kubelet all along: off from the start.
    await t.rondo.logCollector?.stop();
    await t.rondo.gatewayLogCollector?.stop();
    await setUp(t, cluster, core);
    // The set-up's control plane stops reconciling; its store stays open for the measured one.
    await t.rondo.reconciler?.stop();
    await sleep(3000);
    await measure(t, cluster, audit);
  } finally {
    await t.close().catch(async (err: unknown) => {
      console.log(`closing the control plane: ${err}`);
      await t.gateway.stop().catch(() => undefined);
    });
    await cleanUp(core, t.instance);
    removeNodeImage(IMAGE);
    cluster.stop();
  }
}

/**
 * The replicas' image: a static program that accepts on 8080, answers 200 and closes, in one
 * process. busybox httpd forks for every connection, and 1,000 pods' readiness probes (every
 * second) made 1,000 forks a second: the node's load went past 400 with 200 pods.
 */
function loadAcceptImage(ref: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-accept-'));
  try {
    const root = join(dir, 'root');
    mkdirSync(root);
    writeFileSync(
      join(dir, 'accept.c'),
      `#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET; a.sin_port = htons(8080);
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 128)) return 1;
  static const char r[] = "HTTP/1.0 200 OK\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n";
  for (;;) { int c = accept(s, 0, 0); if (c >= 0) { write(c, r, sizeof r - 1); close(c); } }
}
`,
    );
    execFileSync('gcc', ['-static', '-O2', '-o', join(root, 'accept'), join(dir, 'accept.c')]);
    const tar = join(dir, 'image.tar');
    execFileSync(
      'python3',
      [join(import.meta.dirname, '../scripts/kube-image.py'), '--entrypoint', root, ref, tar, '/accept'],
      { stdio: 'ignore' },
    );
    const sock = join(process.env.RONDO_KUBE_RUN ?? '/var/tmp/rondo-kube', 'run/containerd/containerd.sock');
    execFileSync('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'import', tar], { stdio: 'ignore' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function setUp(t: PlatformTestRondo, cluster: TestCluster, core: CoreV1Api): Promise<void> {
  const call = async (method: string, url: string, body?: unknown) => {
    const res = await t.call(method, url, body === undefined ? {} : { body });
    if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  await call('POST', '/api/v1/orgs/default/dataplanes', {
    name: 'lab',
    type: 'kubernetes',
    config: { kubeconfig: cluster.kubeconfig },
  });
  await call('POST', '/api/v1/orgs/default/environments', { name: ENV, dataPlane: 'lab' });
  await call('POST', '/api/v1/orgs/default/pipelines', { name: 'kbench', environments: [ENV] });
  await call('POST', '/api/v1/orgs/default/projects', { name: 'kb', pipeline: 'kbench' });
  const t0 = performance.now();
  const names = [...Array(KEYS).keys()].map((i) => `svc-${i}`);
  for (let i = 0; i < names.length; i += 20)
    await Promise.all(
      names.slice(i, i + 20).map((name) =>
        call('POST', '/api/v1/orgs/default/projects/kb/components', {
          name,
          type: 'service',
          source: { image: IMAGE },
          endpoints: [{ port: 8080 }],
        }),
      ),
    );
  console.log(`set-up: ${KEYS} components created (${elapsed(t0)})`);
  const db = t.rondo.store.db;
  const counts = async () => {
    const rows = await db
      .selectFrom('deployments')
      .select(['status'])
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])) as Record<string, number>;
  };
  let asked = 0;
  let lastPrint = 0;
  for (;;) {
    const c = await counts();
    const active = c.active ?? 0;
    const failed = c.failed ?? 0;
    if (active + failed >= KEYS) break;
    const late = performance.now() - t0 > SETUP_MS;
    // Past the deadline nothing more is asked for; the rollouts asked for finish (an idle pass
    // over keys still rolling out would count their writes), for 5 min at most.
    if (late && active + failed >= asked) {
      console.log(
        `set-up: stopped after ${SETUP_MS / 60_000} min (RONDO_BENCH_KUBE_SETUP_MIN) with ${active} active; measuring those`,
      );
      break;
    }
    if (performance.now() - t0 > SETUP_MS + 300_000) {
      console.log(`set-up: ${asked - active - failed} rollouts still going 5 min after the deadline`);
      break;
    }
    // A wave at a time: at most WAVE rollouts waiting for the kubelet.
    if (!late && asked - active - failed < WAVE / 2 && asked < KEYS) {
      const next = names.slice(asked, asked + WAVE);
      for (let i = 0; i < next.length; i += 20)
        await Promise.all(
          next.slice(i, i + 20).map((name) =>
            call('POST', `/api/v1/orgs/default/projects/kb/components/${name}/deployments`, {
              environment: ENV,
            }),
          ),
        );
      asked += next.length;
    }
    if (performance.now() - lastPrint > 15_000) {
      lastPrint = performance.now();
      const { items } = await core.listPodForAllNamespaces({
        labelSelector: `${LABEL.instance}=${t.instance}`,
      });
      const ready = items.filter((p) =>
        p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'),
      ).length;
      console.log(
        `set-up: ${asked} deployed, ${active} active, ${failed} failed, ${items.length} pods (${ready} ready) (${elapsed(t0)})`,
      );
    }
    await sleep(1000);
  }
  const c = await counts();
  console.log(`set-up: ${c.active ?? 0} active, ${c.failed ?? 0} failed (${elapsed(t0)})`);
  if ((c.failed ?? 0) > 0) {
    const why = await db
      .selectFrom('deployments')
      .select(['status_reason'])
      .where('status', '=', 'failed')
      .limit(3)
      .execute();
    console.log(`set-up: failures, e.g. ${why.map((w) => w.status_reason).join(' | ')}`);
  }
}

async function measure(t: PlatformTestRondo, cluster: TestCluster, audit: AuditWrites): Promise<void> {
  const kc = kubeConfigOf(cluster.kubeconfig);
  // A control plane restarted: its own registry of drivers, its own gateway sync, no key memory.
  // Only the cluster is driven (the Docker data plane has nothing of this benchmark).
  const dataPlanes = new DataPlaneRegistry({
    kubernetes: (record) => kubernetesDriver({ ...record, config: { kubeconfig: cluster.kubeconfig } }, {}),
  });
  let warnings = 0;
  const logger = pino(
    { level: 'warn' },
    {
      write: (line: string) => {
        warnings++;
        if (warnings <= 3) console.log(`reconciler: ${line.trim()}`);
      },
    },
  );
  const gateway = new GatewaySync({
    store: t.rondo.store,
    dataPlanes,
    settings: t.platform.gateway,
    instance: t.instance,
    logger,
  });
  const reconciler = new Reconciler(
    {
      store: t.rondo.store,
      dataPlanes,
      gateway,
      instance: t.instance,
      logger,
      keyring: {} as Keyring,
      settings: t.platform.rollout,
      livenessIntervalMs: 60_000,
    },
    { resyncMs: 3_600_000 },
  );
  const keys = await t.rondo.store.db
    .selectFrom('deployments')
    .select(['id', 'component_id', 'environment_id'])
    .where('status', '=', 'active')
    .execute();
  // RONDO_BENCH_PROFILE=<dir>: a CPU profile of the control plane's thread per pass.
  const profileDir = process.env.RONDO_BENCH_PROFILE;
  const session = profileDir ? new Session() : undefined;
  session?.connect();
  await session?.post('Profiler.enable');
  let passes = 0;
  const pass = async (what: string, run: () => Promise<void>) => {
    const totals0 = await requestTotals(kc);
    await session?.post('Profiler.start');
    const mark = audit.mark();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    await reconciler.idle();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (session && profileDir) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(join(profileDir, `pass-${++passes}.cpuprofile`), JSON.stringify(profile));
    }
    const writes = audit.writes(mark);
    const totals1 = await requestTotals(kc);
    const reads = readsBetween(totals0, totals1);
    console.log(
      `${what.padEnd(52)} ${wall.toFixed(0).padStart(6)} ms wall  ${((cpu.user + cpu.system) / 1000).toFixed(0).padStart(6)} ms CPU  reads ${String(reads).padStart(5)} (${(reads / Math.max(keys.length, 1)).toFixed(2)}/key)  writes by Rondo: ${writes.length}${writes.length ? ` (${summarize(writes)})` : ''}; by every client: ${writesBetween(totals0, totals1)}`,
    );
    return { wall, writes: writes.length };
  };
  const everyKey = async () => {
    for (const k of keys)
      reconciler.enqueueKey({ componentId: k.component_id, environmentId: k.environment_id });
  };
  console.log(`${keys.length} active components on the cluster, one pod each; goal: < 5 s, no writes`);
  const results = [
    await pass('resync pass 1 (fresh control plane: every key)', () => reconciler.reconcile()),
    await pass('resync pass 2 (steady state)', () => reconciler.reconcile()),
    await pass('every key enqueued (all steps)', everyKey),
    await pass('every key enqueued again', everyKey),
    // What a replica's exit does: `enqueue` by deployment id (a store look-up, then the key).
    await pass('every key enqueued by its deployment (as an exit)', async () => {
      for (const k of keys) reconciler.enqueue(k.id);
    }),
  ];
  await reconciler.stop();
  // The drivers' watches and pooled connections (absent on a driver that keeps none).
  await (dataPlanes as { shutdown?: () => Promise<void> }).shutdown?.();
  const met = results.every((r) => r.wall < 5000 && r.writes === 0);
  console.log(`goal < 5 s and no writes in every pass: ${met ? 'met' : 'NOT met'}`);
  if (warnings > 0) console.log(`${warnings} warnings from the reconciler during the passes`);
}

async function cleanUp(core: CoreV1Api, instance: string): Promise<void> {
  const selector = `${LABEL.instance}=${instance}`;
  const { items } = await core.listNamespace({ labelSelector: selector });
  for (const ns of items) {
    const namespace = ns.metadata?.name ?? '';
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    // A terminating namespace takes no new pod; its pods go at once rather than after the grace
    // period busybox (PID 1, deaf to SIGTERM) would wait out, 1,000 times.
    await core
      .deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 })
      .catch((err: unknown) => console.log(`clean-up: pods of ${namespace}: ${err}`));
  }
  const t0 = performance.now();
  let lastPrint = 0;
  for (;;) {
    const left = (await core.listNamespace({ labelSelector: selector })).items.length;
    const pods = (await core.listPodForAllNamespaces({ labelSelector: selector })).items.length;
    if (left === 0) break;
    if (performance.now() - t0 > 900_000) {
      console.log(`clean-up: ${left} namespaces still terminating after 15 min; left to the cluster`);
      break;
    }
    if (performance.now() - lastPrint > 15_000) {
      lastPrint = performance.now();
      console.log(`clean-up: ${left} namespaces, ${pods} pods terminating (${elapsed(t0)})`);
    }
    await sleep(2000);
  }
}
