import type { KubernetesObject, V1Service } from '@kubernetes/client-node';
import type { RouteTarget, RoutingState, TrafficPort } from '../driver.js';
import { gatewayPart, routedAddresses } from '../gateway-part.js';
import { LABEL } from '../labels.js';
import { type Cluster, isCurrent, isNotFound } from './cluster.js';
import { type Environments, namespaceName } from './environments.js';
import type { ClusterGateway } from './gateway.js';
import { dnsLabel, LABELS_ANNOTATION, labelValue, labelValues, selector } from './names.js';
import { listReplicas } from './revisions.js';

/** On the Services `publish` renders (and prunes). */
const SERVICE_LABEL = 'rondo.service';

interface ServiceIntent {
  namespace: string;
  component: string;
  deployments: Set<string>;
  ports: Set<number>;
  /** The installation whose caches know the namespace. */
  instance: string;
}

/**
 * Routing on a cluster. With a gateway (the driver's `gateway` option): Rondo's gateway inside the
 * cluster (`gateway.ts`) serves the public hosts, web apps and organization gateways, dialling
 * the routed replicas by pod IP, chosen as on Docker (`routedAddresses`). And one Service per
 * routed component: its selector the routed deployment's label, its ports the routed ones; where
 * the cluster has DNS and a Service proxy they give the component a stable name and address (the
 * test cluster has neither). Level-based: Services of this installation that the state no longer
 * routes to are deleted.
 */
export class Traffic implements TrafficPort {
  constructor(
    readonly cluster: Cluster,
    readonly environments: Environments,
    readonly gateway?: ClusterGateway,
  ) {}

  async publish(state: RoutingState): Promise<void> {
    await Promise.all([this.#services(state), this.#gateway(state)]);
  }

  /**
   * The gateway's part: upstreams the routed replicas' pod IPs; an organization gateway open to
   * the addresses of its environment's pods (every project's), as they are now.
   */
  async #gateway(state: RoutingState): Promise<void> {
    if (!this.gateway) return;
    const pods = await listReplicas(this.cluster, { [LABEL.instance]: this.gateway.options.instance });
    const part = gatewayPart(state, routedAddresses(state, pods), (org, environment) => [
      ...new Set(
        pods
          .filter(
            (p) =>
              p.ip &&
              p.state !== 'removing' &&
              p.labels[LABEL.org] === org &&
              p.labels[LABEL.environment] === environment,
          )
          .map((p) => `${p.ip}/32`),
      ),
    ]);
    await this.gateway.publish(part);
  }

  /**
   * The Services the state routes to, applied where new or changed, and the installation's others
   * deleted. Decided first on the caches (`live` false): when they show nothing to change, nothing
   * is sent; when they show anything to write, the whole decision is taken again on live reads.
   */
  async #services(state: RoutingState, live = false): Promise<void> {
    const targets: RouteTarget[] = [
      ...state.hosts.flatMap((h) => h.routes),
      ...state.webApps,
      ...state.internal.flatMap((i) => i.routes),
    ];
    const revisions = new Map(state.revisions.map((r) => [r.deployment, r]));
    const intents = new Map<string, ServiceIntent>();
    for (const t of targets) {
      const revision = revisions.get(t.deployment);
      if (!revision) continue;
      const namespace = namespaceName(revision);
      const key = `${namespace}/${t.owner.componentId}`;
      const intent = intents.get(key) ?? {
        namespace,
        component: t.owner.componentId,
        deployments: new Set<string>(),
        ports: new Set<number>(),
        instance: revision.instance,
      };
      intent.deployments.add(t.owner.deploymentId);
      intent.ports.add(t.port);
      intents.set(key, intent);
    }
    const namespaces = await this.#namespaceLabels(
      [...new Map([...intents.values()].map((i) => [i.namespace, i.instance])).entries()],
      live,
    );
    for (const owner of namespaces.values()) {
      const instance = owner[LABEL.instance];
      if (instance) this.environments.instances.add(instance);
    }
    // What is there now, read once: a Service already as wanted is not applied again.
    const existing = await this.#existingServices(live);
    const keep = new Set<string>();
    const changed: { desired: KubernetesObject & V1Service; observed: V1Service | undefined }[] = [];
    for (const intent of intents.values()) {
      const owner = namespaces.get(intent.namespace) ?? {};
      const name = serviceName(intent.component);
      keep.add(`${intent.namespace}/${name}`);
      const labels = { ...owner, [LABEL.component]: intent.component, [SERVICE_LABEL]: 'true' };
      // One deployment routed: its pods; during a shift between two, the component's pods.
      const only = intent.deployments.size === 1 ? [...intent.deployments][0] : undefined;
      const podSelector: Record<string, string> = only
        ? { [LABEL.deployment]: labelValue(only) }
        : { [LABEL.component]: labelValue(intent.component) };
      const desired: KubernetesObject & V1Service = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name,
          namespace: intent.namespace,
          labels: labelValues(labels),
          annotations: { [LABELS_ANNOTATION]: JSON.stringify(labels) },
        },
        spec: {
          selector: podSelector,
          // 1.20's server-side apply refuses a Service port without its protocol.
          ports: [...intent.ports]
            .sort((a, b) => a - b)
            .map((port) => ({ name: `tcp-${port}`, port, targetPort: port, protocol: 'TCP' })),
        },
      };
      const observed = existing.get(`${intent.namespace}/${name}`);
      if (!isCurrent(observed, desired)) changed.push({ desired, observed });
    }
    const stale = [...existing.keys()].some((key) => !keep.has(key));
    if (changed.length === 0 && !stale) return;
    if (!live) return this.#services(state, true);
    for (const c of changed) await this.cluster.applyChanged(c.desired, c.observed);
    await this.#prune(keep, existing);
  }

  /**
   * The Services `publish` rendered, of every installation this driver knows, by `namespace/name`:
   * from each installation's cache while it is in sync, unless `live`.
   */
  async #existingServices(live: boolean): Promise<Map<string, KubernetesObject & V1Service>> {
    const out = new Map<string, KubernetesObject & V1Service>();
    for (const instance of this.environments.instances) {
      const view = live ? undefined : this.cluster.caches.of(instance)?.services.view();
      const items = view
        ? view.list().filter((s) => s.metadata?.labels?.[SERVICE_LABEL] === 'true')
        : (
            await this.cluster.call(() =>
              this.cluster.core.listServiceForAllNamespaces({
                labelSelector: selector({ [LABEL.instance]: instance, [SERVICE_LABEL]: 'true' }),
              }),
            )
          ).items;
      for (const s of items)
        out.set(`${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`, {
          ...s,
          apiVersion: 'v1',
          kind: 'Service',
        });
    }
    return out;
  }

  /** Each namespace's exact labels (`[name, installation]` pairs), from the cache unless `live`. */
  async #namespaceLabels(
    names: [string, string | undefined][],
    live: boolean,
  ): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    for (const [name, instance] of names) {
      const view = live || !instance ? undefined : this.cluster.caches.of(instance)?.namespaces.view();
      try {
        const ns = view
          ? view.get(name)
          : await this.cluster.call(() => this.cluster.core.readNamespace({ name }));
        if (!ns) continue;
        const exact = ns.metadata?.annotations?.[LABELS_ANNOTATION];
        out.set(name, exact ? (JSON.parse(exact) as Record<string, string>) : (ns.metadata?.labels ?? {}));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out;
  }

  /** Deletes the Services of the installations this driver knows that the state no longer names. */
  async #prune(keep: Set<string>, existing: Map<string, V1Service>): Promise<void> {
    for (const [key, s] of existing) {
      if (keep.has(key)) continue;
      const namespace = s.metadata?.namespace ?? '';
      const name = s.metadata?.name ?? '';
      await this.cluster
        .call(() => this.cluster.core.deleteNamespacedService({ name, namespace }))
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      // A publish right after must not find it in a cache that has not seen the deletion yet.
      for (const instance of this.environments.instances)
        this.cluster.caches.of(instance)?.services.removed(name, namespace);
    }
  }
}

/** A Service's name is a DNS-1035 label: it starts with a letter. */
const serviceName = (component: string) => {
  const name = dnsLabel(component);
  return /^[a-z]/.test(name) ? name : dnsLabel(`c-${component}`);
};
