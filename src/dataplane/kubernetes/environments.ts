import type {
  KubernetesObject,
  V1Namespace,
  V1NetworkPolicy,
  V1NetworkPolicySpec,
} from '@kubernetes/client-node';
import type { EnvironmentInfo, EnvironmentRef, EnvironmentsPort } from '../driver.js';
import { LABEL, networkLabels } from '../labels.js';
import { type Cluster, isNotFound } from './cluster.js';
import type { ClusterImages } from './images.js';
import { dnsLabel, LABELS_ANNOTATION, labelValues, workloadSelector } from './names.js';

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
    const existing = await this.#read(name);
    if (existing) {
      const have = exactLabels(existing);
      const foreign = Object.entries(labels).find(([k, v]) => have[k] !== v);
      if (foreign)
        throw new Error(
          `namespace ${name} exists but is not Rondo's for this environment (label ${foreign[0]} differs); remove or rename it`,
        );
    }
    const ns = await this.cluster.applyChanged<KubernetesObject & V1Namespace>(
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name,
          labels: labelValues(labels),
          annotations: { [LABELS_ANNOTATION]: JSON.stringify(labels) },
        },
      },
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
    // The client's models name `from` `_from`: objects are written in its names, checked by type.
    const policy = (policyName: string, spec: V1NetworkPolicySpec) =>
      this.cluster.applyChanged<KubernetesObject & V1NetworkPolicy>(
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: policyName, namespace: name, labels: labelValues(labels) },
          spec,
        },
        policies.get(policyName),
      );
    await policy('rondo-default-deny', { podSelector: {}, policyTypes: ['Ingress'] });
    await policy('rondo-same-environment', {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ _from: [{ podSelector: {} }] }],
    });
    // The pods of a registry that asks for credentials name this Secret (`imagePullSecrets`).
    const pull = this.images?.pullSecret(name, labels);
    if (pull)
      await this.cluster.applyChanged(pull, existing ? await this.#readSecret(name, pull) : undefined);
    return this.#info(ns);
  }

  async list(instance: string): Promise<EnvironmentInfo[]> {
    this.instances.add(instance);
    const { items } = await this.cluster.call(() =>
      this.cluster.core.listNamespace({
        labelSelector: workloadSelector({ [LABEL.instance]: instance, [LABEL.managed]: 'true' }),
      }),
    );
    const cidrs = await this.podCidrs();
    return items.filter((n) => !n.metadata?.deletionTimestamp).map((n) => this.#infoWith(n, cidrs));
  }

  /** Deletes the namespace and everything in it; resolves once the API server has accepted it. */
  async remove(env: EnvironmentInfo): Promise<void> {
    try {
      await this.cluster.call(() => this.cluster.core.deleteNamespace({ name: env.name }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
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
    const cidrs = items.flatMap((n) => n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []));
    return [...new Set(cidrs)];
  }
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
