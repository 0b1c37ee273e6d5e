import type { RoutePolicy } from '../domain/gateway-routes.js';
import type { ResourceLimits } from '../domain/resource-limits.js';

/**
 * The seam between the control plane and where workloads run, as ports that mean the same on
 * Docker and on Kubernetes (G5). The control plane says what should run and reads back what
 * does; how a replica is started, probed, marked ready, named and routed to is the driver's.
 * Ownership lives in `rondo.*` labels, so a driver keeps no state a restart would lose.
 */
export interface DataPlaneDriver {
  readonly capabilities: DriverCapabilities;
  /** Throws `RONDO_ERR_UNAVAILABLE`, saying what to fix, when the data plane does not answer. */
  ping(): Promise<void>;
  /**
   * Whether it answers, its version and capacity, within `timeoutMs` (what `describe dataplane`
   * and `rondo doctor` show). Never throws: what went wrong is the status's `reason`.
   */
  status(timeoutMs: number): Promise<DataPlaneStatus>;
  readonly environments: EnvironmentsPort;
  readonly revisions: RevisionsPort;
  readonly traffic: TrafficPort;
  readonly jobs: JobsPort;
  /** What the observability collectors read; each part is absent where the data plane lacks it. */
  readonly observe: ObservePort;
  /** Closes what the driver keeps open (watches, pooled connections); where it keeps nothing, absent. */
  stop?(): Promise<void>;
}

export interface ListOptions {
  /** A watched view may answer (see `RevisionsPort.list`). */
  cached?: boolean;
}

/** A data plane as its API answers now. */
export interface DataPlaneStatus {
  /** It answered and accepted the credentials. */
  reachable: boolean;
  /** Unreachable: why, and what to fix. Reachable: what could not be read (capacity), if anything. */
  reason?: string;
  /** The engine's or the API server's version (`Docker 27.5.1`, `Kubernetes v1.20.2`). */
  version?: string;
  /** What workloads may use: the engine's host, or the sum of the nodes' allocatable. */
  capacity?: { cpus: number; memoryBytes: number; nodes?: number };
}

export interface DriverCapabilities {
  /**
   * The data plane probes liveness and restarts failing replicas itself (Kubernetes' kubelet);
   * without it the reconciler's check-liveness step does, through `revisions.probe`/`restart`.
   */
  restartsOnLiveness: boolean;
}

// ── environments ────────────────────────────────────────────────────────────────────────────

/** One (project, environment) of one installation: the isolation unit (§7). */
export interface EnvironmentRef {
  instance: string;
  org: string;
  project: string;
  environment: string;
}

export interface EnvironmentInfo {
  /** The driver's name for it (Docker: the network; Kubernetes: the namespace). */
  name: string;
  labels: Record<string, string>;
  /**
   * Addresses its workloads' traffic comes from: the organization gateway admits exactly these.
   * None where the environment has no address range of its own (Kubernetes: pods take addresses
   * from the node's range, shared by every namespace): that driver's traffic port admits the
   * environment's replicas by their own addresses instead.
   */
  sourceCidrs: string[];
  /** The address its workloads reach the platform's gateways at, when the driver has one. */
  gatewayAddress?: string;
}

export interface EnvironmentsPort {
  /** Creates it if missing; one that exists with other labels is an error, not reused. */
  ensure(ref: EnvironmentRef): Promise<EnvironmentInfo>;
  /** Every environment of this installation on the data plane. */
  list(instance: string): Promise<EnvironmentInfo[]>;
  /** Removes it with whatever the driver keeps in it (task sandboxes); a missing one is no error. */
  remove(env: EnvironmentInfo): Promise<void>;
}

// ── revisions (a deployment's replicas) ─────────────────────────────────────────────────────

/** A readiness (and liveness) check of a replica (§6.4). */
export type Probe = { kind: 'tcp'; port: number } | { kind: 'http'; port: number; path: string };

/** What one deployment of a component runs: everything a driver needs to start its replicas. */
export interface RevisionSpec {
  environment: EnvironmentInfo;
  /** `rondo.*` labels every replica carries (instance … deployment); the driver adds the replica index. */
  labels: Record<string, string>;
  /** A name prefix unique to the deployment; replicas append `-<index>`. */
  name: string;
  /** An image reference the data plane can resolve; the pinned id or digest when known. */
  image: string;
  replicas: number;
  /** Decrypted in memory at rollout; a driver keeps it only where the data plane needs it to start. */
  env: Record<string, string>;
  /** Read-only files; secret ones never touch a disk in plaintext. */
  files: { path: string; content: Buffer | string; secret?: boolean }[];
  ports: number[];
  resources?: ResourceLimits;
  readiness?: Probe;
  /** The DNS names its ready replicas answer to inside the environment. */
  names: string[];
  /** The environment's organization gateway: the driver tells workloads where (`RONDO_INTERNAL_GATEWAY`). */
  organizationGatewayPort?: number;
}

export type ReplicaState = 'created' | 'running' | 'restarting' | 'exited' | 'paused' | 'dead' | 'removing';

/** One replica (Docker: a container; Kubernetes: a pod), as the data plane reports it. */
export interface Replica {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: ReplicaState;
  /** Address on its environment's network, where the driver routes by address. */
  ip?: string;
  /** Marked serving (`revisions.markServing`): it may take traffic and answer to its names. */
  ready: boolean;
  restartCount?: number;
  exitCode?: number;
  startedAt?: string;
}

/** A replica's readiness now: ready, or why not (the probe's answer, or the stop). */
export interface ReadinessReading {
  replica: Replica | undefined;
  /** Undefined: it passed. */
  failure?: string;
  /** It stopped: no further reading will pass. */
  stopped?: boolean;
}

export interface RevisionsPort {
  /** Makes the image present where replicas start and returns what pins it (id or digest). */
  pin(image: string): Promise<string>;
  /**
   * Starts the given replica indexes of a revision (Docker: a container each; a driver that
   * scales a whole revision starts what its count says and may ignore the indexes).
   */
  start(spec: RevisionSpec, indexes: number[]): Promise<Replica[]>;
  /**
   * The replicas carrying these labels. `cached`: a view the driver keeps current by watching
   * (Kubernetes) will do, possibly a moment old; the reconciler asks for it only to find a key with
   * nothing to do, and lists again without it before acting. A driver without one reads live.
   */
  list(labels: Record<string, string>, options?: ListOptions): Promise<Replica[]>;
  /** One replica in detail (restarts, exit code); undefined when it is gone. */
  inspect(id: string): Promise<Replica | undefined>;
  /** One readiness reading of a replica (the driver's own probe, or the data plane's). */
  probe(id: string, probe: Probe | undefined): Promise<ReadinessReading>;
  /**
   * Records that a replica passed readiness where a restarted control plane will see it, and
   * lets it answer to `names` in its environment.
   */
  markServing(id: string, env: string, names: string[]): Promise<Replica>;
  restart(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceSeconds`, and removal; a missing replica is no error. */
  remove(id: string, graceSeconds: number): Promise<void>;
  /** The last lines of a replica's output (stdout and stderr interleaved). */
  logs(id: string, tail: number): Promise<string>;
}

// ── traffic ─────────────────────────────────────────────────────────────────────────────────

/** Who a route belongs to, for the gateway's access log (G3); never sent to clients. */
export interface RouteOwner {
  orgId: string;
  projectId: string;
  componentId: string;
  environmentId: string;
  deploymentId: string;
}

/**
 * A revision (deployment) that takes traffic: its replicas that passed readiness (marked
 * serving), or, while its switch is in progress, every running one (they passed readiness; the
 * marks may not have landed yet). The driver resolves how to reach them.
 */
export interface RoutedRevision extends EnvironmentRef {
  deployment: string;
  /** DNS names it answers to inside its environment. */
  names: string[];
  switching: boolean;
}

export interface RouteTarget {
  deployment: string;
  port: number;
  owner: RouteOwner;
  /** The endpoint's API management in this environment (G7); absent: none. */
  policy?: RoutePolicy;
}

export interface PathRouteIntent extends RouteTarget {
  /** External path prefix, stripped before proxying. */
  prefix: string;
  /** The endpoint's base path, replacing the prefix upstream. */
  basePath: string;
  /** The component's part of the prefix (for 404s naming the component). */
  componentPrefix: string;
}

/**
 * Everything a data plane's gateways serve, level-based: a publish replaces the previous one.
 * Computed by the control plane from the store alone (`deploy/gateway-sync.ts`).
 */
export interface RoutingState {
  revisions: RoutedRevision[];
  /** Public endpoints per environment host. */
  hosts: { host: string; routes: PathRouteIntent[] }[];
  /** Web apps, one host each. */
  webApps: ({ host: string } & RouteTarget)[];
  /**
   * Organization gateways, one per (org, environment) with a gateway slot, routes or not, each
   * open to that environment's workloads only.
   */
  internal: { org: string; environment: string; port: number; routes: PathRouteIntent[] }[];
}

export interface TrafficPort {
  /** Applies the whole routing state of this data plane; names and routes move together. */
  publish(state: RoutingState): Promise<void>;
}

// ── jobs (task runs) ────────────────────────────────────────────────────────────────────────

export interface JobSpec {
  environment: EnvironmentInfo;
  name: string;
  labels: Record<string, string>;
  image: string;
  env: Record<string, string>;
  files: { path: string; content: Buffer | string; secret?: boolean }[];
  /** Arguments after the image's own program (its ENTRYPOINT, or its CMD's first word); none: the image's process. */
  args: string[];
  resources?: ResourceLimits;
  organizationGatewayPort?: number;
}

export interface JobsPort {
  /** Starts a run to completion; resolves once it runs. */
  start(spec: JobSpec): Promise<Replica>;
  list(labels: Record<string, string>): Promise<Replica[]>;
  /** Resolves with the exit code once the run has stopped (at once if it already has). */
  wait(id: string, signal?: AbortSignal): Promise<number>;
  logs(id: string, tail: number): Promise<string>;
  /** Output from the start as it comes; the stream ends when the run stops. */
  follow(id: string, signal?: AbortSignal): Promise<NodeJS.ReadableStream>;
  /** Stops (SIGTERM, then SIGKILL after `graceSeconds`) and removes; a missing run is no error. */
  remove(id: string, graceSeconds: number): Promise<void>;
}

// ── observation for G3 ──────────────────────────────────────────────────────────────────────

/** One line of a replica's output as the data plane recorded it. */
export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** When the data plane received it, in nanoseconds since the epoch. */
  ns: bigint;
  text: string;
}

/**
 * A replica or run that stopped (on its own, killed for memory, or stopped by Rondo), reported
 * once per stop: a replica the data plane restarts in place reports each of its exits.
 */
export interface ReplicaExit {
  id: string;
  name: string;
  /** Its `rondo.*` labels, the replica's index included (as `list` gives it). */
  labels: Record<string, string>;
  exitCode: number;
  oomKilled: boolean;
  /** The data plane's word for the stop, where it gives one (Kubernetes: `Error`, `OOMKilled`, `Completed`). */
  reason?: string;
}

/**
 * One reading of a running replica's resources. CPU comes as a counter (`cpuSeconds`: Docker, the
 * kubelet's summary) or, where the data plane gives only a rate (the metrics API), as
 * `cpuMillicores`; at least one of them is set.
 */
export interface ReplicaStats {
  id: string;
  labels: Record<string, string>;
  /** CPU time since it started (a counter). */
  cpuSeconds?: number;
  /** CPU in use now, averaged over the data plane's own window (a rate). */
  cpuMillicores?: number;
  memoryBytes: number;
  restarts: number;
  oomKilled: boolean;
}

export interface ObservePort {
  /** Every replica and run carrying these labels (the collectors' listing). */
  list(labels: Record<string, string>): Promise<Replica[]>;
  /** Output line by line with the data plane's times, from `sinceNs`; ends when it stops. */
  logLines?(id: string, options: { sinceNs?: bigint; signal?: AbortSignal }): AsyncIterable<LogLine>;
  /** Every stop of a replica or run with these labels as it happens, until `signal`. */
  exits?(labels: Record<string, string>, signal: AbortSignal): AsyncIterable<ReplicaExit>;
  /** One reading of every running replica with these labels. */
  stats?(labels: Record<string, string>): Promise<ReplicaStats[]>;
}
