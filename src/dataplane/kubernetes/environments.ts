import type {
  KubernetesObject,
  V1Namespace,
  V1NetworkPolicy,
  V1NetworkPolicySpec,
  V1Node,
  V1Secret,
} from '@kubernetes/client-node';
import type { EnvironmentInfo, EnvironmentRef, EnvironmentsPort } from '../driver.js';
import { LABEL, networkLabels } from '../labels.js';
import { type Cluster, isCurrent, isNotFound } from './cluster.js';
import { type ClusterImages, PULL_SECRET } from './images.js';
import { dnsLabel, LABELS_ANNOTATION, labelValues, workloadSelector } from './names.js';

/** What `ensure` applies for one environment. */
interface EnvironmentObjects {
  namespace: KubernetesObject & V1Namespace;
  policies: (KubernetesObject & V1NetworkPolicy)[];
  pull: (KubernetesObject & V1Secret) | undefined;
}

/** The namespace of a (project, environment) of an installation. */
export const namespaceName = (ref: EnvironmentRef) =>
  dnsLabel(`rondo-${ref.instance}-${ref.org}-${ref.project}-${ref.environment}`);

/**
 * Environments as namespaces (§7's isolation unit), each with two NetworkPolicies: nothing comes
 * in by default, and the namespace's own pods may reach each other (same project, same
 * environment). Enforcing them is the cluster's network plugin's part; the API server stores
 * policies whether or not one does (the test cluster's bridge does not).
 */
export class Environments implements EnvironmentsPort {
  /** The installations this driver has seen: whose Services `traffic.publish` may prune. */
  readonly instances = new Set<string>();

  constructor(
    readonly cluster: Cluster,
    readonly images?: ClusterImages,
  ) {}

  async ensure(ref: EnvironmentRef): Promise<EnvironmentInfo> {
    const name = namespaceName(ref);
    const labels = networkLabels(ref);
    this.instances.add(ref.instance);
    const want = this.#desired(name, labels);
    // The installation's caches may confirm that all of it is there as wanted: no call at all.
    const unchanged = this.#unchangedInCache(ref.instance, want, labels);
    if (unchanged) return unchanged;
    // Anything else is read live before anything is written.
    const existing = await this.#read(name);
    if (existing) {
      const foreign = foreignLabel(existing, labels);
      if (foreign)
        throw new Error(
          `namespace ${name} exists but is not Rondo's for this environment (label ${foreign}); remove or rename it`,
        );
    }
    const ns = await this.cluster.applyChanged<KubernetesObject & V1Namespace>(
      want.namespace,
      existing && { ...existing, apiVersion: 'v1', kind: 'Namespace' },
    );
    // What the namespace holds already (read only when it existed): unchanged objects are not applied.
    const policies = new Map<string, KubernetesObject & V1NetworkPolicy>();
    if (existing) {
      const { items } = await this.cluster.call(() =>
        this.cluster.networking.listNamespacedNetworkPolicy({ namespace: name }),
      );
      for (const p of items)
        policies.set(p.metadata?.name ?? '', {
          ...p,
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
        });
    }
    for (const p of want.policies) await this.cluster.applyChanged(p, policies.get(p.metadata?.name ?? ''));
    if (want.pull)
      await this.cluster.applyChanged(
        want.pull,
        existing ? await this.#readSecret(name, want.pull) : undefined,
      );
    return this.#info(ns);
  }

  /** The namespace, its two NetworkPolicies and, with registry credentials, the pull Secret. */
  #desired(name: string, labels: Record<string, string>): EnvironmentObjects {
    const namespace: KubernetesObject & V1Namespace = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        labels: labelValues(labels),
        annotations: { [LABELS_ANNOTATION]: JSON.stringify(labels) },
      },
    };
    // The client's models name `from` `_from`: objects are written in its names, checked by type.
    const policy = (policyName: string, spec: V1NetworkPolicySpec): KubernetesObject & V1NetworkPolicy => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: policyName, namespace: name, labels: labelValues(labels) },
      spec,
    });
    const policies = [
      policy('rondo-default-deny', { podSelector: {}, policyTypes: ['Ingress'] }),
      policy('rondo-same-environment', {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [{ _from: [{ podSelector: {} }] }],
      }),
    ];
    // The pods of a registry that asks for credentials name this Secret (`imagePullSecrets`).
    const pull = this.images?.pullSecret(name, labels);
    return { namespace, policies, pull };
  }

  /**
   * The environment as the caches show it when every object is there as Rondo last applied it
   * (by the `rondo.applied` hash) and the namespace is this environment's; otherwise undefined,
   * and `ensure` reads live. Stale caches can only send it down the live path.
   */
  #unchangedInCache(
    instance: string,
    want: EnvironmentObjects,
    labels: Record<string, string>,
  ): EnvironmentInfo | undefined {
    const cache = this.cluster.caches.of(instance);
    const name = want.namespace.metadata?.name ?? '';
    const ns = cache?.namespaces.view()?.get(name);
    const policies = cache?.networkPolicies.view();
    const nodes = cache?.nodes.view();
    if (!cache || !ns || !policies || !nodes) return undefined;
    if (ns.metadata?.deletionTimestamp || foreignLabel(ns, labels) || !isCurrent(ns, want.namespace))
      return undefined;
    if (!want.policies.every((p) => isCurrent(policies.get(p.metadata?.name ?? '', name), p)))
      return undefined;
    if (want.pull && !isCurrent(cache.pullSecrets.view()?.get(PULL_SECRET, name), want.pull))
      return undefined;
    return this.#infoWith(ns, cidrsOf(nodes.list()));
  }

  async list(instance: string): Promise<EnvironmentInfo[]> {
    this.instances.add(instance);
    const { items } = await this.cluster.call(() =>
      this.cluster.core.listNamespace({
        labelSelector: workloadSelector({ [LABEL.instance]: instance, [LABEL.managed]: 'true' }),
      }),
    );
    const nodes = this.cluster.caches.of(instance)?.nodes.view();
    const cidrs = nodes ? cidrsOf(nodes.list()) : await this.podCidrs();
    return items.filter((n) => !n.metadata?.deletionTimestamp).map((n) => this.#infoWith(n, cidrs));
  }

  /** Deletes the namespace and everything in it; resolves once the API server has accepted it. */
  async remove(env: EnvironmentInfo): Promise<void> {
    try {
      await this.cluster.call(() => this.cluster.core.deleteNamespace({ name: env.name }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    // An `ensure` right after must not find it in a cache that has not seen the deletion yet.
    const instance = env.labels[LABEL.instance];
    if (instance) this.cluster.caches.of(instance)?.namespaces.removed(env.name);
  }

  async #readSecret(namespace: string, o: KubernetesObject): Promise<KubernetesObject | undefined> {
    try {
      const secret = await this.cluster.call(() =>
        this.cluster.core.readNamespacedSecret({ name: o.metadata?.name ?? '', namespace }),
      );
      return { ...secret, apiVersion: 'v1', kind: 'Secret' };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async #read(name: string): Promise<V1Namespace | undefined> {
    try {
      return await this.cluster.call(() => this.cluster.core.readNamespace({ name }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async #info(ns: V1Namespace): Promise<EnvironmentInfo> {
    return this.#infoWith(ns, await this.podCidrs());
  }

  #infoWith(ns: V1Namespace, sourceCidrs: string[]): EnvironmentInfo {
    return { name: ns.metadata?.name ?? '', labels: exactLabels(ns), sourceCidrs };
  }

  /**
   * Where pods' traffic comes from: the nodes' pod CIDRs (`spec.podCIDR`, set where the
   * controller manager allocates them or the node says); none when the cluster keeps them
   * elsewhere (a CNI's own IPAM), and then an organization gateway cannot tell pods by address.
   */
  async podCidrs(): Promise<string[]> {
    const { items } = await this.cluster.call(() => this.cluster.core.listNode());
    return cidrsOf(items);
  }
}

const cidrsOf = (nodes: readonly V1Node[]) => [
  ...new Set(nodes.flatMap((n) => n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []))),
];

/** The first of `labels` the namespace's exact labels differ in (`key`), or undefined. */
function foreignLabel(ns: V1Namespace, labels: Record<string, string>): string | undefined {
  const have = exactLabels(ns);
  const foreign = Object.entries(labels).find(([k, v]) => have[k] !== v);
  return foreign && `${foreign[0]} differs`;
}

function exactLabels(o: {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}) {
  const exact = o.metadata?.annotations?.[LABELS_ANNOTATION];
  if (exact) {
    try {
      return JSON.parse(exact) as Record<string, string>;
    } catch {
      // damaged: the labels themselves
    }
  }
  return o.metadata?.labels ?? {};
}
