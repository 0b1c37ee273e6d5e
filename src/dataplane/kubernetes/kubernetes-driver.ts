import type {
  DataPlaneDriver,
  DataPlaneStatus,
  LogLine,
  ObservePort,
  Replica,
  ReplicaExit,
  ReplicaStats,
} from '../driver.js';
import { Cluster, kubernetesConfig } from './cluster.js';
import { clusterStatus } from './cluster-status.js';
import { Environments } from './environments.js';
import { ClusterGateway, type ClusterGatewayOptions } from './gateway.js';
import { ClusterImages } from './images.js';
import { Jobs } from './jobs.js';
import { workloadSelector } from './names.js';
import { podExits } from './pod-exits.js';
import { PodStats } from './pod-stats.js';
import { logLines } from './pods.js';
import { listReplicas, Revisions } from './revisions.js';
import { Traffic } from './traffic.js';

export type { KubernetesConfig } from './cluster.js';

/** One reading of a node's kubelet (through the proxy) or of the metrics API. */
const STATS_TIMEOUT_MS = 10_000;

export interface KubernetesDriverOptions {
  /** How long `ping` waits for the API server; default 10 s. */
  pingTimeoutMs?: number;
  /**
   * The platform registry as the control plane reaches it (`host:port`), where builds push: its
   * images are pulled from the record's `registry` address, and its tags resolved to digests.
   */
  platformRegistry?: string;
  /**
   * Rondo's gateway inside the cluster (public hosts, web apps, organization gateways); without
   * it `traffic.publish` renders Services only.
   */
  gateway?: ClusterGatewayOptions;
}

/**
 * The `kubernetes` driver: a data plane record's `config` holds `{ kubeconfig, context?, registry? }`
 * (the kubeconfig's YAML text; where the nodes pull the platform registry's images). Environments are namespaces, revisions Deployments, replicas pods,
 * task runs Jobs; every write is a server-side apply by the field manager `rondo`. Ownership is
 * in `rondo.*` labels, so nothing is kept here that a restart would lose (but the installations
 * seen, which `traffic.publish` prunes Services of).
 */
export function kubernetesDriver(
  record: { id: string; type: string; config: Record<string, unknown> },
  options: KubernetesDriverOptions = {},
): DataPlaneDriver {
  const config = kubernetesConfig(record.id, record.config);
  const cluster = new Cluster(record.id, config);
  const images = new ClusterImages(options.platformRegistry, config.registry);
  const environments = new Environments(cluster, images);
  const gateway = options.gateway ? new ClusterGateway(cluster, images, options.gateway) : undefined;
  const podStats = new PodStats(record.id, (path) => cluster.getJson(path, STATS_TIMEOUT_MS));
  const observe: ObservePort = {
    list: (labels: Record<string, string>): Promise<Replica[]> => listReplicas(cluster, labels),
    logLines: (id: string, o: { sinceNs?: bigint; signal?: AbortSignal }): AsyncIterable<LogLine> =>
      logLines(cluster, id, o),
    exits: (labels: Record<string, string>, signal: AbortSignal): AsyncIterable<ReplicaExit> =>
      podExits(cluster, labels, signal),
    async stats(labels: Record<string, string>): Promise<ReplicaStats[]> {
      const labelSelector = workloadSelector(labels);
      const { items } = await cluster.call(() => cluster.core.listPodForAllNamespaces({ labelSelector }));
      return podStats.read(items, labelSelector);
    },
  };
  return {
    // The kubelet runs liveness probes and restarts what fails them.
    capabilities: { restartsOnLiveness: true },
    async ping() {
      await cluster.version(options.pingTimeoutMs);
    },
    status: (timeoutMs: number): Promise<DataPlaneStatus> => clusterStatus(cluster, timeoutMs),
    environments,
    revisions: new Revisions(
      cluster,
      images,
      gateway !== undefined,
      gateway ? (ip, probe, withinMs) => gateway.probe(ip, probe, withinMs) : undefined,
    ),
    traffic: new Traffic(cluster, environments, gateway),
    jobs: new Jobs(cluster, images, options.gateway !== undefined),
    observe,
    // The caches' watches and the pooled connections (registry shutdown, tests).
    stop: () => cluster.stop(),
  };
}
