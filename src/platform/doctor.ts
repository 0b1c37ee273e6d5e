import { execFileSync } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { RondoConfig } from '../config.js';
import { gatewayAnswers } from '../gateway/host-gateway.js';
import type { Check } from './doctor-check.js';
import { nameServerChecks, programChecks } from './doctor-host.js';
import { supervisorChecks } from './doctor-supervisor.js';
import { engineAnswers } from './local-platform.js';
import { httpAnswers } from './processes.js';
import { readyAnswers } from './prometheus.js';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/** Checks each part of the local platform and says what is wrong and how to fix it. */
export async function runDoctor(config: RondoConfig): Promise<Check[]> {
  const checks: Check[] = [];
  const api = `http://${config.host}:${config.port}`;
  const apiUp = await httpAnswers(`${api}/api/v1/healthz`);
  checks.push({
    name: 'control plane',
    ok: apiUp,
    detail: apiUp ? `answers at ${api}` : `nothing answers at ${api}`,
    fix: 'rondo up',
  });
  const p = config.platform;
  if (p) {
    const engine = await engineAnswers(p.dockerSocket);
    checks.push({
      name: 'docker engine',
      ok: engine,
      detail: engine
        ? `answers at ${p.dockerSocket}`
        : existsSync(p.dockerSocket)
          ? `${p.dockerSocket} exists but does not answer`
          : `no socket at ${p.dockerSocket}`,
      fix: 'rondo up (starts dockerd), or set RONDO_DOCKER_SOCKET to your engine (Podman: its docker-compatible socket)',
    });
    if (engine) checks.push(...(await nameServerChecks(p.dockerSocket, apiUp)));
    const registry = await httpAnswers(`http://${p.registry}/v2/`);
    checks.push({
      name: 'registry',
      ok: registry,
      detail: registry ? `answers at ${p.registry}` : `registry down at ${p.registry}`,
      fix: 'rondo up',
    });
    if (p.registryPull) {
      const door = await httpAnswers(`http://${p.registryPull.listen}/v2/`);
      checks.push({
        name: 'registry pull door',
        ok: door,
        detail: door ? `answers at ${p.registryPull.listen}` : `nothing answers at ${p.registryPull.listen}`,
        fix: 'rondo up (RONDO_REGISTRY_PULL_LISTEN must be an address of this host)',
      });
    }
    const gateway = await gatewayAnswers(p.gateway);
    checks.push({
      name: 'gateway runtime API',
      ok: gateway,
      detail: gateway ? `answers in ${p.gateway.dir}` : `nothing answers in ${p.gateway.dir}`,
      fix: 'rondo up (its log: logs/gateway.log in the data directory)',
    });
    if (p.metrics) {
      const prometheus = await readyAnswers(p.metrics.listen);
      checks.push({
        name: 'metrics (Prometheus)',
        ok: prometheus,
        detail: prometheus
          ? `ready at ${p.metrics.listen}, keeping ${p.metrics.retention}`
          : `not ready at ${p.metrics.listen}`,
        fix: 'rondo up (its log: logs/prometheus.log in the data directory)',
      });
    }
    if (p.metrics && p.alerting) {
      const alertmanager = await httpAnswers(`http://${p.alerting.listen}/-/ready`);
      checks.push({
        name: 'alerts (Alertmanager)',
        ok: alertmanager,
        detail: alertmanager ? `ready at ${p.alerting.listen}` : `not ready at ${p.alerting.listen}`,
        fix: 'rondo up (its log: logs/alertmanager.log in the data directory)',
      });
    }
    if (!gateway) {
      const free = await portFree(p.gateway.publicPort);
      checks.push({
        name: 'gateway port',
        ok: free,
        detail: free
          ? `${p.gateway.publicPort} is free`
          : `port ${p.gateway.publicPort} is taken by another program`,
        fix: `stop what listens on ${p.gateway.publicPort} (ss -ltnp 'sport = :${p.gateway.publicPort}') or set RONDO_GATEWAY_PORT`,
      });
    }
  }
  if (!apiUp) {
    const free = await portFree(config.port);
    if (!free)
      checks.push({
        name: 'API port',
        ok: false,
        detail: `port ${config.port} is taken by another program`,
        fix: 'stop it, or set RONDO_PORT',
      });
  }
  checks.push(...supervisorChecks(config.dataDir));
  checks.push(...programChecks(p?.builds.dockerCli));
  const nofile = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
  const enough = Number.isNaN(nofile) || nofile >= 1024;
  checks.push({
    name: 'open files limit',
    ok: enough,
    detail: `ulimit -n is ${Number.isNaN(nofile) ? 'unlimited' : nofile}`,
    fix: 'raise it to at least 1024 (ulimit -n 65536)',
  });
  if (existsSync(config.dataDir)) {
    const fs = statfsSync(config.dataDir);
    const freeGb = (fs.bavail * fs.bsize) / 1024 ** 3;
    checks.push({
      name: 'disk space',
      ok: freeGb >= 1,
      detail: `${freeGb.toFixed(1)} GB free in ${config.dataDir}`,
      fix: 'free at least 1 GB for images and the store',
    });
  }
  return checks;
}
