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
