import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, type KubernetesObject, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import type {
  ListOptions,
  Probe,
  ReadinessReading,
  Replica,
  RevisionSpec,
  RevisionsPort,
} from '../driver.js';
import { LABEL } from '../labels.js';
import { type Cluster, isNotFound } from './cluster.js';
import { hasLabels } from './cluster-cache.js';
import { namespaceName } from './environments.js';
import type { GatewayProbe } from './gateway-probe.js';
import { ClusterImages } from './images.js';
import {
  dnsLabel,
  GATEWAY_LABEL,
  LABELS_ANNOTATION,
  labelValue,
  labelValues,
  parsePodId,
  selector,
  workloadSelector,
} from './names.js';
import { indexedReplicas, podReplica, readinessOf } from './pod-replicas.js';
import {
  configMapName,
  inputObjects,
  metadata,
  podInputs,
  podInputsOf,
  probes,
  resources,
  secretName,
} from './pod-spec.js';
import { CONTAINER, waitStopped } from './pods.js';

/** On a revision's pods: the name of the Deployment they belong to. */
export const WORKLOAD_ANNOTATION = 'rondo.workload';

/** How long one readiness check from the gateway tries (the reconciler asks again after). */
const GATEWAY_PROBE_MS = 500;
/** How long a pod the gateway found ready may wait for the kubelet's Ready before serving fails. */
const KUBELET_READY_MS = 30_000;

/** A revision's Deployment is named after the deployment's id (the control plane's name prefix without one). */
export const deploymentName = (spec: Pick<RevisionSpec, 'labels' | 'name'>) =>
  dnsLabel(spec.labels[LABEL.deployment] ?? spec.name, 56);

/**
 * Revisions as Deployments: one per Rondo deployment, its replica count the spec's, its pods the
 * replicas. The kubelet probes readiness and liveness and restarts; the replica index the
 * reconciler counts by is assigned when listing (`indexedReplicas`).
 */
export class Revisions implements RevisionsPort {
  constructor(
    readonly cluster: Cluster,
    readonly images: ClusterImages = new ClusterImages(undefined, undefined),
    /** Rondo's gateway runs in the cluster: workloads are told where their organization gateway is. */
    readonly internalGateway = false,
    /** Readiness checked from the gateway's pods as well as by the kubelet (`probe`). */
    readonly probeFromGateway?: GatewayProbe,
  ) {}

  /**
   * The kubelet pulls on the node, so nothing is made present here: the platform registry's
   * images become the digest at the address the cluster pulls from (a tag resolved now); any
   * other reference is the node's to resolve (a digest pins exactly, a tag what the node finds).
   */
  pin(image: string): Promise<string> {
    return this.images.pin(image);
  }

  /** Applies the Deployment (whole, with the spec's replica count): the indexes are not needed. */
  async start(spec: RevisionSpec, _indexes: number[]): Promise<Replica[]> {
    const namespace = spec.environment.name;
    const name = deploymentName(spec);
    const inputs = podInputsOf(namespace, name, spec, this.internalGateway);
    const existing = await this.#readDeployment(namespace, name);
    const owner = (d: V1Deployment | undefined) =>
      d?.metadata?.uid ? { apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata.uid } : undefined;
    // The Secret and ConfigMap exist before the pods that mount them, and belong to the Deployment.
    for (const o of inputObjects(inputs, owner(existing))) await this.cluster.apply(o);
    const selectorLabels = labelValues({
      [LABEL.instance]: spec.labels[LABEL.instance] ?? '',
      [LABEL.deployment]: spec.labels[LABEL.deployment] ?? name,
    });
    const mounts = podInputs(inputs);
    const applied = await this.cluster.apply<KubernetesObject & V1Deployment>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: metadata(namespace, name, spec.labels),
      spec: {
        replicas: spec.replicas,
        selector: { matchLabels: selectorLabels },
        template: {
          metadata: {
            labels: { ...labelValues(spec.labels), ...selectorLabels },
            annotations: { [LABELS_ANNOTATION]: JSON.stringify(spec.labels), [WORKLOAD_ANNOTATION]: name },
          },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            ...(this.images.pullSecrets ? { imagePullSecrets: this.images.pullSecrets } : {}),
            volumes: mounts.volumes,
            containers: [
              {
                name: CONTAINER,
                // A deployment pinned before the cluster's registry address was known still pulls there.
                image: this.images.reference(spec.image),
                imagePullPolicy: 'IfNotPresent',
                // 1.20's server-side apply refuses a port without its protocol.
                ports: spec.ports.map((p) => ({ containerPort: p, protocol: 'TCP' })),
                env: mounts.env ?? [],
                volumeMounts: mounts.volumeMounts,
                ...(spec.resources ? { resources: resources(spec.resources) } : {}),
                ...probes(spec.readiness),
              },
            ],
          },
        },
      },
    });
    if (!existing) for (const o of inputObjects(inputs, owner(applied))) await this.cluster.apply(o);
    return this.#untilPods(namespace, selectorLabels, spec.replicas);
  }

  /** The Deployment's pods once the ReplicaSet has made as many as it wants (30 s at most). */
  async #untilPods(namespace: string, labels: Record<string, string>, count: number): Promise<Replica[]> {
    const end = Date.now() + 30_000;
    for (;;) {
      const { items } = await this.cluster.call(() =>
        this.cluster.core.listNamespacedPod({ namespace, labelSelector: selector(labels) }),
      );
      const live = items.filter((p) => !p.metadata?.deletionTimestamp);
      if (live.length >= count || Date.now() > end) return indexedReplicas(items);
      await sleep(200);
    }
  }

  async #readDeployment(namespace: string, name: string): Promise<V1Deployment | undefined> {
    try {
      return await this.cluster.call(() => this.cluster.apps.readNamespacedDeployment({ name, namespace }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  list(labels: Record<string, string>, options?: ListOptions): Promise<Replica[]> {
    return listReplicas(this.cluster, labels, options);
  }

  async #readPod(id: string): Promise<V1Pod | undefined> {
    return readPod(this.cluster, id);
  }

  /**
   * A pod as `list` gives it: with the index its Deployment's pods number it by. The reconciler
   * puts what `probe`, `inspect` and `markServing` return in place of the listed replica and
   * counts replicas by that index: without it, a pod not yet ready stopped counting, and a
   * rollout whose only pod was still being created went active at once.
   */
  async #indexed(pod: V1Pod): Promise<Replica> {
    const replica = podReplica(pod);
    const own = pod.metadata?.labels ?? {};
    const deployment = own[LABEL.deployment];
    if (deployment === undefined || replica.labels[LABEL.execution] !== undefined) return replica;
    const namespace = pod.metadata?.namespace ?? '';
    const { items } = await this.cluster.call(() =>
      this.cluster.core.listNamespacedPod({
        namespace,
        labelSelector: selector({
          [LABEL.instance]: own[LABEL.instance] ?? '',
          [LABEL.deployment]: deployment,
        }),
      }),
    );
    return indexedReplicas(items).find((r) => r.id === replica.id) ?? replica;
  }

  async inspect(id: string): Promise<Replica | undefined> {
    const pod = await this.#readPod(id);
    return pod ? this.#indexed(pod) : undefined;
  }

  /**
   * Ready when the kubelet says so, or, with Rondo's gateway in the cluster, when the gateway's
   * own run of the same probe passes on a running pod. The kubelet's first probe waits for its
   * next 1 s tick; the gateway is where the traffic comes from, and tries every 20 ms. Serving
   * still waits for the kubelet (`markServing`), so a Service's endpoints agree before the old
   * revision goes.
   */
  async probe(id: string, probe: Probe | undefined): Promise<ReadinessReading> {
    const pod = await this.#readPod(id);
    const kubelet = readinessOf(pod, []);
    let atGateway: string | undefined;
    if (pod && kubelet.failure !== undefined && !kubelet.stopped && probe && this.probeFromGateway) {
      const replica = podReplica(pod);
      if (replica.state === 'running' && replica.ip) {
        atGateway = await this.probeFromGateway(replica.ip, probe, GATEWAY_PROBE_MS);
        if (atGateway === undefined) return { replica: await this.#indexed(pod) };
      }
    }
    const { pod: read, ...reading } = await this.#reading(id, atGateway === undefined ? pod : undefined);
    // The kubelet's reason when it has one; else what the gateway's probe saw.
    if (atGateway && reading.failure === 'not ready yet') reading.failure = `not ready: ${atGateway}`;
    return read ? { ...reading, replica: await this.#indexed(read) } : reading;
  }

  async #reading(id: string, known?: V1Pod): Promise<ReadinessReading & { pod?: V1Pod }> {
    const pod = known ?? (await this.#readPod(id));
    const plain = readinessOf(pod, []);
    // Events are read only to explain a failure.
    if (!pod || plain.failure === undefined) return { ...plain, ...(pod ? { pod } : {}) };
    const { namespace, name } = parsePodId(id);
    const events = await this.cluster
      .call(() =>
        this.cluster.core.listNamespacedEvent({
          namespace,
          fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}`,
        }),
      )
      .then((l) => l.items)
      .catch(() => []);
    return { ...readinessOf(pod, events), pod };
  }

  /**
   * Serving is the pod's Ready condition, which the kubelet keeps: nothing to record, but a pod
   * that passed readiness at the gateway first is waited for until the kubelet agrees.
   */
  async markServing(id: string, _env: string, _names: string[]): Promise<Replica> {
    const deadline = Date.now() + KUBELET_READY_MS;
    for (;;) {
      const pod = await this.#readPod(id);
      if (!pod) throw new Error(`pod ${id} vanished before it was marked serving`);
      const reading = readinessOf(pod, []);
      if (reading.failure === undefined) return this.#indexed(pod);
      if (reading.stopped || Date.now() > deadline)
        throw new Error(
          `pod ${id} passed readiness at the gateway, but the kubelet has not marked it ready${reading.stopped ? '' : ` within ${KUBELET_READY_MS / 1000} s`}: ${reading.failure}`,
        );
      await sleep(25);
    }
  }

  /** The Deployment replaces a deleted pod (a new pod: a new id). */
  async restart(id: string): Promise<void> {
    const { namespace, name } = parsePodId(id);
    await this.cluster
      .call(() => this.cluster.core.deleteNamespacedPod({ name, namespace }))
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
  }

  /**
   * One replica fewer. With others left, the pod is deleted first (terminating, it no longer
   * counts), then its Deployment scaled down by one, so the ReplicaSet removes the replacement
   * it has just begun (pending pods go first) rather than another running one. The last one goes
   * with its Deployment and ReplicaSet (deleted first, so nothing replaces the pod), then its
   * Secret and ConfigMap. Resolves when its container has stopped.
   */
  async remove(id: string, graceSeconds: number): Promise<void> {
    const pod = await this.#readPod(id);
    if (!pod) return;
    const { namespace, name } = parsePodId(id);
    // Being removed already (an earlier call counted it): only wait, never scale down twice.
    if (pod.metadata?.deletionTimestamp) return waitStopped(this.cluster, namespace, name, graceSeconds);
    const deployment = pod.metadata?.annotations?.[WORKLOAD_ANNOTATION];
    const deletePod = () =>
      this.cluster
        .call(() =>
          this.cluster.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: graceSeconds }),
        )
        .catch(gone);
    if (!deployment) {
      await deletePod();
    } else if ((await this.#replicas(namespace, deployment)) <= 1) {
      await this.#deleteDeployment(namespace, deployment, pod);
      await deletePod();
    } else {
      await deletePod();
      if (await this.#scaleDown(namespace, deployment))
        await this.#deleteDeployment(namespace, deployment, pod);
    }
    await waitStopped(this.cluster, namespace, name, graceSeconds);
    if (deployment && !(await this.#readDeployment(namespace, deployment))) {
      // Their owner reference lets the garbage collector do it too; this is at once.
      await this.cluster
        .call(() => this.cluster.core.deleteNamespacedSecret({ name: secretName(deployment), namespace }))
        .catch(gone);
      await this.cluster
        .call(() =>
          this.cluster.core.deleteNamespacedConfigMap({ name: configMapName(deployment), namespace }),
        )
        .catch(gone);
    }
  }

  /** The Deployment's desired replicas; 0 when it is gone. */
  async #replicas(namespace: string, name: string): Promise<number> {
    try {
      const scale = await this.cluster.call(() =>
        this.cluster.apps.readNamespacedDeploymentScale({ name, namespace }),
      );
      return scale.spec?.replicas ?? 0;
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    }
  }

  /** One replica fewer in the Deployment's count; true when this one was its last. */
  async #scaleDown(namespace: string, name: string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const replicas = await this.#replicas(namespace, name);
      if (replicas <= 1) return true;
      try {
        // `test` first: two removals at once each take one replica, never the same one twice.
        await this.cluster.call(() =>
          this.cluster.apps.patchNamespacedDeploymentScale({
            name,
            namespace,
            body: [
              { op: 'test', path: '/spec/replicas', value: replicas },
              { op: 'replace', path: '/spec/replicas', value: replicas - 1 },
            ],
          }),
        );
        return false;
      } catch (err) {
        if (isNotFound(err)) return false;
        if (attempt >= 5) throw err;
      }
    }
  }

  /**
   * The Deployment and the ReplicaSet of `pod`: the garbage collector would remove the
   * ReplicaSet only later, and until then it would replace the pod.
   */
  async #deleteDeployment(namespace: string, name: string, pod: V1Pod): Promise<void> {
    await this.cluster
      .call(() =>
        this.cluster.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: 'Background' }),
      )
      .catch(gone);
    const rs = pod.metadata?.ownerReferences?.find((o) => o.kind === 'ReplicaSet' && o.controller);
    if (rs)
      await this.cluster
        .call(() =>
          this.cluster.apps.deleteNamespacedReplicaSet({
            name: rs.name,
            namespace,
            propagationPolicy: 'Background',
          }),
        )
        .catch(gone);
  }

  /** The last `tail` lines; none yet while the container is still being created. */
  async logs(id: string, tail: number): Promise<string> {
    const { namespace, name } = parsePodId(id);
    try {
      return await this.cluster.call(() =>
        this.cluster.core.readNamespacedPodLog({ name, namespace, tailLines: tail }),
      );
    } catch (err) {
      if (notStartedYet(err)) return '';
      throw err;
    }
  }
}

/** The API server's 400 for the log of a container that has not started ("is waiting to start"). */
const notStartedYet = (err: unknown) =>
  err instanceof ApiException && err.code === 400 && /is waiting to start/.test(String(err.body));

const gone = (err: unknown) => {
  if (!isNotFound(err)) throw err;
};

/**
 * Pods carrying `labels` (in their environment's namespace when they name one), as replicas with their indexes. The index is not a
 * label of the pod (it is counted from the deployment's pods): asked for, it filters the result.
 * `cached`: from the installation's pod cache while it is in sync (labels naming the installation),
 * else live.
 */
export async function listReplicas(
  cluster: Cluster,
  labels: Record<string, string>,
  options?: ListOptions,
): Promise<Replica[]> {
  const { [LABEL.replica]: index, ...podLabels } = labels;
  const instance = podLabels[LABEL.instance];
  const pods = options?.cached && instance ? cluster.caches.of(instance)?.pods : undefined;
  const view = pods?.view();
  const namespace = namespaceOf(podLabels);
  // Never the gateway's pods, which carry the installation's labels too (`workloadSelector`).
  const labelSelector = workloadSelector(podLabels);
  const component = podLabels[LABEL.component];
  // A key's own pods from the cache's component index; the label check below keeps its namespace.
  const candidates = () =>
    pods && component !== undefined
      ? pods.withLabel(LABEL.component, labelValue(component))
      : (view?.list(namespace) ?? []);
  const items = view
    ? candidates().filter((p) => hasLabels(p, podLabels) && !p.metadata?.labels?.[GATEWAY_LABEL])
    : (
        await cluster.call(() =>
          // Labels that name an environment name its namespace: the API server then reads only
          // that namespace's pods from etcd, not every pod of the cluster, on each live listing.
          namespace
            ? cluster.core.listNamespacedPod({ namespace, labelSelector })
            : cluster.core.listPodForAllNamespaces({ labelSelector }),
        )
      ).items;
  const replicas = indexedReplicas(items);
  return index === undefined ? replicas : replicas.filter((r) => r.labels[LABEL.replica] === index);
}

/** The namespace of the environment the labels name (instance, org, project, environment), if they do. */
function namespaceOf(labels: Record<string, string>): string | undefined {
  const [instance, org, project, environment] = [
    labels[LABEL.instance],
    labels[LABEL.org],
    labels[LABEL.project],
    labels[LABEL.environment],
  ];
  return instance && org && project && environment
    ? namespaceName({ instance, org, project, environment })
    : undefined;
}

export async function readPod(cluster: Cluster, id: string): Promise<V1Pod | undefined> {
  const { namespace, name } = parsePodId(id);
  try {
    return await cluster.call(() => cluster.core.readNamespacedPod({ name, namespace }));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
