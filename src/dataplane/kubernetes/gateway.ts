import type { KubernetesObject, V1ConfigMap, V1DaemonSet, V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { GatewayState } from '../../domain/gateway-routes.js';
import {
  CLUSTER_GATEWAY_DIR,
  CLUSTER_GATEWAY_INITIAL_DIR,
  type ClusterGatewaySettings,
  clusterGatewayCommand,
  clusterGatewayConfig,
  clusterGatewayFiles,
  clusterGatewayPush,
} from '../../gateway/cluster-gateway.js';
import type { Probe } from '../driver.js';
import { LABEL } from '../labels.js';
import { type Cluster, isNotFound } from './cluster.js';
import { gatewayProbeCommand, gatewayProbeOutcome } from './gateway-probe.js';
import type { ClusterImages } from './images.js';
import { dnsLabel, GATEWAY_LABEL, LABELS_ANNOTATION, labelValues, selector } from './names.js';
import { execInPod } from './pod-exec.js';
import { isReady } from './pod-replicas.js';
import { metadata } from './pod-spec.js';

/** Where a cluster's gateway comes from and listens (the driver's `gateway` option). */
export interface ClusterGatewayOptions extends ClusterGatewaySettings {
  /** The site's gateway image (`rondo images bootstrap`), as builds name it: pinned like a workload's. */
  image: string;
  /** This installation (`rondo.instance`): the gateway's namespace is `rondo-<instance>-gateway`. */
  instance: string;
  /** How long a publish waits for a first gateway pod to be ready (its image pulled); default 180 s. */
  startTimeoutMs?: number;
}

export const GATEWAY_NAME = 'rondo-gateway';
const CONTAINER = 'gateway';
const REAPPLY_MS = 60_000;
/**
 * Readiness probes from the gateway at once. Each is an exec: a stream through the API server and
 * processes in the gateway pod. A hundred rollouts at once (1,000 components deployed together)
 * would otherwise load the node they wait on; past this, readiness is the kubelet's alone.
 */
const PROBES_AT_ONCE = 4;
/** On the ConfigMap: the identity of the configuration it holds. */
const CONFIG_ANNOTATION = 'rondo.gateway-config';

export const gatewayNamespace = (instance: string) => dnsLabel(`rondo-${instance}-gateway`);

/**
 * Rondo's gateway inside a cluster: a DaemonSet of the site's gateway image in a namespace of the
 * installation's own, on each node's network (`hostNetwork`), so the public listener is every
 * node's `publicPort` and a workload reaches its organization gateway on its own node's address;
 * it dials replicas by pod IP, which needs no Service proxy and no cluster DNS. The
 * configuration is a ConfigMap (what a pod starts with) and is pushed into each ready pod through
 * the API server's exec, which reloads HAProxy without dropping a connection: `publish` resolves
 * once every ready gateway pod serves it (a ConfigMap volume would take the kubelet up to a
 * minute, too slow for a rollout, whose old revision is drained right after).
 */
export class ClusterGateway {
  readonly namespace: string;
  #running: Promise<void> = Promise.resolve();
  /** The image as pinned once (a tag resolved to its digest), so every publish applies the same. */
  #image: string | undefined;
  /** The configuration last applied, and the pods (by uid) known to run it. */
  #applied: string | undefined;
  #appliedAt = 0;
  /** The namespace, pull Secret and DaemonSet were applied by this process (and still held). */
  #objectsApplied = false;
  readonly #serving = new Set<string>();
  /** The gateway pod readiness probes run in (`probe`), kept while it answers. */
  #prober: string | undefined;
  #probing = 0;

  constructor(
    readonly cluster: Cluster,
    readonly images: ClusterImages,
    readonly options: ClusterGatewayOptions,
  ) {
    this.namespace = gatewayNamespace(options.instance);
  }

  get labels(): Record<string, string> {
    return { [LABEL.instance]: this.options.instance, [LABEL.managed]: 'true', [GATEWAY_LABEL]: 'true' };
  }

  /** Serialized: the last publish wins. */
  publish(part: GatewayState): Promise<void> {
    const next = this.#running.catch(() => undefined).then(() => this.#publish(part));
    this.#running = next;
    return next;
  }

  async #publish(part: GatewayState): Promise<void> {
    const config = clusterGatewayConfig(part, this.options);
    // The same state again (the reconciler's resync): only pods that have not taken it yet, and
    // the objects read once a minute and applied again only when they no longer hold it (someone
    // deleted or edited them): an idle pass makes no write to the API server.
    const gone =
      config.identity === this.#applied &&
      Date.now() - this.#appliedAt > REAPPLY_MS &&
      !(await this.#objectsHold(config.identity));
    if (gone) this.#objectsApplied = false;
    let applying: Promise<void> = Promise.resolve();
    if (config.identity === this.#applied && !gone) this.#appliedAt = Date.now();
    else {
      if (config.identity !== this.#applied) this.#serving.clear();
      this.#applied = undefined;
      const files = clusterGatewayFiles(config);
      // Once the gateway's objects are in place, only the ConfigMap changes with a route, and a
      // running pod takes the configuration from the push: the two go side by side, so a switch
      // of traffic waits for the push alone. A pod that starts meanwhile is pushed to at the next
      // publish (the reconciler's resync), as one that was not ready yet is. A failed apply
      // (someone deleted the namespace) makes the next publish apply every object again.
      const whole = !this.#objectsApplied;
      applying = (
        whole ? this.#apply(files, config.identity) : this.#applyConfigMap(files, config.identity)
      ).then(
        () => {
          this.#applied = config.identity;
          this.#appliedAt = Date.now();
          this.#objectsApplied = true;
        },
        (err: unknown) => {
          this.#objectsApplied = false;
          throw err;
        },
      );
      // Awaited below; marked handled so a failure before then (no ready pod) is not unhandled.
      applying.catch(() => undefined);
      if (whole) await applying;
    }
    const pods = (await this.#readyPods()).filter((p) => !this.#serving.has(p.metadata?.uid ?? ''));
    if (pods.length === 0) return applying;
    const push = await clusterGatewayPush(config, this.options);
    await Promise.all([
      applying,
      ...pods.map(async (pod) => {
        const name = pod.metadata?.name ?? '';
        const r = await execInPod(
          this.cluster,
          { namespace: this.namespace, pod: name, container: CONTAINER },
          push.command,
          push.stdin,
        );
        if (r.code !== 0)
          throw new Error(
            `the gateway pod ${this.namespace}/${name} did not take the configuration (exit ${r.code}): ${r.stderr.trim().slice(0, 800)}`,
          );
        this.#serving.add(pod.metadata?.uid ?? '');
      }),
    ]);
  }

  /**
   * A replica's readiness probe run by a gateway pod, the place its traffic comes from, tried
   * for up to `withinMs` (the kubelet's first probe comes at its next 1 s tick, up to a second
   * after the process answers). Undefined when it passed, else what the last try saw, or why no
   * gateway pod could run it (none ready, or already `PROBES_AT_ONCE` running: the caller falls
   * back to the kubelet's view).
   */
  async probe(ip: string, probe: Probe, withinMs: number): Promise<string | undefined> {
    if (this.#probing >= PROBES_AT_ONCE) return 'the gateway is probing other replicas';
    this.#probing++;
    try {
      return await this.#probe(ip, probe, withinMs);
    } finally {
      this.#probing--;
    }
  }

  async #probe(ip: string, probe: Probe, withinMs: number): Promise<string | undefined> {
    if (!this.#prober) {
      const { items } = await this.cluster.call(() =>
        this.cluster.core.listNamespacedPod({ namespace: this.namespace, labelSelector: this.#selector }),
      );
      this.#prober = items.find((p) => !p.metadata?.deletionTimestamp && isReady(p))?.metadata?.name;
      if (!this.#prober) return 'no gateway pod is ready to probe from';
    }
    const where = { namespace: this.namespace, pod: this.#prober, container: CONTAINER };
    try {
      return gatewayProbeOutcome(
        await execInPod(
          this.cluster,
          where,
          gatewayProbeCommand(ip, probe, withinMs),
          undefined,
          withinMs + 10_000,
        ),
      );
    } catch (err) {
      this.#prober = undefined; // gone or not answering: the next probe picks another
      return `the gateway could not probe: ${err instanceof Error ? err.message : err}`;
    }
  }

  get #selector(): string {
    return selector({ [LABEL.instance]: this.options.instance, [GATEWAY_LABEL]: 'true' });
  }

  /** The namespace, its pull Secret, the ConfigMap with `files` and the DaemonSet. */
  /** Whether the ConfigMap still carries `identity` and the DaemonSet is there (reads only). */
  async #objectsHold(identity: string): Promise<boolean> {
    const read = <T>(fn: () => Promise<T>) =>
      this.cluster.call(fn).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
    const [configMap, daemonSet] = await Promise.all([
      read(() =>
        this.cluster.core.readNamespacedConfigMap({ name: GATEWAY_NAME, namespace: this.namespace }),
      ),
      read(() =>
        this.cluster.apps.readNamespacedDaemonSet({ name: GATEWAY_NAME, namespace: this.namespace }),
      ),
    ]);
    return configMap?.metadata?.annotations?.[CONFIG_ANNOTATION] === identity && daemonSet !== undefined;
  }

  /** What a gateway pod starts with, and the identity of that configuration. */
  async #applyConfigMap(files: Record<string, string>, identity: string): Promise<void> {
    const base = metadata(this.namespace, GATEWAY_NAME, this.labels);
    await this.cluster.apply<KubernetesObject & V1ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { ...base, annotations: { ...base.annotations, [CONFIG_ANNOTATION]: identity } },
      data: files,
    });
  }

  async #apply(files: Record<string, string>, identity: string): Promise<void> {
    const labels = this.labels;
    await this.cluster.apply<KubernetesObject & V1Namespace>({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: this.namespace,
        labels: labelValues(labels),
        annotations: { [LABELS_ANNOTATION]: JSON.stringify(labels) },
      },
    });
    const pullSecret = this.images.pullSecret(this.namespace, labels);
    if (pullSecret) await this.cluster.apply(pullSecret);
    await this.#applyConfigMap(files, identity);
    this.#image ??= this.images.reference(await this.images.pin(this.options.image));
    const image = this.#image;
    const selectorLabels = labelValues({ [LABEL.instance]: this.options.instance, [GATEWAY_LABEL]: 'true' });
    await this.cluster.apply<KubernetesObject & V1DaemonSet>({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: metadata(this.namespace, GATEWAY_NAME, labels),
      spec: {
        selector: { matchLabels: selectorLabels },
        template: {
          metadata: { labels: { ...labelValues(labels), ...selectorLabels } },
          spec: {
            hostNetwork: true,
            dnsPolicy: 'ClusterFirstWithHostNet',
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            ...(this.images.pullSecrets ? { imagePullSecrets: this.images.pullSecrets } : {}),
            containers: [
              {
                name: CONTAINER,
                image,
                imagePullPolicy: 'IfNotPresent',
                command: clusterGatewayCommand(),
                // The node's port, so the scheduler never places two gateways on one node.
                ports: [
                  {
                    name: 'public',
                    containerPort: this.options.publicPort,
                    hostPort: this.options.publicPort,
                    protocol: 'TCP',
                  },
                ],
                readinessProbe: {
                  tcpSocket: { port: this.options.publicPort },
                  periodSeconds: 1,
                  failureThreshold: 1,
                },
                volumeMounts: [
                  { name: 'initial', mountPath: CLUSTER_GATEWAY_INITIAL_DIR, readOnly: true },
                  { name: 'run', mountPath: CLUSTER_GATEWAY_DIR },
                ],
              },
            ],
            volumes: [
              { name: 'initial', configMap: { name: GATEWAY_NAME } },
              { name: 'run', emptyDir: { medium: 'Memory' } },
            ],
          },
        },
      },
    });
  }

  /**
   * The gateway pods that serve now (ready, not terminating); waits for a first one (a new
   * gateway pulls its image). A pod not ready yet starts with the ConfigMap just applied.
   */
  async #readyPods(): Promise<V1Pod[]> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 180_000);
    const labelSelector = this.#selector;
    let why = 'no gateway pod yet';
    for (;;) {
      const { items } = await this.cluster.call(() =>
        this.cluster.core.listNamespacedPod({ namespace: this.namespace, labelSelector }),
      );
      const ready = items.filter((p) => !p.metadata?.deletionTimestamp && isReady(p));
      if (ready.length > 0) return ready;
      const waiting = items[0]?.status?.containerStatuses?.[0]?.state?.waiting;
      if (waiting) why = `${waiting.reason ?? 'waiting'}${waiting.message ? `: ${waiting.message}` : ''}`;
      else if (items[0]) why = `pod ${items[0].metadata?.name} is ${items[0].status?.phase ?? 'pending'}`;
      if (Date.now() > deadline)
        throw new Error(`the cluster's gateway (${this.namespace}/${GATEWAY_NAME}) is not ready: ${why}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
