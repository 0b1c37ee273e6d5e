/**
 * Parts that die (G2): the whole platform as `rondo up` runs it (supervisor, registry, gateway,
 * control plane) on a Docker engine of the bench's own (started with `--live-restore`, its own
 * data root, socket and address pool, so restarting it touches no other engine). Under continuous
 * load through the public gateway, each part in turn is killed with SIGKILL; for each fault the
 * table gives the failed requests, the time until every active deployment serves again, the time
 * until the part is back, and what is left orphaned (containers no active deployment owns, or a
 * part running twice).
 */
import { type ChildProcess, execSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { stopOrphanedContainerd } from '../src/platform/local-platform.js';
import { readSupervisorRecord } from '../src/platform/supervisor.js';
import { buildWebImage } from '../test/helpers/images.js';
import { type LoadResult, startLoad } from '../test/helpers/load.js';
import { freePort, gatewayGet, internalPortBase } from '../test/helpers/platform.js';
import { cleanEnv, cli, ensureBuilt } from '../test/helpers/processes.js';

const TOKEN = 'rondo_faults_bench_admin_token_0123456789ab';
const IMAGE = 'rondo-test-web:faults';
const COMPONENTS = ['web-a', 'web-b'];
const CLIENTS = 24;
const HOST = 'development.localhost';
/** The bench engine's default bridge (the host's docker0 belongs to the shared engine). */
const BENCH_BRIDGE = 'rondo-bench0';

/** A dockerd of the bench's own: nothing else runs on it, so killing it affects nobody else. */
class BenchEngine {
  readonly socket = '/var/run/rondo-bench-docker.sock';
  readonly #root = '/var/lib/rondo-bench-docker';
  readonly #exec = '/var/run/rondo-bench-docker';
  readonly #log: string;
  #child: ChildProcess | undefined;
  readonly docker = new Docker({ socketPath: this.socket });

  constructor(dir: string) {
    // Outside the run's directory, which is removed: kept for a look after the run.
    this.#log = join(dir, '..', 'rondo-bench-faults-dockerd.log');
    rmSync(this.#log, { force: true });
  }

  /**
   * Starts dockerd and waits until it answers. Right after a kill -9 the old engine's containerd
   * may still be exiting, and a new dockerd then gives up ("timeout waiting for containerd to
   * start"); like a supervisor, start it again until it answers (a minute at most).
   */
  async start(): Promise<void> {
    const deadline = Date.now() + 60_000;
    // A default bridge of its own. Not `--bridge none`: a dockerd started so deletes the host's
    // docker0 (moby's removeDefaultBridgeInterface), which breaks the shared engine until restarted.
    if (spawnSync('ip', ['link', 'show', BENCH_BRIDGE]).status !== 0) {
      execSync(`ip link add ${BENCH_BRIDGE} type bridge`);
      execSync(`ip addr add 10.232.0.1/24 dev ${BENCH_BRIDGE}`);
      execSync(`ip link set ${BENCH_BRIDGE} up`);
    }
    for (;;) {
      // No iptables rules: the shared engine's rules stay as they are.
      const child = spawn(
        'sh',
        [
          '-c',
          `exec dockerd --live-restore --data-root ${this.#root} --exec-root ${this.#exec} --pidfile ${this.#exec}.pid -H unix://${this.socket} --bridge ${BENCH_BRIDGE} --iptables=false --ip-masq=false --default-address-pool base=10.231.0.0/16,size=24 --cgroup-parent rondo-bench >>${this.#log} 2>&1`,
        ],
        { stdio: 'ignore' },
      );
      this.#child = child;
      while (child.exitCode === null && child.signalCode === null) {
        if (
          await this.docker.ping().then(
            () => true,
            () => false,
          )
        )
          return;
        if (Date.now() > deadline) throw new Error(`the bench's dockerd does not answer; see ${this.#log}`);
        await sleep(50);
      }
      if (Date.now() > deadline) throw new Error(`the bench's dockerd keeps exiting; see ${this.#log}`);
      await sleep(500);
    }
  }

  /**
   * Stops the engine with `signal` and waits for it, then for (or stops) the containerd it leaves.
   */
  async halt(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
    // As `rondo up`'s supervisor does before it starts dockerd again.
    await stopOrphanedContainerd(`${this.#exec}/containerd/containerd.pid`);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    spawnSync('ip', ['link', 'del', BENCH_BRIDGE]);
  }

  /** Removes the data root once no mount is left under it (the engine unmounts when it stops). */
  removeData(): void {
    // dockerd leaves its data root bind-mounted on itself; nothing else may be mounted below it.
    spawnSync('umount', [this.#root]);
    const mounts = readFileSync('/proc/mounts', 'utf8');
    if (!mounts.includes(this.#root) && !mounts.includes(this.#exec))
      rmSync(this.#root, { recursive: true, force: true });
  }
}

interface Row {
  fault: string;
  result: LoadResult;
  /** From the kill until every active deployment answers 200 through the gateway again. */
  servingAgainMs: number;
  /** From the kill until the part answers again. */
  backMs: number | undefined;
  orphans: string[];
}

/** Processes of this platform (their command line names its data dir), by part. */
function platformProcesses(dataDir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmd.some((a) => a.includes(dataDir))) continue;
      if (cmd.includes('supervise')) found.push('supervisor');
      else if (cmd.includes('server')) found.push('rondo');
      // HAProxy's workers carry their master's command line: the master (whose parent is not HAProxy) stands for them.
      else if (cmd[0]?.endsWith('haproxy')) {
        const ppid = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1];
        if (!readFileSync(`/proc/${ppid}/cmdline`, 'utf8').startsWith('haproxy')) found.push('gateway');
      } else if (cmd[0]?.endsWith('docker-registry')) found.push('registry');
    } catch {
      // Gone meanwhile.
    }
  }
  return found.sort();
}

export async function benchFaults(): Promise<void> {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-faults-'));
  const data = join(dir, 'data');
  const engine = new BenchEngine(dir);
  const port = await freePort();
  const publicPort = await freePort();
  const env = cleanEnv({
    HOME: dir,
    RONDO_DATA_DIR: data,
    RONDO_BUILD_WORKDIR: join(dir, 'builds'),
    RONDO_PORT: String(port),
    RONDO_GATEWAY_PORT: String(publicPort),
    RONDO_GATEWAY_METRICS: `127.0.0.1:${await freePort()}`,
    RONDO_REGISTRY_LISTEN: `127.0.0.1:${await freePort()}`,
    RONDO_INTERNAL_GATEWAY_PORT_BASE: String(internalPortBase()),
    RONDO_DOCKER_SOCKET: engine.socket,
    RONDO_BOOTSTRAP_TOKEN: TOKEN,
    RONDO_DRAIN_SECONDS: '3',
    RONDO_RESYNC_SECONDS: '2',
  });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(5000),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the bench reads a few fields of JSON answers
    return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
  };
  const path = (c: string) => `/default/faults/${c}/rest/`;
  const allServe = async () =>
    (
      await Promise.all(
        COMPONENTS.map((c) =>
          Promise.race([
            gatewayGet(publicPort, HOST, path(c)).then(
              (r) => r.status === 200,
              () => false,
            ),
            // Generous: on two busy cores a control plane starting up slows everything down.
            sleep(3000).then(() => false),
          ]),
        ),
      )
    ).every(Boolean);
  const activeIds = async () => {
    const ids: string[] = [];
    for (const c of COMPONENTS) {
      const s = await api('GET', `/orgs/default/projects/faults/components/${c}/status`);
      ids.push(s.body.items[0]?.active?.id);
    }
    return ids;
  };
  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };
  const deploy = async (c: string) => {
    const d = await api('POST', `/orgs/default/projects/faults/components/${c}/deployments`, {
      environment: 'development',
      replicas: 2,
    });
    if (d.status !== 202) throw new Error(`deploy refused: ${JSON.stringify(d.body)}`);
    return d.body.id as string;
  };
  const deploymentStatus = async (id: string) =>
    (await api('GET', `/orgs/default/deployments/${id}`)).body?.status as string | undefined;
  /** Containers the platform runs that no active deployment owns, or more than it wants. */
  const orphans = async () => {
    const active = await activeIds();
    const containers = await engine.docker.listContainers({ all: true, filters: { label: ['rondo.org'] } });
    const extra = containers
      .filter((c) => !active.includes(c.Labels['rondo.deployment'] ?? '') || c.State !== 'running')
      .map((c) => `container ${c.Names[0]} (${c.State})`);
    const want = active.length * 2;
    if (containers.length - extra.length !== want) extra.push(`${containers.length} replicas, want ${want}`);
    const procs = platformProcesses(data);
    if (procs.join() !== 'gateway,registry,rondo,supervisor') extra.push(`processes: ${procs.join(', ')}`);
    return extra;
  };

  const rows: Row[] = [];
  /**
   * Runs a fault under load: `prepare` brings the platform to the moment of the fault (a rollout
   * at some step), `kill` is the fault, `back` says whether the part answers again, `after` waits
   * for what the fault interrupted. Then the platform settles and what is left is checked.
   */
  const measure = async (
    fault: string,
    f: {
      prepare?: () => Promise<void>;
      kill: () => Promise<void>;
      back: () => Promise<boolean>;
      after?: () => Promise<void>;
    },
  ) => {
    const load = COMPONENTS.map((c) => startLoad(publicPort, HOST, path(c), CLIENTS / COMPONENTS.length));
    await sleep(1000);
    await f.prepare?.();
    const t0 = performance.now();
    await f.kill();
    let servingAgainMs = 0;
    let backMs: number | undefined;
    // Watch for 15 s: the last moment a probe of every deployment went from failing to serving.
    let failing = false;
    while (performance.now() - t0 < 15_000) {
      const ok = await allServe();
      if (!ok) failing = true;
      else if (failing) {
        failing = false;
        servingAgainMs = performance.now() - t0;
      }
      if (backMs === undefined && (await f.back().catch(() => false))) backMs = performance.now() - t0;
      if (backMs !== undefined && !failing && performance.now() - t0 > 5000) break;
      await sleep(20);
    }
    if (failing) servingAgainMs = Number.POSITIVE_INFINITY;
    await f.after?.();
    if (backMs === undefined && (await f.back().catch(() => false))) backMs = performance.now() - t0;
    await sleep(1000);
    const results = await Promise.all(load.map((l) => l.stop()));
    const result = results.reduce((a, b) => ({
      ok: a.ok + b.ok,
      failed: a.failed + b.failed,
      failures: [...a.failures, ...b.failures],
      resets: a.resets + b.resets,
      bodies: [],
    }));
    // Converged: the reconciler (resync 2 s) removes what nothing owns; give it a few passes.
    let left = await orphans().catch((err) => [String(err)]);
    for (let i = 0; i < 50 && left.length; i++) {
      await sleep(200);
      left = await orphans().catch((err) => [String(err)]);
    }
    rows.push({ fault, result, servingAgainMs, backMs, orphans: left });
    console.log(
      `  ${fault}: ${result.failed} failed of ${result.ok + result.failed}${result.failures.length ? ` (${[...new Set(result.failures)].slice(0, 3).join('; ')})` : ''}`,
    );
  };

  const pidOf = (name: string) => Number(readFileSync(join(data, 'run', `${name}.pid`), 'utf8'));
  /** The supervisor restarted `name`: another pid, recorded as running, and it answers. */
  const restarted = (name: string, before: number, url: string) => async () => {
    const seen = readSupervisorRecord(data)?.parts[name];
    if (!seen || seen.pid === before || seen.state !== 'running') return false;
    return fetch(url, { signal: AbortSignal.timeout(500) }).then(
      (r) => r.status < 500,
      () => false,
    );
  };
  /** Kills the part's process (read from its pid file when the fault happens). */
  const killPart = (name: string, url: string) => {
    let before = 0;
    return {
      kill: async () => {
        before = pidOf(name);
        process.kill(before, 'SIGKILL');
      },
      back: () => restarted(name, before, url)(),
    };
  };
  const healthz = `http://127.0.0.1:${port}/api/v1/healthz`;

  try {
    await engine.start();
    // The test image, built on the shared engine (cached there) and loaded into the bench's.
    await buildWebImage(IMAGE, { body: 'ok' });
    execSync(`docker save ${IMAGE} | docker -H unix://${engine.socket} load -q`, { stdio: 'ignore' });
    const up = await cli(['up'], env);
    if (up.status !== 0) throw new Error(`rondo up failed: ${up.stderr}${up.stdout}`);
    await api('POST', '/orgs/default/projects', { name: 'faults' });
    for (const c of COMPONENTS) {
      await api('POST', '/orgs/default/projects/faults/components', {
        name: c,
        type: 'service',
        source: { image: IMAGE },
        endpoints: [{ port: 8080 }],
      });
      await deploy(c);
    }
    await waitFor('both deployments serving', allServe);

    await measure('HAProxy (gateway)', killPart('gateway', `http://${env.RONDO_GATEWAY_METRICS}/metrics`));
    await measure('registry', killPart('registry', `http://${env.RONDO_REGISTRY_LISTEN}/v2/`));
    await measure('control plane, idle', killPart('rondo', healthz));

    // Mid-rollout: a new deployment of web-a whose replicas are starting (not yet ready).
    let rolling = '';
    const rolledOut = () =>
      waitFor('the rollout resumed to active', async () => (await deploymentStatus(rolling)) === 'active');
    await measure('control plane, rollout starting replicas', {
      prepare: async () => {
        rolling = await deploy('web-a');
        await waitFor(
          'new replicas created',
          async () =>
            (await engine.docker.listContainers({ filters: { label: [`rondo.deployment=${rolling}`] } }))
              .length > 0,
        );
      },
      ...killPart('rondo', healthz),
      after: rolledOut,
    });
    // Later in a rollout: switched and active, the previous replicas draining (3 s).
    await measure('control plane, rollout draining old', {
      prepare: async () => {
        const previous = (await activeIds())[0]!;
        rolling = await deploy('web-a');
        await waitFor('switched, old replicas draining', async () => {
          if ((await deploymentStatus(rolling)) !== 'active') return false;
          const old = await engine.docker.listContainers({
            filters: { label: [`rondo.deployment=${previous}`] },
          });
          return old.length > 0;
        });
      },
      ...killPart('rondo', healthz),
    });

    // A replica of web-b: its main process killed; back when web-b has two running replicas again.
    const [victim] = await engine.docker.listContainers({ filters: { label: ['rondo.component=web-b'] } });
    const victimState = (await engine.docker.getContainer(victim!.Id).inspect()).State;
    await measure('a replica', {
      kill: async () => {
        process.kill(victimState.Pid, 'SIGKILL');
      },
      back: async () => {
        const now = await engine.docker
          .getContainer(victim!.Id)
          .inspect()
          .catch(() => undefined);
        if (now && (now.State.StartedAt === victimState.StartedAt || !now.State.Running)) return false;
        const running = await engine.docker.listContainers({ filters: { label: ['rondo.component=web-b'] } });
        return running.length === 2;
      },
    });

    // The engine stopped and started again (as a supervisor or a service manager would); the
    // containers live on (--live-restore).
    for (const [how, signal] of [
      ['restarted (SIGTERM)', 'SIGTERM'],
      ['killed (SIGKILL), restarted', 'SIGKILL'],
    ] as const) {
      let restarting: Promise<void> = Promise.resolve();
      let halted = false;
      await measure(`Docker engine ${how}`, {
        kill: async () => {
          restarting = engine.halt(signal).then(() => {
            halted = true;
            return engine.start();
          });
        },
        back: async () => halted && (await engine.docker.ping().then(() => true)),
        after: () => restarting,
      });
    }

    printTable(rows);
  } finally {
    await cli(['down', '--data-dir', data], env);
    const leftovers = await engine.docker
      .listContainers({ all: true, filters: { label: ['rondo.org'] } })
      .catch(() => []);
    await Promise.all(leftovers.map((c) => engine.docker.getContainer(c.Id).remove({ force: true })));
    const networks = await engine.docker
      .listNetworks({ filters: { label: ['rondo.instance'] } })
      .catch(() => []);
    await Promise.all(
      networks.map((n) =>
        engine.docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => undefined),
      ),
    );
    await engine.stop();
    engine.removeData();
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(rows: Row[]): void {
  const ms = (n: number | undefined) =>
    n === undefined ? '—' : Number.isFinite(n) ? `${Math.round(n)} ms` : 'never (15 s)';
  const header = [
    'fault (SIGKILL unless said)',
    'failed / requests',
    'all serving after',
    'part back after',
    'orphaned after',
  ];
  const lines = rows.map((r) => [
    r.fault,
    `${r.result.failed} / ${r.result.ok + r.result.failed}`,
    r.servingAgainMs === 0 ? 'never stopped' : ms(r.servingAgainMs),
    ms(r.backMs),
    r.orphans.length ? r.orphans.join('; ') : 'nothing',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n  ${CLIENTS} concurrent clients through the public gateway, 2 deployments of 2 replicas`);
  console.log(fmt(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
}
