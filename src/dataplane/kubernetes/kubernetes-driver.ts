import type { DataPlaneDriver, LogLine, ObservePort, Replica } from '../driver.js';
import { Cluster, kubernetesConfig } from './cluster.js';
import { Environments } from './environments.js';
import { Jobs } from './jobs.js';
import { logLines } from './pods.js';
import { listReplicas, Revisions } from './revisions.js';
import { Traffic } from './traffic.js';

export type { KubernetesConfig } from './cluster.js';

export interface KubernetesDriverOptions {
  /** How long `ping` waits for the API server; default 10 s. */
  pingTimeoutMs?: number;
}

/**
 * The `kubernetes` driver: a data plane record's `config` holds `{ kubeconfig, context? }` (the
 * kubeconfig's YAML text). Environments are namespaces, revisions Deployments, replicas pods,
 * task runs Jobs; every write is a server-side apply by the field manager `rondo`. Ownership is
 * in `rondo.*` labels, so nothing is kept here that a restart would lose (but the installations
 * seen, which `traffic.publish` prunes Services of).
 */
export function kubernetesDriver(
  record: { id: string; type: string; config: Record<string, unknown> },
  options: KubernetesDriverOptions = {},
): DataPlaneDriver {
  const cluster = new Cluster(record.id, kubernetesConfig(record.id, record.config));
  const environments = new Environments(cluster);
  const observe: ObservePort = {
    list: (labels: Record<string, string>): Promise<Replica[]> => listReplicas(cluster, labels),
    logLines: (id: string, o: { sinceNs?: bigint; signal?: AbortSignal }): AsyncIterable<LogLine> =>
      logLines(cluster, id, o),
    // `exits` and `stats` are absent: a watch of pods' terminated states (exits) and the metrics
    // API or the kubelet's summary (stats, which needs metrics-server) are still to come.
  };
  return {
    // The kubelet runs liveness probes and restarts what fails them.
    capabilities: { restartsOnLiveness: true },
    async ping() {
      await cluster.version(options.pingTimeoutMs);
    },
    environments,
    revisions: new Revisions(cluster),
    traffic: new Traffic(cluster, environments),
    jobs: new Jobs(cluster),
    observe,
  };
}
