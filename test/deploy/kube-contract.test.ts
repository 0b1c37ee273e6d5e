import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, vi } from 'vitest';
import { kubernetesDriver } from '../../src/dataplane/kubernetes/kubernetes-driver.js';
import { busyboxContractImage, SCRIPT_VARIABLE } from '../dataplane/busybox-contract-image.js';
import { driverContract } from '../dataplane/driver-contract.js';
import { loadBusyboxImage, startTestCluster, type TestCluster } from './kube-cluster-helpers.js';

/**
 * The Kubernetes driver against the real test cluster: the same contract the Docker driver and
 * the in-memory fake pass (test/dataplane/driver-contract.ts). The image is the Docker
 * contract image's behaviour (a busybox whose process evaluates `$RONDO_TEST_SCRIPT`), loaded
 * into the node's containerd; `sh -c` takes the run's arguments after a `$0` of its own, so they
 * arrive as `$1`, `$2`, … as on Docker.
 */
const REF = 'localhost/rondo-contract:v1';
// Pods are scheduled, started and probed by the kubelet: a test waits up to the subject's
// deadline for each of its replicas, longer than the suite's default test timeout.
vi.setConfig({ testTimeout: 240_000 });
const INSTANCE = `kc${process.pid}`;

let cluster: TestCluster | undefined;
beforeAll(() => {
  cluster = startTestCluster();
  loadBusyboxImage(REF, [
    '/bin/busybox',
    'sh',
    '-c',
    `/bin/busybox mkdir -p /tmp/bin && /bin/busybox --install -s /tmp/bin; export PATH=/tmp/bin:/bin; eval "$${SCRIPT_VARIABLE}"`,
    'contract',
  ]);
}, 900_000);
afterAll(async () => {
  if (cluster) {
    // Namespaces the driver's own removals left (by label), then the cluster if this run started it.
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const left = await core.listNamespace({ labelSelector: `rondo.instance=${INSTANCE}` });
    for (const n of left.items)
      await core.deleteNamespace({ name: n.metadata!.name! }).catch(() => undefined);
    cluster.stop();
  }
}, 120_000);

driverContract('kubernetes', async () => {
  if (!cluster) throw new Error('the test cluster did not start');
  const driver = kubernetesDriver({
    id: 'kube-contract',
    type: 'kubernetes',
    config: { kubeconfig: cluster.kubeconfig },
  });
  return {
    driver,
    image: busyboxContractImage(REF),
    instance: INSTANCE,
    // Its caches' watches and pooled connections.
    cleanup: async () => driver.stop?.(),
    // Pods are scheduled, pulled from the node's store and probed by the kubelet: slower than Docker.
    deadlineMs: 90_000,
    // Kubernetes 1.20 has no pod-deletion-cost: the ReplicaSet picks among equally ranked pods.
    removalKeepsSiblings: false,
  };
});
