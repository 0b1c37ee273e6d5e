import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BaseImages, loadBaseImages } from './builds/presets.js';
import type { GatewaySettings } from './deploy/gateway-sync.js';
import type { RolloutSettings } from './deploy/reconcile/deps.js';
import type { ScheduleRules } from './domain/task.js';
import { loadMetricsSettings, type MetricsSettings } from './observability/metrics/metrics-settings.js';
import { type AlertmanagerSettings, loadAlertmanagerSettings } from './platform/alertmanager.js';
import type { RegistryPullSettings } from './platform/registry.js';

/** How the control plane reaches its local platform: the engine, the gateway, rollout timings. */
export interface PlatformConfig {
  dockerSocket: string;
  gateway: GatewaySettings;
  rollout: RolloutSettings;
  resyncMs: number;
  /** The platform registry (`host:port`) images are pushed to. */
  registry: string;
  /** Its read-only door for clusters (`RONDO_REGISTRY_PULL_LISTEN`); absent: none. */
  registryPull?: RegistryPullSettings;
  builds: {
    concurrency: number;
    stepTimeoutMs: number;
    buildTimeoutMs: number;
    workDir: string;
    /** Read when a build needs them: images.json changes while the control plane runs. */
    baseImages: () => BaseImages;
    keepUndeployed: number;
    /** The docker CLI with BuildKit (Debian's), for Dockerfiles that use RUN --mount. */
    dockerCli: string;
    caBundle: string;
  };
  tasks: TaskSettings;
  /** Webhook deliveries (§9) are kept this many days, then deleted. */
  webhookDeliveryRetentionDays: number;
  /** Runtime logs (G3); absent: kept 30 days, collected with the defaults. */
  logs?: LogSettings;
  /** Prometheus (G3 metrics); absent: no metrics API, no sampling. */
  metrics?: MetricsSettings;
  /** Alertmanager (G3 alerts), beside Prometheus: latency, traffic and resource alerts. */
  alerting?: AlertmanagerSettings;
}

/** Runtime logs (G3): retention and the collector's timings (tests shorten them). */
export interface LogSettings {
  retentionDays: number;
  discoverMs?: number;
  flushMs?: number;
  batchLines?: number;
}

/** Task executions (§8): schedule limits, log cap, history retention. */
export interface TaskSettings {
  scheduleRules: ScheduleRules;
  logLimitBytes: number;
  retentionDays: number;
  retentionCount: number;
  /** Seconds a cancelled run gets between SIGTERM and SIGKILL. */
  cancelGraceSeconds: number;
}

const num = (v: string | undefined, fallback: number, what: string): number => {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a non-negative number, got '${v}'`);
  return n;
};

/** Reads `RONDO_*` platform variables; `RONDO_PLATFORM=off` runs the control plane alone (no deploys). */
export function loadPlatformConfig(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): PlatformConfig | undefined {
  if (env.RONDO_PLATFORM === 'off') return undefined;
  const internalPortBase = num(
    env.RONDO_INTERNAL_GATEWAY_PORT_BASE,
    7100,
    'RONDO_INTERNAL_GATEWAY_PORT_BASE',
  );
  const publicPort = num(env.RONDO_GATEWAY_PORT, 8080, 'RONDO_GATEWAY_PORT');
  return {
    dockerSocket: env.RONDO_DOCKER_SOCKET || '/var/run/docker.sock',
    gateway: {
      dir: env.RONDO_GATEWAY_DIR || join(dataDir === 'memory://' ? '/tmp/rondo' : dataDir, 'gateway'),
      metricsListen: env.RONDO_GATEWAY_METRICS || '127.0.0.1:7072',
      publicListen: `:${publicPort}`,
      publicPort,
      baseDomain: env.RONDO_BASE_DOMAIN || 'localhost',
      internalPortBase,
      accessLogPath: join(dataDir === 'memory://' ? '/tmp' : dataDir, 'logs', 'gateway-access.log'),
      bodyLimitBytes: 10 * 1024 * 1024,
    },
    rollout: {
      readinessTimeoutMs:
        num(env.RONDO_READINESS_TIMEOUT_SECONDS, 60, 'RONDO_READINESS_TIMEOUT_SECONDS') * 1000,
      drainMs: num(env.RONDO_DRAIN_SECONDS, 2, 'RONDO_DRAIN_SECONDS') * 1000,
      stopGraceSeconds: 10,
      internalPortBase,
    },
    resyncMs: num(env.RONDO_RESYNC_SECONDS, 5, 'RONDO_RESYNC_SECONDS') * 1000,
    registry: env.RONDO_REGISTRY_LISTEN || '127.0.0.1:7073',
    ...(env.RONDO_REGISTRY_PULL_LISTEN
      ? {
          registryPull: {
            listen: env.RONDO_REGISTRY_PULL_LISTEN,
            ...(env.RONDO_REGISTRY_PULL_HTPASSWD ? { htpasswd: env.RONDO_REGISTRY_PULL_HTPASSWD } : {}),
          },
        }
      : {}),
    builds: {
      concurrency: num(env.RONDO_BUILD_CONCURRENCY, 2, 'RONDO_BUILD_CONCURRENCY'),
      stepTimeoutMs:
        num(env.RONDO_BUILD_STEP_TIMEOUT_SECONDS, 600, 'RONDO_BUILD_STEP_TIMEOUT_SECONDS') * 1000,
      buildTimeoutMs: num(env.RONDO_BUILD_TIMEOUT_SECONDS, 1800, 'RONDO_BUILD_TIMEOUT_SECONDS') * 1000,
      workDir: env.RONDO_BUILD_WORKDIR || defaultBuildWorkDir(dataDir),
      baseImages: () => loadBaseImages(join(dataDir, 'images.json')),
      keepUndeployed: num(env.RONDO_BUILDS_KEEP, 5, 'RONDO_BUILDS_KEEP'),
      // Debian's CLI has BuildKit built in; another docker CLI on PATH may not (MACHINE-NOTES).
      dockerCli: env.RONDO_DOCKER_CLI || '/usr/bin/docker',
      caBundle: env.RONDO_CA_BUNDLE || '/etc/ssl/certs/ca-certificates.crt',
    },
    tasks: {
      scheduleRules: {
        // Seconds-resolution schedules are for tests and benchmarks, not sites.
        allowSeconds: env.RONDO_TASKS_SECONDS_SCHEDULES === 'test-only',
        minIntervalSeconds: num(env.RONDO_TASKS_MIN_INTERVAL_SECONDS, 60, 'RONDO_TASKS_MIN_INTERVAL_SECONDS'),
      },
      logLimitBytes: num(env.RONDO_EXECUTION_LOG_LIMIT_BYTES, 1024 * 1024, 'RONDO_EXECUTION_LOG_LIMIT_BYTES'),
      retentionDays: num(env.RONDO_EXECUTION_RETENTION_DAYS, 30, 'RONDO_EXECUTION_RETENTION_DAYS'),
      retentionCount: num(env.RONDO_EXECUTION_RETENTION_COUNT, 1000, 'RONDO_EXECUTION_RETENTION_COUNT'),
      cancelGraceSeconds: 5,
    },
    webhookDeliveryRetentionDays: num(
      env.RONDO_WEBHOOK_DELIVERY_RETENTION_DAYS,
      30,
      'RONDO_WEBHOOK_DELIVERY_RETENTION_DAYS',
    ),
    logs: { retentionDays: num(env.RONDO_LOG_RETENTION_DAYS, 30, 'RONDO_LOG_RETENTION_DAYS') },
    metrics: loadMetricsSettings(env),
    alerting: loadAlertmanagerSettings(env),
  };
}

/**
 * Where builds check out their source: in memory when the host has a tmpfs at /dev/shm, else under
 * the data directory. A checkout lives for one build and is removed after it, and creating a tree of
 * files in memory is about ten times faster than on this machine's disk (a 200-file checkout: 8 ms
 * against 89 ms). `RONDO_BUILD_WORKDIR` puts checkouts on a disk, for very large repositories.
 */
export function defaultBuildWorkDir(dataDir: string, mounts = '/proc/mounts'): string {
  const disk = join(dataDir === 'memory://' ? '/tmp' : dataDir, 'builds');
  try {
    const shm = readFileSync(mounts, 'utf8')
      .split('\n')
      .some((line) => /^\S+ \/dev\/shm tmpfs /.test(line));
    if (!shm) return disk;
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm/rondo-builds';
  } catch {
    return disk;
  }
}
