import { ApiException, type V1Pod } from '@kubernetes/client-node';
import { RondoError } from '../../domain/errors.js';
import type { Replica, ReplicaStats } from '../driver.js';
import { apiMessage } from './cluster.js';
import { podId } from './names.js';
import { indexedReplicas } from './pod-replicas.js';
import { CONTAINER } from './pods.js';
import { quantity } from './quantity.js';

/** The kubelet's Summary API (`stats/v1alpha1`), the parts read here. */
export interface Summary {
  pods?: {
    podRef: { name: string; namespace: string; uid?: string };
    containers?: {
      name: string;
      cpu?: { usageCoreNanoSeconds?: number; usageNanoCores?: number };
      memory?: { workingSetBytes?: number; usageBytes?: number };
    }[];
  }[];
}

/** `metrics.k8s.io/v1beta1` PodMetricsList, the parts read here. */
export interface PodMetricsList {
  items?: {
    metadata: { name: string; namespace: string };
    containers?: { name: string; usage?: { cpu?: string; memory?: string } }[];
  }[];
}

type Reading = Pick<ReplicaStats, 'cpuSeconds' | 'cpuMillicores' | 'memoryBytes'>;

/** The running replicas with what `list` gives them (index included), the pods' restarts and OOM kills. */
function running(pods: V1Pod[]): { pod: V1Pod; replica: Replica }[] {
  const byId = new Map(pods.map((p) => [podId(p.metadata?.namespace ?? '', p.metadata?.name ?? ''), p]));
  return indexedReplicas(pods)
    .filter((r) => r.state === 'running')
    .map((replica) => ({ replica, pod: byId.get(replica.id) as V1Pod }));
}

function stats(pod: V1Pod, replica: Replica, reading: Reading): ReplicaStats {
  const c =
    pod.status?.containerStatuses?.find((s) => s.name === CONTAINER) ?? pod.status?.containerStatuses?.[0];
  return {
    id: replica.id,
    labels: replica.labels,
    ...reading,
    restarts: c?.restartCount ?? 0,
    oomKilled: c?.lastState?.terminated?.reason === 'OOMKilled',
  };
}

/** Readings from the kubelets' summaries: CPU as a counter (core-seconds), memory as the working set. */
export function fromSummaries(pods: V1Pod[], summaries: Summary[]): ReplicaStats[] {
  const byPod = new Map<string, Reading>();
  for (const s of summaries)
    for (const p of s.pods ?? []) {
      const c = p.containers?.find((x) => x.name === CONTAINER) ?? p.containers?.[0];
      if (!c) continue;
      const ns = c.cpu?.usageCoreNanoSeconds;
      byPod.set(podId(p.podRef.namespace, p.podRef.name), {
        ...(ns !== undefined
          ? { cpuSeconds: ns / 1e9 }
          : c.cpu?.usageNanoCores !== undefined
            ? { cpuMillicores: c.cpu.usageNanoCores / 1e6 }
            : {}),
        memoryBytes: c.memory?.workingSetBytes ?? c.memory?.usageBytes ?? 0,
      });
    }
  return readings(pods, byPod);
}

/** Readings from the metrics API: CPU as a rate over its window (millicores), memory as the working set. */
export function fromMetrics(pods: V1Pod[], metrics: PodMetricsList): ReplicaStats[] {
  const byPod = new Map<string, Reading>();
  for (const m of metrics.items ?? []) {
    const c = m.containers?.find((x) => x.name === CONTAINER) ?? m.containers?.[0];
    if (!c) continue;
    const cores = quantity(c.usage?.cpu);
    byPod.set(podId(m.metadata.namespace, m.metadata.name), {
      ...(cores !== undefined ? { cpuMillicores: cores * 1000 } : {}),
      memoryBytes: quantity(c.usage?.memory) ?? 0,
    });
  }
  return readings(pods, byPod);
}

function readings(pods: V1Pod[], byPod: Map<string, Reading>): ReplicaStats[] {
  const out: ReplicaStats[] = [];
  for (const { pod, replica } of running(pods)) {
    const reading = byPod.get(replica.id);
    // A pod started since the kubelet's last housekeeping has no reading yet: next time.
    if (reading && (reading.cpuSeconds !== undefined || reading.cpuMillicores !== undefined))
      out.push(stats(pod, replica, reading));
  }
  return out;
}

/** After the node proxy is refused, the metrics API is used this long before the proxy is tried again. */
const RETRY_SUMMARY_MS = 10 * 60_000;

const why = (err: unknown) =>
  err instanceof ApiException ? `${err.code}: ${apiMessage(err)}` : apiMessage(err);

/**
 * Resource readings of a cluster's pods: the kubelet's Summary API through the API server's node
 * proxy (`/api/v1/nodes/{node}/proxy/stats/summary`: a CPU counter, no add-on needed), else,
 * where the credentials may not use the node proxy or a kubelet does not answer, the metrics API
 * (`metrics.k8s.io`, from metrics-server: a CPU rate). Neither answering is an error naming both.
 */
export class PodStats {
  #summaryRefusedAt: number | undefined;

  constructor(
    readonly dataPlane: string,
    readonly get: <T>(path: string) => Promise<T>,
    readonly now: () => number = Date.now,
  ) {}

  async read(pods: V1Pod[], labelSelector: string): Promise<ReplicaStats[]> {
    const live = pods.filter((p) => p.status?.phase === 'Running' && p.spec?.nodeName);
    if (live.length === 0) return [];
    let refused: unknown;
    if (this.#summaryRefusedAt === undefined || this.now() - this.#summaryRefusedAt > RETRY_SUMMARY_MS) {
      const nodes = [...new Set(live.map((p) => p.spec?.nodeName as string))];
      try {
        const summaries = await Promise.all(
          nodes.map((n) => this.get<Summary>(`/api/v1/nodes/${encodeURIComponent(n)}/proxy/stats/summary`)),
        );
        this.#summaryRefusedAt = undefined;
        return fromSummaries(pods, summaries);
      } catch (err) {
        refused = err;
        this.#summaryRefusedAt = this.now();
      }
    }
    try {
      const metrics = await this.get<PodMetricsList>(
        `/apis/metrics.k8s.io/v1beta1/pods?labelSelector=${encodeURIComponent(labelSelector)}`,
      );
      return fromMetrics(pods, metrics);
    } catch (err) {
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `no resource readings from Kubernetes data plane ${this.dataPlane}: ${
          refused === undefined
            ? 'the node proxy was refused earlier'
            : `the kubelet's summary through the node proxy failed (${why(refused)})`
        } and the metrics API failed (${why(err)}); let the credentials get nodes/proxy, or install metrics-server`,
        { cause: err },
      );
    }
  }
}
