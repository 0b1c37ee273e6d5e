import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import type { ResourceLimits } from '../../domain/resource-limits.js';
import type { DataPlaneStatus } from '../driver.js';
import { LABEL } from '../labels.js';
import type {
  LogLine,
  LogOptions,
  NetworkInfo,
  NetworkNames,
  ReplicaStats,
  WorkloadExit,
  WorkloadInfo,
  WorkloadSpec,
  WorkloadState,
  WorkloadStats,
} from './engine.js';
import { engineMessage, engineUnavailable, isAlready, isNotFound } from './engine-errors.js';
import { engineExits } from './engine-events.js';
import { engineStatus } from './engine-status.js';
import { dockerSince, logFrames } from './log-frames.js';
import type { NameServer } from './name-server.js';
import { type ClaimedSandbox, ReplicaSandboxes } from './replica-sandboxes.js';
import { replicaStats } from './replica-stats.js';
import { TaskSandboxes } from './task-sandbox.js';

export interface DockerDataPlaneConfig {
  /** Docker's or Podman's API socket; default /var/run/docker.sock. */
  socketPath?: string;
  /** Where replicas' mounted files live on the engine's host; default /dev/shm/rondo-files (tmpfs). */
  filesDir?: string;
  /**
   * Answers replicas' names on each network (one per host, shared by its data planes). Without
   * it, or where it cannot listen, a replica gets its names as Docker aliases, by a reconnect.
   */
  names?: NameServer;
  /** The host's resolver file: the servers a replica asks after Rondo's; default /etc/resolv.conf. */
  resolvConf?: string;
}

/**
 * Suffix of a replica's container name until it passes readiness. Docker has no mutable label;
 * a rename is cheap and in place, and a restarted control plane reads it back from the engine.
 */
const STARTING = '.starting';
const baseName = (name: string) => (name.endsWith(STARTING) ? name.slice(0, -STARTING.length) : name);

/** The name servers of `resolvConf`; Docker forwards to three at most, and Rondo's is the first. */
function hostNameservers(resolvConf: string): string[] {
  let text = '';
  try {
    text = readFileSync(resolvConf, 'utf8');
  } catch {
    return [];
  }
  const found = text.split('\n').map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1] ?? '');
  return found.filter((ip) => isIP(ip) !== 0).slice(0, 2);
}

const labelFilter = (labels: Record<string, string>) => ({
  label: Object.entries(labels).map(([k, v]) => `${k}=${v}`),
});

/** Splits Docker's multiplexed log stream (8-byte frame headers) into text. */
function demux(buf: Buffer): string {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length && (buf[i] === 1 || buf[i] === 2) && buf[i + 1] === 0) {
    const size = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return i === 0 ? buf.toString('utf8') : Buffer.concat(out).toString('utf8');
}

/** Writes a replica's files under `dir` (0700, tmpfs by default) for read-only bind mounts. */
function writeFiles(dir: string, files: NonNullable<WorkloadSpec['files']>) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return files.map((f, i) => {
    const source = join(dir, String(i));
    // 0444: the replica may run as any user; the 0700 directory keeps other host users out.
    writeFileSync(source, f.content, { mode: 0o444 });
    return { Type: 'bind' as const, Source: source, Target: f.path, ReadOnly: true };
  });
}

/**
 * The Docker (or Podman) engine over its HTTP API (dockerode), as the Docker driver uses it:
 * networks, images, containers, their logs, events and stats.
 */
export class DockerDataPlane {
  readonly #docker: Docker;
  readonly #socketPath: string;
  readonly #filesDir: string;
  readonly #sandboxes: TaskSandboxes;
  readonly #replicaSandboxes: ReplicaSandboxes;
  /** Without the host's name servers a replica could resolve nothing outside: no names then. */
  readonly #names: NameServer | undefined;
  readonly #upstreams: string[];
  /** Networks this data plane has seen, by name: their gateways are where names are served. */
  readonly #networks = new Map<string, NetworkInfo>();

  constructor(config: DockerDataPlaneConfig = {}) {
    this.#socketPath = config.socketPath ?? '/var/run/docker.sock';
    this.#filesDir = config.filesDir ?? '/dev/shm/rondo-files';
    this.#docker = new Docker({ socketPath: this.#socketPath });
    this.#sandboxes = new TaskSandboxes(this.#docker);
    this.#replicaSandboxes = new ReplicaSandboxes(this.#docker);
    this.#upstreams = hostNameservers(config.resolvConf ?? '/etc/resolv.conf');
    this.#names = this.#upstreams.length > 0 ? config.names : undefined;
  }

  /** Where a replica on `network` asks for names: Rondo's first, then the host's; undefined: Docker's default. */
  #dnsFor(network: string): string[] | undefined {
    const n = this.#networks.get(network);
    return n && this.#names?.serves(network) ? [n.gateway, ...this.#upstreams] : undefined;
  }

  async #serveNames(n: NetworkInfo): Promise<NetworkInfo> {
    this.#networks.set(n.name, n);
    if (this.#names && n.gateway && n.subnet) await this.#names.listen(n);
    return n;
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw engineUnavailable(err, this.#socketPath);
    }
  }

  async ping(): Promise<void> {
    await this.#call(() => this.#docker.ping());
  }

  status(timeoutMs: number): Promise<DataPlaneStatus> {
    return engineStatus(this.#docker, this.#socketPath, timeoutMs);
  }

  async ensureNetwork(name: string, labels: Record<string, string>): Promise<NetworkInfo> {
    const existing = await this.#inspectNetwork(name);
    if (existing) {
      const foreign = Object.entries(labels).find(([k, v]) => existing.labels[k] !== v);
      if (foreign)
        throw new Error(
          `network ${name} exists but is not Rondo's (label ${foreign[0]} differs); remove or rename it`,
        );
      return this.#serveNames(existing);
    }
    try {
      await this.#call(() =>
        this.#docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true }),
      );
    } catch (err) {
      if (!isAlready(err)) throw err;
    }
    const created = await this.#inspectNetwork(name);
    if (!created) throw new Error(`network ${name} vanished right after it was created`);
    return this.#serveNames(created);
  }

  async #inspectNetwork(name: string): Promise<NetworkInfo | undefined> {
    try {
      return networkInfo(await this.#call(() => this.#docker.getNetwork(name).inspect()));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async listNetworks(labels: Record<string, string>): Promise<NetworkInfo[]> {
    // The list carries labels and addresses already: one call, not one inspect per network.
    const list = await this.#call(() => this.#docker.listNetworks({ filters: labelFilter(labels) }));
    return list.map(networkInfo);
  }

  async removeNetwork(nameOrId: string): Promise<void> {
    try {
      await this.#call(() => this.#docker.getNetwork(nameOrId).remove());
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    for (const n of this.#networks.values()) {
      if (n.name !== nameOrId && n.id !== nameOrId) continue;
      this.#names?.forget(n.name);
      this.#replicaSandboxes.forget(n.name);
      this.#networks.delete(n.name);
    }
  }

  async imageProcess(ref: string): Promise<{ entrypoint: string[]; cmd: string[] }> {
    const { Config } = await this.#call(() => this.#docker.getImage(ref).inspect());
    const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);
    return { entrypoint: list(Config.Entrypoint), cmd: list(Config.Cmd) };
  }

  async ensureImage(ref: string): Promise<string> {
    try {
      return (await this.#call(() => this.#docker.getImage(ref).inspect())).Id;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const stream = await this.#call(() => this.#docker.pull(ref)).catch((err: unknown) => {
      throw new Error(`cannot pull image ${ref}: ${engineMessage(err).trim()}`, { cause: err });
    });
    await new Promise<void>((resolve, reject) =>
      this.#docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
    ).catch((err: unknown) => {
      throw new Error(`cannot pull image ${ref}: ${engineMessage(err)}`, { cause: err });
    });
    return (await this.#docker.getImage(ref).inspect()).Id;
  }

  async runWorkload(spec: WorkloadSpec): Promise<WorkloadInfo> {
    if (!spec.shortRun) return this.#runReplica(spec);
    const sandbox = await this.#sandboxFor(spec).catch(() => undefined);
    if (sandbox) {
      try {
        return await this.#run(spec, sandbox);
      } catch {
        // The sandbox went (stopped, removed): this run joins the network itself.
        this.#sandboxes.forget(spec.network);
      }
    }
    return this.#run(spec, undefined);
  }

  #sandboxFor(spec: WorkloadSpec): Promise<string | undefined> {
    const dns = this.#dnsFor(spec.network);
    return this.#sandboxes.for(spec.network, ownerLabels(spec.labels), {
      ...(spec.extraHosts ? { extraHosts: spec.extraHosts } : {}),
      ...(dns ? { dns } : {}),
    });
  }

  /**
   * A replica joins its network's warm sandbox when there is one (replica-sandboxes.ts), which
   * skips the engine's network set-up; the next spare is made after a pause, off this rollout's
   * path. Only where Rondo's name server answers for the network: Docker's aliases need the
   * replica on the network itself.
   */
  async #runReplica(spec: WorkloadSpec): Promise<WorkloadInfo> {
    const dns = this.#dnsFor(spec.network);
    if (!dns) return this.#run(spec, undefined);
    const wiring = { ...(spec.extraHosts ? { extraHosts: spec.extraHosts } : {}), dns };
    const sandbox = await this.#replicaSandboxes.claim(spec.network, wiring);
    const labels = ownerLabels(spec.labels);
    // Only while the name server still answers there: a stopped control plane leaves no spare behind.
    const wanted = () => this.#dnsFor(spec.network) !== undefined;
    setTimeout(
      () => this.#replicaSandboxes.prepare(spec.network, labels, wiring, wanted),
      SPARE_PAUSE_MS,
    ).unref();
    if (!sandbox) return this.#run(spec, undefined);
    try {
      return await this.#run(spec, sandbox.id, sandbox);
    } catch (err) {
      await this.#docker
        .getContainer(sandbox.id)
        .remove({ force: true })
        .catch(() => undefined);
      throw err;
    }
  }

  /**
   * Creates and starts one container: on `spec.network`, or in the network namespace of
   * `sandbox` (a task's shared one, or a replica's own `claimed` one).
   */
  async #run(
    spec: WorkloadSpec,
    sandbox: string | undefined,
    claimed?: ClaimedSandbox,
  ): Promise<WorkloadInfo> {
    const mounts = spec.files?.length ? writeFiles(join(this.#filesDir, spec.name), spec.files) : [];
    const dns = sandbox ? undefined : this.#dnsFor(spec.network);
    const container = await this.#call(() =>
      this.#docker.createContainer({
        // A replica is named as starting until readiness; a run to completion has no names to gate.
        name: spec.names.length > 0 ? `${spec.name}${STARTING}` : spec.name,
        Image: spec.image,
        Labels: claimed
          ? { ...spec.labels, [LABEL.netns]: claimed.id, [LABEL.address]: claimed.ip }
          : spec.labels,
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        ...(spec.command ? { Entrypoint: spec.command } : {}),
        ...(spec.args ? { Cmd: spec.args } : {}),
        // The engine refuses exposed ports in another container's namespace (they are only metadata).
        ...(spec.ports.length && !sandbox
          ? { ExposedPorts: Object.fromEntries(spec.ports.map((p) => [`${p}/tcp`, {}])) }
          : {}),
        HostConfig: {
          NetworkMode: sandbox ? `container:${sandbox}` : spec.network,
          ...(mounts.length ? { Mounts: mounts } : {}),
          RestartPolicy: {
            Name: spec.restartPolicy,
            ...(spec.restartPolicy === 'on-failure' ? { MaximumRetryCount: 10 } : {}),
          },
          ...hostLimits(spec.resources),
          ...(spec.ulimits
            ? { Ulimits: spec.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) }
            : {}),
          // In a sandbox, /etc/hosts is the sandbox's (which has these entries).
          ...(spec.extraHosts && !sandbox ? { ExtraHosts: spec.extraHosts } : {}),
          ...(dns ? { Dns: dns } : {}),
        },
      }),
    );
    try {
      await container.start();
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      throw new Error(`cannot start ${spec.name}: ${engineMessage(err)}`, { cause: err });
    }
    const info = await this.inspectWorkload(container.id);
    if (!info) throw new Error(`container ${spec.name} vanished right after it started`);
    return info;
  }

  async markReady(id: string, network: string, names: string[]): Promise<WorkloadInfo> {
    const before = await this.inspectWorkload(id);
    if (!before) throw new Error(`container ${id} vanished before it was marked ready`);
    if (before.ready) return before;
    if (names.length > 0 && !this.#names?.serves(network) && !before.labels[LABEL.netns]) {
      // Docker cannot change aliases in place: a reconnect gives them (and a new address), ~100 ms.
      const net = this.#docker.getNetwork(network);
      await this.#call(() => net.disconnect({ Container: id, Force: true }));
      await this.#call(() => net.connect({ Container: id, EndpointConfig: { Aliases: names } }));
    }
    // Last: a control plane killed before this point probes the replica again.
    await this.#call(() => this.#docker.getContainer(id).rename({ name: before.name }));
    const info = await this.inspectWorkload(id);
    if (!info) throw new Error(`container ${id} vanished while it was marked ready`);
    return info;
  }

  async publishNames(tables: Map<string, NetworkNames>): Promise<void> {
    if (!this.#names) return;
    for (const name of tables.keys()) {
      if (this.#names.serves(name)) continue;
      // After a restart the networks are known only to the engine.
      const n = this.#networks.get(name) ?? (await this.#inspectNetwork(name));
      if (n) await this.#serveNames(n);
    }
    this.#names.publish(tables, this.#networks.keys());
  }

  async listWorkloads(labels: Record<string, string>): Promise<WorkloadInfo[]> {
    const list = await this.#call(() =>
      this.#docker.listContainers({ all: true, filters: labelFilter(labels) }),
    );
    // One call: the list has names, labels, states and addresses. An inspect per container
    // (for restart counts) made each gateway sync slower with every replica on the engine.
    return list.map(listedWorkload);
  }

  async inspectWorkload(id: string): Promise<WorkloadInfo | undefined> {
    try {
      const c = await this.#call(() => this.#docker.getContainer(id).inspect());
      const nets = Object.values(c.NetworkSettings.Networks ?? {});
      const primary = nets[0];
      const info: WorkloadInfo = {
        id: c.Id,
        name: baseName(c.Name.replace(/^\//, '')),
        labels: c.Config.Labels ?? {},
        state: c.State.Status as WorkloadState,
        ready: !c.Name.endsWith(STARTING),
        restartCount: c.RestartCount ?? 0,
      };
      const ip = primary?.IPAddress || info.labels[LABEL.address];
      if (ip) info.ip = ip;
      // A restarting replica's last exit is why it restarts.
      if (c.State.Status === 'exited' || c.State.Status === 'restarting') info.exitCode = c.State.ExitCode;
      if (c.State.StartedAt) info.startedAt = c.State.StartedAt;
      return info;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Starts a container that was created and never started; one already running is no error. */
  async startWorkload(id: string): Promise<void> {
    try {
      await this.#call(() => this.#docker.getContainer(id).start());
    } catch (err) {
      if (!isAlready(err)) throw err;
    }
  }

  async restartWorkload(id: string): Promise<void> {
    try {
      await this.#call(() => this.#docker.getContainer(id).restart({ t: 5 }));
    } catch (err) {
      // A replica whose sandbox is gone cannot start again in it: removed, the reconciler starts another.
      const w = await this.inspectWorkload(id);
      if (!w?.labels[LABEL.netns]) throw err;
      await this.removeWorkload(id, 0);
    }
  }

  async removeWorkload(id: string, graceSeconds = 10): Promise<void> {
    const c = this.#docker.getContainer(id);
    const seen = await this.inspectWorkload(id);
    const name = seen?.name;
    const netns = seen?.labels[LABEL.netns];
    try {
      await this.#call(() => c.stop({ t: graceSeconds }));
    } catch (err) {
      if (isNotFound(err)) return;
      if (!isAlready(err)) throw err;
    }
    try {
      await this.#call(() => c.remove({ force: true }));
    } catch (err) {
      if (!isNotFound(err) && !isAlready(err)) throw err;
    }
    if (name) rmSync(join(this.#filesDir, baseName(name)), { recursive: true, force: true });
    // A replica's own sandbox goes with it; a task's shared one stays with its network.
    if (netns)
      await this.#docker
        .getContainer(netns)
        .remove({ force: true })
        .catch(() => undefined);
  }

  async logs(id: string, options: LogOptions = {}): Promise<string> {
    const buf = await this.#call(() =>
      this.#docker.getContainer(id).logs({
        stdout: true,
        stderr: true,
        follow: false,
        tail: options.tail ?? 100,
        ...(options.since ? { since: Math.floor(options.since.getTime() / 1000) } : {}),
      }),
    );
    return demux(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
  }

  async followLogs(
    id: string,
    options: { since?: Date; signal?: AbortSignal } = {},
  ): Promise<NodeJS.ReadableStream> {
    const raw = await this.#call(() =>
      this.#docker.getContainer(id).logs({
        stdout: true,
        stderr: true,
        follow: true,
        ...(options.signal ? { abortSignal: options.signal } : {}),
        ...(options.since ? { since: Math.floor(options.since.getTime() / 1000) } : {}),
      }),
    );
    const out = new PassThrough();
    // One stream for both: the order of stdout and stderr lines is kept.
    this.#docker.modem.demuxStream(raw, out, out);
    raw.on('end', () => out.end());
    raw.on('error', (err: Error) => out.destroy(err));
    return out;
  }

  async *streamLogLines(
    id: string,
    options: { sinceNs?: bigint; signal?: AbortSignal } = {},
  ): AsyncIterable<LogLine> {
    const raw = await this.#call(() =>
      this.#docker.getContainer(id).logs({
        stdout: true,
        stderr: true,
        follow: true,
        timestamps: true,
        ...(options.signal ? { abortSignal: options.signal } : {}),
        ...(options.sinceNs ? { since: dockerSince(options.sinceNs) } : {}),
      }),
    );
    yield* logFrames(raw as AsyncIterable<Buffer>);
  }

  async *watchExits(labels: Record<string, string>, signal: AbortSignal): AsyncIterable<WorkloadExit> {
    const raw = await this.#call(() =>
      this.#docker.getEvents({
        filters: { type: ['container'], event: ['die', 'oom'], ...labelFilter(labels) },
        abortSignal: signal,
      } as Docker.GetEventsOptions),
    );
    yield* engineExits(raw as AsyncIterable<Buffer>);
  }

  async waitWorkload(id: string, signal?: AbortSignal): Promise<number> {
    const result = (await this.#call(() =>
      this.#docker.getContainer(id).wait(signal ? { abortSignal: signal } : {}),
    )) as { StatusCode: number };
    return result.StatusCode;
  }

  async stats(id: string): Promise<WorkloadStats> {
    const c = this.#docker.getContainer(id);
    const [s, info] = await Promise.all([
      this.#call(() => c.stats({ stream: false })),
      this.inspectWorkload(id),
    ]);
    const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
    const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
    const cpus = s.cpu_stats.online_cpus ?? 1;
    return {
      cpuPercent: sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0,
      memoryBytes: s.memory_stats.usage ?? 0,
      restarts: info?.restartCount ?? 0,
    };
  }

  replicaStats(labels: Record<string, string>): Promise<ReplicaStats[]> {
    return this.#call(() => replicaStats(this.#docker, labels));
  }
}

/** A replica's owner labels: what its network's sandboxes carry. */
function ownerLabels(labels: Record<string, string>): Record<string, string> {
  const owner: string[] = [LABEL.instance, LABEL.managed, LABEL.org, LABEL.project, LABEL.environment];
  return Object.fromEntries(Object.entries(labels).filter(([k]) => owner.includes(k)));
}

/** How long after a replica claims its network's spare the next one is made: off the rollout's path. */
const SPARE_PAUSE_MS = 1000;

function listedWorkload(c: Docker.ContainerInfo): WorkloadInfo {
  const name = (c.Names[0] ?? '').replace(/^\//, '');
  const info: WorkloadInfo = {
    id: c.Id,
    name: baseName(name),
    labels: c.Labels ?? {},
    state: c.State as WorkloadState,
    ready: !name.endsWith(STARTING),
  };
  const ip = Object.values(c.NetworkSettings?.Networks ?? {})[0]?.IPAddress || info.labels[LABEL.address];
  if (ip) info.ip = ip;
  const exited = /^Exited \((\d+)\)/.exec(c.Status ?? '');
  if (c.State === 'exited' && exited) info.exitCode = Number(exited[1]);
  return info;
}

function networkInfo(n: Docker.NetworkInspectInfo): NetworkInfo {
  const ipam = n.IPAM?.Config?.[0] ?? {};
  return {
    id: n.Id,
    name: n.Name,
    labels: n.Labels ?? {},
    subnet: ipam.Subnet ?? '',
    gateway: ipam.Gateway ?? '',
  };
}

/** Docker's form of the limits. No swap beyond memory (as on Kubernetes): over it, OOM-killed. */
function hostLimits(r: ResourceLimits | undefined) {
  return {
    ...(r?.cpuMillicores ? { NanoCpus: r.cpuMillicores * 1_000_000 } : {}),
    ...(r?.memoryMiB ? { Memory: r.memoryMiB * MiB, MemorySwap: r.memoryMiB * MiB } : {}),
  };
}
const MiB = 1024 * 1024;
