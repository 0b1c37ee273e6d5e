import type {
  KubernetesListObject,
  KubernetesObject,
  V1Namespace,
  V1NetworkPolicy,
  V1Node,
  V1Pod,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { LABEL } from '../labels.js';
import type { Cluster } from './cluster.js';
import { PULL_SECRET } from './images.js';
import { labelValue, selector } from './names.js';
import { WatchCache, type Watcher } from './watch-cache.js';

/** A first list of 1,000 pods takes seconds on a loaded API server: more than `getJson`'s default. */
const LIST_TIMEOUT_MS = 60_000;

/**
 * What one installation (`rondo.instance`) has on one cluster, as watch-backed caches: its pods,
 * namespaces, NetworkPolicies, pull Secrets and Services (each by the installation's labels), and
 * the cluster's nodes (their pod CIDRs). An idle reconcile asks these instead of the API server:
 * 1,000 keys made 4 calls each per full pass (pods, namespace, policies, nodes).
 *
 * Each answers only while in sync (`view()`), else its caller reads live; and a cache only ever
 * confirms that there is nothing to do: whatever would be written is read live first, so a cache
 * that lags can cost a read, never a wrong write (at most a write delayed until the watch brings
 * someone else's change; this process's own deletions are waited for, `WatchCache.removed`).
 *
 * The objects are the API's JSON as listed and watched (`Cluster.getJson`, not the generated
 * clients' models, so list and watch agree on field names and types).
 */
export class ClusterCache {
  readonly pods: WatchCache<V1Pod>;
  readonly namespaces: WatchCache<V1Namespace>;
  readonly networkPolicies: WatchCache<V1NetworkPolicy>;
  readonly pullSecrets: WatchCache<V1Secret>;
  readonly services: WatchCache<V1Service>;
  readonly nodes: WatchCache<V1Node>;

  constructor(cluster: Cluster, instance: string, watcher?: Watcher) {
    const owned = selector({ [LABEL.instance]: instance, [LABEL.managed]: 'true' });
    const cache = <T extends KubernetesObject>(
      path: string,
      labelSelector?: string,
      fieldSelector?: string,
    ) => {
      const query = new URLSearchParams({
        ...(labelSelector ? { labelSelector } : {}),
        ...(fieldSelector ? { fieldSelector } : {}),
      }).toString();
      return new WatchCache<T>(
        cluster.kc,
        {
          path,
          list: () =>
            cluster.getJson<KubernetesListObject<T>>(`${path}${query ? `?${query}` : ''}`, LIST_TIMEOUT_MS),
          ...(labelSelector ? { labelSelector } : {}),
          ...(fieldSelector ? { fieldSelector } : {}),
        },
        watcher,
      );
    };
    this.pods = cache('/api/v1/pods', owned);
    this.namespaces = cache('/api/v1/namespaces', owned);
    this.networkPolicies = cache('/apis/networking.k8s.io/v1/networkpolicies', owned);
    // Only the pull Secret: the deployments' env Secrets hold configuration values, which have
    // no business staying in the control plane's memory.
    this.pullSecrets = cache('/api/v1/secrets', owned, `metadata.name=${PULL_SECRET}`);
    this.services = cache('/api/v1/services', owned);
    this.nodes = cache('/api/v1/nodes');
  }

  get #all() {
    return [this.pods, this.namespaces, this.networkPolicies, this.pullSecrets, this.services, this.nodes];
  }

  start(): void {
    for (const c of this.#all) c.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#all.map((c) => c.stop()));
  }

  /** Resolves once every cache is in sync (or stopped). */
  async whenSynced(): Promise<void> {
    await Promise.all(this.#all.map((c) => c.whenSynced()));
  }
}

/**
 * One `ClusterCache` per installation seen on the cluster, started on first use: a control plane
 * is one installation, so in practice one. Lives and stops with the driver.
 */
export class ClusterCaches {
  readonly #caches = new Map<string, ClusterCache>();
  #stopped = false;

  constructor(
    readonly cluster: Cluster,
    readonly watcher?: Watcher,
  ) {}

  /** The installation's caches, started now if they were not (they answer once in sync). */
  of(instance: string): ClusterCache | undefined {
    if (this.#stopped) return undefined;
    let c = this.#caches.get(instance);
    if (!c) {
      c = new ClusterCache(this.cluster, instance, this.watcher);
      this.#caches.set(instance, c);
      c.start();
    }
    return c;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#caches.values()].map((c) => c.stop()));
    this.#caches.clear();
  }
}

/** Whether `o` carries every label of `labels` (values as Kubernetes holds them), as a selector would. */
export function hasLabels(o: KubernetesObject, labels: Record<string, string>): boolean {
  const have = o.metadata?.labels ?? {};
  return Object.entries(labels).every(([k, v]) => have[k] === labelValue(v));
}
