import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type {
  DataPlaneDriver,
  DataPlaneStatus,
  DriverCapabilities,
  EnvironmentInfo,
  EnvironmentRef,
  EnvironmentsPort,
  JobSpec,
  JobsPort,
  ObservePort,
  Probe,
  ReadinessReading,
  Replica,
  RevisionSpec,
  RevisionsPort,
  RoutingState,
  TrafficPort,
} from '../../src/dataplane/driver.js';
import { LABEL, networkLabels, networkName } from '../../src/dataplane/labels.js';
import { RondoError } from '../../src/domain/errors.js';

/**
 * What an image does when the fake "runs" it: called once per start (and per restart) with the
 * run's arguments (a replica gets none) and its environment. Its output is recorded at once;
 * `exitCode` set: it stops with that code there and then; unset: it runs until stopped
 * (`exit`, `remove`).
 */
export type FakeProgram = (
  args: string[],
  env: Record<string, string>,
) => { exitCode?: number | undefined; output: string };

/** The code a run stopped by `remove` exits with: it obeys SIGTERM (128 + 15). */
export const FAKE_TERMINATED = 143;
/** The code a run exits with when its image has no program (`onImage`), like a shell's "not found". */
export const FAKE_NO_PROGRAM = 127;

interface Workload {
  kind: 'replica' | 'job';
  replica: Replica;
  /** The environment's name (`EnvironmentInfo.name`). */
  environment: string;
  image: string;
  args: string[];
  env: Record<string, string>;
  output: string;
  names: string[];
  waiters: ((code: number) => void)[];
  followers: PassThrough[];
}

const matches = (labels: Record<string, string>, wanted: Record<string, string>) =>
  Object.entries(wanted).every(([k, v]) => labels[k] === v);

const sameLabels = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && matches(a, b);

const notFound = (what: string, id: string) => new RondoError('RONDO_ERR_NOT_FOUND', `no ${what} ${id}`);

/**
 * An in-memory data plane for tests: deterministic (ids, addresses, times and pins come from
 * counters and hashes), synchronous underneath, and with knobs to make replicas and runs do
 * what a test needs.
 *
 * - Environments are named as the Docker data plane names its networks
 *   (`rondo.<instance>.<org>.<project>.<environment>`, `networkName`), labelled with
 *   `networkLabels`, and get the next `10.77.<n>.0/24` (the first `10.77.0.0/24`), gateway `.1`,
 *   replicas `.2` onwards. Removing one that still has running replicas or runs is refused, as
 *   Docker refuses a network with active endpoints.
 * - Replicas carry the spec's labels plus `rondo.replica` = index, start `running` and not
 *   ready; `probe` passes on the first reading of a running replica unless `failReadiness` was
 *   set for its deployment, and says `stopped` (with the exit code in `failure`) once it exited.
 * - `revisions.list` lists replicas only, `jobs.list` runs only, `observe.list` both.
 * - An image's behaviour is `onImage(image, program)`, for replicas and runs alike (also when
 *   started by the id `pin` returned). A replica of an image without a program runs silently
 *   until stopped; a run of one exits 127 saying so. `pin` pins any image by its hash unless
 *   `failPin` says it cannot.
 * - `capabilities.restartsOnLiveness` is false; `observe` has `list` only.
 */
export class FakeDriver implements DataPlaneDriver {
  readonly capabilities: DriverCapabilities = { restartsOnLiveness: false };
  /** Every state `traffic.publish` was given, in order (copies). */
  readonly published: RoutingState[] = [];

  readonly #environments = new Map<string, EnvironmentInfo>();
  readonly #workloads = new Map<string, Workload>();
  readonly #programs = new Map<string, FakeProgram>();
  readonly #pins = new Map<string, string>();
  readonly #readiness = new Map<string, { reason: string; remaining: number }>();
  /** Images `pin` refuses, with the data plane's answer. */
  readonly #pinFailures = new Map<string, string>();
  /** Addresses handed out per environment name. */
  readonly #addresses = new Map<string, number>();
  #subnets = 0;
  #ids = 0;
  #clock = Date.UTC(2026, 0, 1);
  #unavailable: string | undefined;

  // ── knobs ────────────────────────────────────────────────────────────────────────────────

  /** What `image` does when started (replicas and runs); replaces an earlier program. */
  onImage(image: string, program: FakeProgram): this {
    this.#programs.set(image, program);
    return this;
  }

  /**
   * Readiness of the deployment's replicas (`rondo.deployment` = `deployment`) fails with
   * `reason`, for the next `times` readings of them (default: every reading from now on).
   */
  failReadiness(deployment: string, reason: string, times = Number.POSITIVE_INFINITY): this {
    this.#readiness.set(deployment, { reason, remaining: times });
    return this;
  }

  /**
   * `pin(image)` fails with `reason` (`RONDO_ERR_NOT_FOUND`), as an engine answers an image it
   * cannot pull (a missing tag, a registry refusing the credentials).
   */
  failPin(image: string, reason: string): this {
    this.#pinFailures.set(image, reason);
    return this;
  }

  /** The replica or run stops on its own with `code` (a crash, or a run finishing). */
  exit(id: string, code: number): void {
    const w = this.#workloads.get(id);
    if (!w) throw notFound('replica or run', id);
    this.#stop(w, code);
  }

  /** Appends output to a running replica or run, as its process would print it. */
  print(id: string, text: string): void {
    const w = this.#workloads.get(id);
    if (!w) throw notFound('replica or run', id);
    this.#append(w, text);
  }

  /** `ping` throws `RONDO_ERR_UNAVAILABLE` with this reason; undefined: it answers again. */
  unavailable(reason: string | undefined): void {
    this.#unavailable = reason;
  }

  /** An environment someone else made: `ensure` of the same name with other labels must refuse it. */
  plantEnvironment(info: EnvironmentInfo): void {
    this.#environments.set(info.name, structuredClone(info));
  }

  /** The names a replica answers to since `markServing` (none before). */
  namesOf(id: string): string[] {
    return [...(this.#workloads.get(id)?.names ?? [])];
  }

  // ── driver ───────────────────────────────────────────────────────────────────────────────

  async ping(): Promise<void> {
    if (this.#unavailable !== undefined)
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `the fake data plane is unavailable: ${this.#unavailable}`,
      );
  }

  /** Unreachable while `unavailable` says so; else an engine of 2 CPUs and 4 GiB. */
  async status(_timeoutMs: number): Promise<DataPlaneStatus> {
    if (this.#unavailable !== undefined)
      return { reachable: false, reason: `the fake data plane is unavailable: ${this.#unavailable}` };
    return { reachable: true, version: 'fake 1', capacity: { cpus: 2, memoryBytes: 4 * 2 ** 30 } };
  }

  readonly environments: EnvironmentsPort = {
    ensure: async (ref: EnvironmentRef) => {
      const name = networkName(ref.instance, ref);
      const labels = networkLabels(ref);
      const existing = this.#environments.get(name);
      if (existing) {
        if (!sameLabels(existing.labels, labels))
          throw new RondoError(
            'RONDO_ERR_CONFLICT_EXISTS',
            `environment ${name} exists with other labels (${JSON.stringify(existing.labels)}); it is not Rondo's to reuse`,
          );
        return structuredClone(existing);
      }
      const n = this.#subnets++ % 256;
      const info: EnvironmentInfo = {
        name,
        labels,
        sourceCidrs: [`10.77.${n}.0/24`],
        gatewayAddress: `10.77.${n}.1`,
      };
      this.#environments.set(name, info);
      this.#addresses.set(name, 0);
      return structuredClone(info);
    },
    list: async (instance: string) =>
      [...this.#environments.values()]
        .filter((e) => e.labels[LABEL.instance] === instance)
        .map((e) => structuredClone(e)),
    remove: async (env: EnvironmentInfo) => {
      if (!this.#environments.has(env.name)) return;
      const busy = [...this.#workloads.values()].filter(
        (w) => w.environment === env.name && w.replica.state === 'running',
      );
      if (busy.length > 0)
        throw new RondoError(
          'RONDO_ERR_CONFLICT_IN_USE',
          `environment ${env.name} still runs ${busy.map((w) => w.replica.name).join(', ')}; remove them first`,
        );
      for (const [id, w] of this.#workloads) if (w.environment === env.name) this.#workloads.delete(id);
      this.#environments.delete(env.name);
      this.#addresses.delete(env.name);
    },
  };

  readonly revisions: RevisionsPort = {
    pin: async (image: string) => {
      const refused = this.#pinFailures.get(image);
      if (refused !== undefined) throw new RondoError('RONDO_ERR_NOT_FOUND', refused);
      if (/^sha256:[0-9a-f]{64}$/.test(image)) return image;
      const pinned = `sha256:${createHash('sha256').update(image).digest('hex')}`;
      this.#pins.set(pinned, image);
      return pinned;
    },
    start: async (spec: RevisionSpec, indexes: number[]) => {
      this.#environment(spec.environment.name);
      const names = indexes.map((i) => `${spec.name}-${i}`);
      for (const name of names)
        if ([...this.#workloads.values()].some((w) => w.replica.name === name))
          throw new RondoError('RONDO_ERR_CONFLICT_EXISTS', `a replica named ${name} exists`);
      return indexes.map((index, i) => {
        const w = this.#create('replica', {
          name: names[i]!,
          labels: { ...spec.labels, [LABEL.replica]: String(index) },
          environment: spec.environment.name,
          image: spec.image,
          args: [],
          env: spec.env,
        });
        return structuredClone(w.replica);
      });
    },
    list: async (labels: Record<string, string>) => this.#list('replica', labels),
    inspect: async (id: string) => {
      const w = this.#workloads.get(id);
      return w?.kind === 'replica' ? structuredClone(w.replica) : undefined;
    },
    probe: async (id: string, _probe: Probe | undefined): Promise<ReadinessReading> => {
      const w = this.#workloads.get(id);
      if (w?.kind !== 'replica') return { replica: undefined, failure: `no replica ${id}`, stopped: true };
      const replica = structuredClone(w.replica);
      if (w.replica.state === 'exited')
        return { replica, failure: `exited with code ${w.replica.exitCode}`, stopped: true };
      if (w.replica.state !== 'running') return { replica, failure: `not started (${w.replica.state})` };
      const deployment = w.replica.labels[LABEL.deployment];
      const failing = deployment === undefined ? undefined : this.#readiness.get(deployment);
      if (failing && failing.remaining > 0) {
        failing.remaining--;
        return { replica, failure: failing.reason };
      }
      return { replica };
    },
    markServing: async (id: string, env: string, names: string[]) => {
      const w = this.#replica(id);
      if (env !== w.environment)
        throw new RondoError(
          'RONDO_ERR_CONFLICT_STATE',
          `replica ${w.replica.name} runs in ${w.environment}, not in ${env}`,
        );
      w.replica.ready = true;
      w.names = [...names];
      return structuredClone(w.replica);
    },
    restart: async (id: string) => {
      const w = this.#replica(id);
      w.replica.state = 'running';
      w.replica.restartCount = (w.replica.restartCount ?? 0) + 1;
      delete w.replica.exitCode;
      w.replica.startedAt = this.#now();
      this.#run(w);
    },
    remove: async (id: string, _graceSeconds: number) => this.#remove('replica', id),
    logs: async (id: string, tail: number) => tailOf(this.#replica(id).output, tail),
  };

  readonly traffic: TrafficPort = {
    publish: async (state: RoutingState) => {
      this.published.push(structuredClone(state));
    },
  };

  readonly jobs: JobsPort = {
    start: async (spec: JobSpec) => {
      this.#environment(spec.environment.name);
      const w = this.#create('job', {
        name: spec.name,
        labels: { ...spec.labels },
        environment: spec.environment.name,
        image: spec.image,
        args: [...spec.args],
        env: spec.env,
      });
      return structuredClone(w.replica);
    },
    list: async (labels: Record<string, string>) => this.#list('job', labels),
    wait: async (id: string, signal?: AbortSignal) => {
      const w = this.#job(id);
      if (w.replica.state === 'exited') return w.replica.exitCode!;
      signal?.throwIfAborted();
      return new Promise<number>((resolve, reject) => {
        const onAbort = () => reject(signal?.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        w.waiters.push((code) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(code);
        });
      });
    },
    logs: async (id: string, tail: number) => tailOf(this.#job(id).output, tail),
    follow: async (id: string, signal?: AbortSignal) => {
      const w = this.#job(id);
      const stream = new PassThrough();
      if (w.output) stream.write(w.output);
      if (w.replica.state === 'exited' || signal?.aborted) {
        stream.end();
        return stream;
      }
      w.followers.push(stream);
      signal?.addEventListener(
        'abort',
        () => {
          w.followers = w.followers.filter((f) => f !== stream);
          stream.end();
        },
        { once: true },
      );
      return stream;
    },
    remove: async (id: string, _graceSeconds: number) => this.#remove('job', id),
  };

  readonly observe: ObservePort = {
    list: async (labels: Record<string, string>) => [
      ...(await this.#list('replica', labels)),
      ...(await this.#list('job', labels)),
    ],
  };

  // ── inside ───────────────────────────────────────────────────────────────────────────────

  #now(): string {
    this.#clock += 1000;
    return new Date(this.#clock).toISOString();
  }

  #environment(name: string): EnvironmentInfo {
    const env = this.#environments.get(name);
    if (!env) throw notFound('environment', name);
    return env;
  }

  #create(
    kind: Workload['kind'],
    o: Pick<Workload, 'environment' | 'image' | 'args' | 'env'> & {
      name: string;
      labels: Record<string, string>;
    },
  ): Workload {
    const n = this.#addresses.get(o.environment) ?? 0;
    this.#addresses.set(o.environment, n + 1);
    const subnet = this.#environment(o.environment).sourceCidrs[0]!.split('.').slice(0, 3).join('.');
    const id = `fake-${kind}-${++this.#ids}`;
    const w: Workload = {
      kind,
      replica: {
        id,
        name: o.name,
        labels: o.labels,
        state: 'running',
        ip: `${subnet}.${(n % 253) + 2}`,
        ready: false,
        restartCount: 0,
        startedAt: this.#now(),
      },
      environment: o.environment,
      image: o.image,
      args: o.args,
      env: { ...o.env },
      output: '',
      names: [],
      waiters: [],
      followers: [],
    };
    this.#workloads.set(id, w);
    this.#run(w);
    return w;
  }

  /** Runs the image's program: its output at once, and its stop if it chose one. */
  #run(w: Workload): void {
    const program = this.#programs.get(w.image) ?? this.#programs.get(this.#pins.get(w.image) ?? '');
    if (!program) {
      if (w.kind === 'job')
        this.#stop(w, FAKE_NO_PROGRAM, `fake: image ${w.image} has no program (FakeDriver.onImage)\n`);
      return;
    }
    const { exitCode, output } = program([...w.args], { ...w.env });
    if (exitCode === undefined) this.#append(w, output);
    else this.#stop(w, exitCode, output);
  }

  #append(w: Workload, text: string): void {
    w.output += text;
    for (const f of w.followers) f.write(text);
  }

  #stop(w: Workload, code: number, output = ''): void {
    if (output) this.#append(w, output);
    if (w.replica.state === 'exited') return;
    w.replica.state = 'exited';
    w.replica.exitCode = code;
    for (const f of w.followers) f.end();
    w.followers = [];
    for (const resolve of w.waiters) resolve(code);
    w.waiters = [];
  }

  #remove(kind: Workload['kind'], id: string): void {
    const w = this.#workloads.get(id);
    if (!w || w.kind !== kind) return;
    this.#stop(w, FAKE_TERMINATED);
    this.#workloads.delete(id);
  }

  #replica(id: string): Workload {
    const w = this.#workloads.get(id);
    if (w?.kind !== 'replica') throw notFound('replica', id);
    return w;
  }

  #job(id: string): Workload {
    const w = this.#workloads.get(id);
    if (w?.kind !== 'job') throw notFound('run', id);
    return w;
  }

  async #list(kind: Workload['kind'], labels: Record<string, string>): Promise<Replica[]> {
    return [...this.#workloads.values()]
      .filter((w) => w.kind === kind && matches(w.replica.labels, labels))
      .map((w) => structuredClone(w.replica));
  }
}

/** The last `tail` lines of `output`, as a log tail prints them. */
function tailOf(output: string, tail: number): string {
  if (tail <= 0 || output === '') return '';
  const lines = output.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return `${lines.slice(-tail).join('\n')}${output.endsWith('\n') ? '\n' : ''}`;
}
