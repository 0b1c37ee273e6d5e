import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BaseImages, DEFAULT_BASE_IMAGES } from '../../src/builds/presets.js';
import {
  gatewayAnswers,
  gatewayCommand,
  type HostGatewaySettings,
  prepareGatewayStart,
} from '../../src/gateway/host-gateway.js';
import type { MetricsSettings } from '../../src/observability/metrics/metrics-settings.js';
import { loadPlatformConfig, type PlatformConfig } from '../../src/platform-config.js';
import { cleanupInstance } from './images.js';
import { startTestRondo, type TestRondo } from './rondo.js';
import type { Driver } from './stores.js';

/** TCP ports something listens on now (IPv4 and IPv6), from the kernel's tables. */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    // `sl local_address rem_address st …`: state 0A is LISTEN; the local port is hex after the colon.
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '0A' && local) ports.add(Number.parseInt(local.split(':').pop() ?? '', 16));
    }
  }
  return ports;
}

/** Ports above a base a test's gateway may take (one per slot). */
const SLOTS = 64;

/**
 * A base for the gateway's internal listeners (one port per slot above it). Below Linux's
 * ephemeral range (32768–60999), where any outgoing connection of a busy run may hold a port,
 * and clear of every port something already listens on (this machine's RabbitMQ holds 25672):
 * Caddy's load fails when it cannot bind one, and so does the rollout that asked for it.
 */
export function internalPortBase(): number {
  const taken = listeningPorts();
  for (;;) {
    const base = 10_000 + Math.floor(Math.random() * 20_000);
    if (!Array.from({ length: SLOTS }, (_, i) => base + i).some((p) => taken.has(p))) return base;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestGateway {
  settings: HostGatewaySettings;
  /** The master's pid (kill it to stop the gateway as a crash would). */
  pid: number;
  stop: () => Promise<void>;
  exited: Promise<unknown>;
}

/**
 * This host's gateway (HAProxy) as `rondo up` starts it, for a test: the configuration found in
 * its directory when HAProxy accepts it, else the start-up one; the access log at its path.
 */
export async function startGateway(settings: HostGatewaySettings): Promise<TestGateway> {
  prepareGatewayStart(settings);
  const { command, args } = gatewayCommand(settings);
  const out = openSync(settings.accessLogPath, 'a');
  const err = openSync(process.env.RONDO_TEST_GATEWAY_LOG ?? join(settings.dir, 'gateway.log'), 'a');
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', out, err] });
  closeSync(out);
  closeSync(err);
  const exited = new Promise((r) => child.once('exit', r));
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  for (let i = 0; !(await gatewayAnswers(settings)); i++) {
    if (i > 200 || child.exitCode !== null)
      throw new Error(`the gateway did not start; see ${settings.dir}/gateway.log`);
    await sleep(50);
  }
  return {
    settings,
    pid: child.pid!,
    exited,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      kill();
      await exited;
    },
  };
}

/** The gateway a `rondo server` process with this environment drives (platformServerEnv). */
export function startServerGateway(env: NodeJS.ProcessEnv): Promise<TestGateway> {
  const platform = loadPlatformConfig(env.RONDO_DATA_DIR!, env);
  if (!platform) throw new Error('the environment has the platform off');
  return startGateway(platform.gateway);
}

export interface PlatformTestRondo extends TestRondo {
  gatewayUrl: string;
  /** Where the API listens (for the CLI as its own process). */
  apiUrl: string;
  publicPort: number;
  platform: PlatformConfig;
  instance: string;
  gateway: TestGateway;
}

/**
 * A control plane with the real platform: the machine's Docker engine and a Caddy of its own.
 * Everything it creates carries its own `rondo.instance` label and is removed by `close()`.
 */
export async function startPlatformRondo(
  driver: Driver,
  overrides: Partial<PlatformConfig['rollout']> = {},
  options: {
    registry?: string;
    baseImages?: BaseImages;
    keepUndeployed?: number;
    buildTimeoutMs?: number;
    tasks?: Partial<PlatformConfig['tasks']>;
    /** An embedded store in a directory, as a site has it (benchmarks), instead of in memory. */
    dataDir?: string;
    /** Where builds check out their source (default: the test's own directory). */
    buildWorkDir?: string;
    /** Metrics through a Prometheus the test starts (test/deploy/metrics.test.ts). */
    metrics?: MetricsSettings;
    /** The resync period (default 2 s); benchmarks with many keys pass their own. */
    resyncMs?: number;
  } = {},
): Promise<PlatformTestRondo> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-platform-'));
  const publicPort = await freePort();
  const portBase = internalPortBase();
  const platform: PlatformConfig = {
    dockerSocket: '/var/run/docker.sock',
    gateway: {
      dir: join(dir, 'gateway'),
      metricsListen: `127.0.0.1:${await freePort()}`,
      publicListen: `:${publicPort}`,
      publicPort,
      baseDomain: 'localhost',
      internalPortBase: portBase,
      accessLogPath: join(dir, 'access.log'),
      bodyLimitBytes: 10 * 1024 * 1024,
    },
    rollout: {
      readinessTimeoutMs: 20_000,
      drainMs: 1000,
      stopGraceSeconds: 2,
      internalPortBase: portBase,
      ...overrides,
    },
    resyncMs: options.resyncMs ?? 2000,
    registry: options.registry ?? '127.0.0.1:1',
    builds: {
      concurrency: 2,
      stepTimeoutMs: 60_000,
      buildTimeoutMs: options.buildTimeoutMs ?? 600_000,
      workDir: options.buildWorkDir ?? join(dir, 'builds'),
      baseImages: () => ({ ...DEFAULT_BASE_IMAGES, ...options.baseImages }),
      keepUndeployed: options.keepUndeployed ?? 5,
      dockerCli: '/usr/bin/docker',
      caBundle: '/etc/ssl/certs/ca-certificates.crt',
    },
    // Tests may schedule by the second (the test-only setting); sites may not.
    tasks: {
      scheduleRules: { allowSeconds: true, minIntervalSeconds: 1 },
      logLimitBytes: 1024 * 1024,
      retentionDays: 30,
      retentionCount: 1000,
      cancelGraceSeconds: 2,
      ...options.tasks,
    },
    webhookDeliveryRetentionDays: 30,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  };
  const gateway = await startGateway(platform.gateway);
  const base = await startTestRondo(driver, platform, options.dataDir);
  const apiUrl = await base.rondo.listen();
  const instance = base.rondo.instance!;
  return {
    ...base,
    platform,
    gateway,
    publicPort,
    instance,
    gatewayUrl: `http://127.0.0.1:${publicPort}`,
    apiUrl,
    async close() {
      // Stops the control plane and drops its database, then removes what it ran.
      await base.close();
      await cleanupInstance(instance);
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls a deployment until it leaves pending/rolling-out. */
export async function waitForDeployment(
  t: TestRondo,
  org: string,
  id: string,
  timeoutMs = 60_000,
): Promise<{ status: string; reason: string | null }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.call('GET', `/api/v1/orgs/${org}/deployments/${id}`);
    if (res.body.status !== 'pending' && res.body.status !== 'rolling-out') return res.body;
    if (Date.now() > deadline) throw new Error(`deployment ${id} still ${res.body.status}`);
    await sleep(200);
  }
}

/** Polls a build until it has ended (anything but queued or running) and returns it. */
export async function waitForBuild(
  t: TestRondo,
  id: string,
  timeoutMs = 60_000,
  // biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const b = (await t.call('GET', `/api/v1/orgs/default/builds/${id}`)).body;
    if (b.status !== 'queued' && b.status !== 'running') return b;
    if (Date.now() > deadline) throw new Error(`build ${id} did not finish`);
    await sleep(200);
  }
}

/** Polls a component's status until its deployment in `environment` (default the first) is active. */
export async function waitForActive(t: TestRondo, project: string, component: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await t.call(
      'GET',
      `/api/v1/orgs/default/projects/${project}/components/${component}/status`,
    );
    if (status.body.items[0]?.active?.status === 'active' || Date.now() > deadline) return status.body;
    await sleep(200);
  }
}

/** GET through the public gateway with a Host header. */
export function viaGateway(
  t: PlatformTestRondo,
  host: string,
  path: string,
): Promise<{ status: number; body: string }> {
  return gatewayGet(t.publicPort, host, path);
}

/** GET on 127.0.0.1:`port` with a Host header; fetch() does not let a caller set Host, node:http does. */
export async function gatewayGet(
  port: number,
  host: string,
  path: string,
): Promise<{ status: number; body: string }> {
  const { status, body } = await gatewayRequest(port, host, path);
  return { status, body };
}

/** `gatewayGet` on another address (a cluster node's), with more headers, answering its headers too. */
export function gatewayRequest(
  port: number,
  host: string,
  path: string,
  o: { address?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: o.address ?? '127.0.0.1',
        port,
        path,
        headers: { host, ...o.headers },
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** The environment of a `rondo server` process that runs with the platform: free ports (start its gateway with startServerGateway). */
export async function platformServerEnv(
  dataDir: string,
  token: string,
): Promise<NodeJS.ProcessEnv & { RONDO_GATEWAY_PORT: string }> {
  return {
    RONDO_PLATFORM: 'on',
    RONDO_DATA_DIR: dataDir,
    // Checkouts in the test's own directory, not the host's shared /dev/shm.
    RONDO_BUILD_WORKDIR: join(dataDir, 'builds'),
    RONDO_BOOTSTRAP_TOKEN: token,
    RONDO_GATEWAY_METRICS: `127.0.0.1:${await freePort()}`,
    RONDO_GATEWAY_PORT: String(await freePort()),
    RONDO_INTERNAL_GATEWAY_PORT_BASE: String(internalPortBase()),
    RONDO_RESYNC_SECONDS: '1',
    RONDO_DRAIN_SECONDS: '1',
  };
}

/** A CNCF Distribution registry of the test's own, on a free loopback port. */
export async function startRegistry(dir: string): Promise<{ addr: string; stop: () => void }> {
  const addr = `127.0.0.1:${await freePort()}`;
  const config = join(dir, 'registry.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(dir, 'registry')} }, delete: { enabled: true } }\nhttp: { addr: "${addr}" }\n`,
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  // A run that fails before its cleanup (a bench's setup, an aborted test) must not leave it behind.
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`http://${addr}/v2/`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await sleep(50);
  }
  return {
    addr,
    stop: () => {
      process.off('exit', kill);
      kill();
    },
  };
}
