import { ApiException, type V1NodeList } from '@kubernetes/client-node';
import type { DataPlaneStatus } from '../driver.js';
import { apiMessage, type Cluster } from './cluster.js';
import { quantity } from './quantity.js';

const isReady = (n: V1NodeList['items'][number]) =>
  n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Why the API server did not take the call, and what to fix. */
function unreachable(cluster: Cluster, err: unknown): string {
  if (err instanceof ApiException && (err.code === 401 || err.code === 403))
    return `the API server at ${cluster.server} refused the kubeconfig's credentials (${err.code}: ${apiMessage(err)}); register the cluster again with current credentials`;
  const why = err instanceof ApiException ? `${err.code}: ${apiMessage(err)}` : apiMessage(err);
  return `the API server at ${cluster.server} does not answer (${why}); check that it runs and that the control plane can reach it (routes, firewalls, its certificate authority)`;
}

/**
 * Reachability, the server's version and the nodes' allocatable CPU and memory, each call within
 * what is left of `timeoutMs`. Credentials that may not list nodes still give a reachable status,
 * with the capacity missing and the reason.
 */
export async function clusterStatus(cluster: Cluster, timeoutMs: number): Promise<DataPlaneStatus> {
  const end = Date.now() + timeoutMs;
  const left = () => Math.max(1, end - Date.now());
  let version: string;
  try {
    version = `Kubernetes ${(await cluster.getJson<{ gitVersion: string }>('/version', left())).gitVersion}`;
  } catch (err) {
    return { reachable: false, reason: unreachable(cluster, err) };
  }
  let nodes: V1NodeList;
  try {
    nodes = await cluster.getJson<V1NodeList>('/api/v1/nodes', left());
  } catch (err) {
    if (err instanceof ApiException && err.code === 401)
      return { reachable: false, version, reason: unreachable(cluster, err) };
    const why = err instanceof ApiException ? `${err.code}: ${apiMessage(err)}` : apiMessage(err);
    return {
      reachable: true,
      version,
      reason: `capacity unknown: listing the nodes failed (${why}); let the credentials list nodes to see it`,
    };
  }
  const ready = nodes.items.filter(isReady);
  let cpus = 0;
  let memoryBytes = 0;
  for (const n of ready) {
    cpus += quantity(n.status?.allocatable?.cpu) ?? 0;
    memoryBytes += quantity(n.status?.allocatable?.memory) ?? 0;
  }
  const notReady = nodes.items.length - ready.length;
  return {
    reachable: true,
    version,
    // Round away float noise of milli-cores; capacity is what Ready nodes can run.
    capacity: {
      cpus: Math.round(cpus * 1000) / 1000,
      memoryBytes: Math.round(memoryBytes),
      nodes: ready.length,
    },
    ...(nodes.items.length === 0
      ? { reason: 'the cluster has no nodes: nothing can run on it' }
      : notReady > 0
        ? { reason: `${notReady} of ${nodes.items.length} nodes are not Ready (not counted in the capacity)` }
        : {}),
  };
}
