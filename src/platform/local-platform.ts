import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { RondoConfig } from '../config.js';
import {
  gatewayAnswers,
  gatewayCommand,
  prepareGatewayStart,
  writeStartupConfig,
} from '../gateway/host-gateway.js';
import type { PlatformConfig } from '../platform-config.js';
import { alertmanagerAnswers, alertmanagerProcess, ensureAlertRulesFile } from './alertmanager.js';
import { missingPrograms } from './host-programs.js';
import { httpAnswers, type ManagedProcess, runningPid, startProcess, stopProcess } from './processes.js';
import { prometheusAnswers, prometheusProcess } from './prometheus.js';
import { registryProcess, registryPullProcess } from './registry.js';
import { SUPERVISOR } from './supervisor.js';

/** True when the Docker engine answers on its socket. */
export function engineAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** The programs `rondo up` starts, installed from Debian by scripts/install-deps.sh when missing. */
export function installMissing(): void {
  const missing = missingPrograms().map((p) => p.command);
  if (missing.length === 0) return;
  const script = fileURLToPath(new URL('../../scripts/install-deps.sh', import.meta.url));
  process.stdout.write(`Installing what is missing (${missing.join(', ')})…\n`);
  execFileSync(script, ['runtime'], { stdio: 'inherit' });
}

function gatewayProcess(platform: PlatformConfig): ManagedProcess {
  const g = platform.gateway;
  prepareGatewayStart(g);
  return {
    name: 'gateway',
    ...gatewayCommand(g),
    // HAProxy's standard output is the access log (one JSON line per request); its messages go to logs/gateway.log.
    stdout: g.accessLogPath,
    ready: () => gatewayAnswers(g),
    // After a crash it starts with the configuration it last ran, so the routes are back before
    // the control plane notices; one that fails to start (a port taken meanwhile) is replaced by
    // the start-up configuration, for the control plane to fill.
    beforeRestart: async () => prepareGatewayStart(g),
    onFailedStart: () => writeStartupConfig(g),
  };
}

/**
 * Stops the containerd a dead dockerd leaves behind: a dockerd started while it still runs tries to
 * reuse it, waits 15 s and gives up. It may exit by itself (on its next log line to the dead
 * dockerd) — else SIGTERM, then SIGKILL. The containers' shims, and so the containers, live on,
 * and the new containerd takes them back (`--live-restore`).
 */
export async function stopOrphanedContainerd(pidPath: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidPath, 'utf8'));
  } catch {
    return;
  }
  const gone = async (tries: number) => {
    for (let i = 0; i < tries; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return true;
      }
      await sleep(100);
    }
    return false;
  };
  if (!pid || (await gone(10))) return;
  process.kill(pid, 'SIGTERM');
  if (await gone(30)) return;
  process.kill(pid, 'SIGKILL');
  await gone(20);
}

function dockerdProcess(platform: PlatformConfig): ManagedProcess {
  return {
    name: 'dockerd',
    command: 'dockerd',
    // Containers keep running while the engine restarts (docs/decisions.md).
    args: ['--live-restore'],
    ready: () => engineAnswers(platform.dockerSocket),
    beforeRestart: () => stopOrphanedContainerd('/var/run/docker/containerd/containerd.pid'),
  };
}

/** Where Prometheus reaches the control plane: its listen address, loopback when it listens on all. */
export function controlPlaneTarget(config: Pick<RondoConfig, 'host' | 'port'>): string {
  const host = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host;
  return `${host.includes(':') ? `[${host}]` : host}:${config.port}`;
}

/** Prometheus' alerting: the rule file the control plane writes and Alertmanager (G3 alerts). */
function alertingTargets(dataDir: string, platform: PlatformConfig) {
  return platform.alerting
    ? { alerting: { rulesFile: ensureAlertRulesFile(dataDir), alertmanager: platform.alerting.listen } }
    : {};
}

/** The parts besides the control plane, as `rondo up` starts them and its supervisor restarts them. */
export function platformParts(
  dataDir: string,
  platform: PlatformConfig,
  controlPlane = '127.0.0.1:7070',
): ManagedProcess[] {
  return [
    dockerdProcess(platform),
    registryProcess(dataDir, platform.registry),
    ...(platform.registryPull ? [registryPullProcess(dataDir, platform.registryPull)] : []),
    gatewayProcess(platform),
    ...(platform.metrics
      ? [
          prometheusProcess(dataDir, platform.metrics, {
            controlPlane,
            gatewayMetrics: platform.gateway.metricsListen,
            ...alertingTargets(dataDir, platform),
          }),
        ]
      : []),
    ...(platform.metrics && platform.alerting
      ? [alertmanagerProcess(dataDir, platform.alerting, controlPlane)]
      : []),
  ];
}

/** Ensures the engine, the registry and the gateway run; starts only what is not running. */
export async function ensurePlatform(config: RondoConfig, platform: PlatformConfig): Promise<string[]> {
  const started: string[] = [];
  const { dataDir } = config;
  if (!(await engineAnswers(platform.dockerSocket))) {
    if (platform.dockerSocket !== '/var/run/docker.sock') {
      throw new Error(
        `the Docker engine at ${platform.dockerSocket} does not answer; start it (rondo starts only the default engine)`,
      );
    }
    await startProcess(dataDir, dockerdProcess(platform));
    started.push('dockerd');
  }
  if (!runningPid(dataDir, 'registry') && !(await httpAnswers(`http://${platform.registry}/v2/`))) {
    await startProcess(dataDir, registryProcess(dataDir, platform.registry));
    started.push('registry');
  }
  const pull = platform.registryPull;
  if (pull && !runningPid(dataDir, 'registry-pull') && !(await httpAnswers(`http://${pull.listen}/v2/`))) {
    await startProcess(dataDir, registryPullProcess(dataDir, pull));
    started.push('registry-pull');
  }
  if (!runningPid(dataDir, 'gateway') && !(await gatewayAnswers(platform.gateway))) {
    await startProcess(dataDir, gatewayProcess(platform));
    started.push('gateway');
  }
  const metrics = platform.metrics;
  if (metrics && !runningPid(dataDir, 'prometheus') && !(await prometheusAnswers(metrics.listen))) {
    const targets = {
      controlPlane: controlPlaneTarget(config),
      gatewayMetrics: platform.gateway.metricsListen,
      ...alertingTargets(dataDir, platform),
    };
    await startProcess(dataDir, prometheusProcess(dataDir, metrics, targets));
    started.push('prometheus');
  }
  const alerting = platform.alerting;
  if (
    metrics &&
    alerting &&
    !runningPid(dataDir, 'alertmanager') &&
    !(await alertmanagerAnswers(alerting.listen))
  ) {
    await startProcess(dataDir, alertmanagerProcess(dataDir, alerting, controlPlaneTarget(config)));
    started.push('alertmanager');
  }
  return started;
}

/** Stops, in reverse order, what `rondo up` started (an engine it found running is left alone). */
export async function stopPlatform(dataDir: string): Promise<string[]> {
  // The supervisor first, so it does not restart what is being stopped.
  await stopProcess(dataDir, SUPERVISOR);
  const stopped: string[] = [];
  for (const name of [
    'rondo',
    'alertmanager',
    'prometheus',
    'gateway',
    'registry-pull',
    'registry',
    'dockerd',
  ]) {
    if (await stopProcess(dataDir, name)) stopped.push(name);
  }
  return stopped;
}
