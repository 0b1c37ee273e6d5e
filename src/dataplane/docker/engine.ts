import type { ResourceLimits } from '../../domain/resource-limits.js';
import type { LogLine, Replica, ReplicaExit, ReplicaState, ReplicaStats } from '../driver.js';

export type { LogLine, ReplicaStats };
export type WorkloadExit = ReplicaExit;

/**
 * The Docker engine client's contract (`DockerDataPlane`, over Docker's or Podman's API), which
 * the Docker driver (`docker-driver.ts`) builds its ports on. Ownership lives in labels
 * (`rondo.*`), so it keeps no local state and a restarted control plane finds everything it owns.
 */

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** One replica of a workload, as the data plane runs it. */
export interface WorkloadSpec {
  name: string;
  /** An image reference the engine can resolve (digest preferred). */
  image: string;
  labels: Record<string, string>;
  network: string;
  /** The DNS names it answers to on `network` once it is ready (`markReady`); none for a task run. */
  names: string[];
  env: Record<string, string>;
  command?: string[];
  args?: string[];
  /** Container ports the workload listens on (not published on the host). */
  ports: number[];
  /**
   * Files mounted read-only at absolute paths (configuration file mounts). Secret files are kept
   * in memory (tmpfs), never in an image layer or the container's writable layer.
   */
  files?: { path: string; content: Buffer | string; secret?: boolean }[];
  /** Hard limits per workload; unset: unlimited. */
  resources?: ResourceLimits;
  restartPolicy: 'no' | 'on-failure' | 'always';
  ulimits?: Ulimit[];
  /** `name:ip` entries for /etc/hosts. */
  extraHosts?: string[];
  /**
   * A run to completion (a task execution), not a replica: it needs no address or DNS name of its
   * own, so the data plane may start it in a shared per-network sandbox, which is much faster.
   */
  shortRun?: boolean;
}

export type WorkloadState = ReplicaState;

/** One container: the Docker driver's replica (`Replica` in the driver's ports). */
export type WorkloadInfo = Replica;

export interface NetworkInfo {
  id: string;
  name: string;
  labels: Record<string, string>;
  subnet: string;
  gateway: string;
}

/** One network's names: `<component>` and `<component>.<project>` → the addresses of ready replicas. */
export type NetworkNames = Record<string, string[]>;

export interface WorkloadStats {
  cpuPercent: number;
  memoryBytes: number;
  restarts: number;
}

export interface LogOptions {
  tail?: number;
  since?: Date;
  follow?: boolean;
}

export interface DataPlane {
  /** Throws an `RONDO_ERR_UNAVAILABLE` error saying what to fix when the engine does not answer. */
  ping(): Promise<void>;
  /** Creates the network if missing; an existing network with other labels is an error, not reused. */
  ensureNetwork(name: string, labels: Record<string, string>): Promise<NetworkInfo>;
  listNetworks(labels: Record<string, string>): Promise<NetworkInfo[]>;
  /** By name or id. */
  removeNetwork(nameOrId: string): Promise<void>;
  /** Makes `ref` present in the engine (pulling it when needed) and returns its image id. */
  ensureImage(ref: string): Promise<string>;
  /** The image's ENTRYPOINT and CMD (empty when unset), for a task run's arguments. */
  imageProcess(ref: string): Promise<{ entrypoint: string[]; cmd: string[] }>;
  /** Creates and starts one replica. */
  runWorkload(spec: WorkloadSpec): Promise<WorkloadInfo>;
  /**
   * Records that a replica passed readiness, where a restarted control plane will see it; where
   * the data plane cannot serve names itself, this also gives the replica its `names` on `network`.
   */
  markReady(id: string, network: string, names: string[]): Promise<WorkloadInfo>;
  /**
   * Replaces the names every network of this data plane answers, keyed by network name (absent:
   * none). Level-based: the gateway sync calls it with the whole state, with the gateway switch.
   */
  publishNames(tables: Map<string, NetworkNames>): Promise<void>;
  listWorkloads(labels: Record<string, string>): Promise<WorkloadInfo[]>;
  inspectWorkload(id: string): Promise<WorkloadInfo | undefined>;
  restartWorkload(id: string): Promise<void>;
  /** Stops (SIGTERM, then SIGKILL after `graceSeconds`) and removes; a missing replica is not an error. */
  removeWorkload(id: string, graceSeconds?: number): Promise<void>;
  /** The last lines of output (stdout and stderr interleaved). */
  logs(id: string, options?: LogOptions): Promise<string>;
  /** Output from the start (or `since`) as it comes; the stream ends when the workload stops. */
  followLogs(id: string, options?: { since?: Date; signal?: AbortSignal }): Promise<NodeJS.ReadableStream>;
  /**
   * Output line by line with the engine's times, from `sinceNs` (inclusive; default the start) as
   * it comes; ends when the workload stops. Optional: the runtime log collector skips a data plane
   * without it.
   */
  streamLogLines?(id: string, options?: { sinceNs?: bigint; signal?: AbortSignal }): AsyncIterable<LogLine>;
  /**
   * Every stop of a workload with these labels as it happens, until `signal`. Optional: replica
   * conditions (crashes, OOM kills) are not recorded for a data plane without it.
   */
  watchExits?(labels: Record<string, string>, signal: AbortSignal): AsyncIterable<WorkloadExit>;
  /** Resolves with the exit code once the workload has stopped (at once if it already has). */
  waitWorkload(id: string, signal?: AbortSignal): Promise<number>;
  stats(id: string): Promise<WorkloadStats>;
  /**
   * One reading of every running workload with these labels. Optional: the metrics sampler skips
   * a data plane without it.
   */
  replicaStats?(labels: Record<string, string>): Promise<ReplicaStats[]>;
}
