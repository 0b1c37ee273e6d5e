import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RondoConfig } from '../config.js';
import type { PlatformConfig } from '../platform-config.js';
import {
  commandExists,
  httpAnswers,
  type ManagedProcess,
  runningPid,
  startProcess,
  stopProcess,
} from './processes.js';

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

/** The packages `rondo up` needs on Debian, installed by scripts/install-deps.sh when missing. */
export function installMissing(): void {
  const missing = ['dockerd', 'caddy', 'docker-registry', 'git'].filter((c) => !commandExists(c));
  if (missing.length === 0) return;
  const script = fileURLToPath(new URL('../../scripts/install-deps.sh', import.meta.url));
  process.stdout.write(`Installing what is missing (${missing.join(', ')})…\n`);
  execFileSync(script, ['runtime'], { stdio: 'inherit' });
}

function registryProcess(dataDir: string, listen: string): ManagedProcess {
  const dir = join(dataDir, 'registry');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: warn }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: "${listen}" }`,
      '',
    ].join('\n'),
  );
  return {
    name: 'registry',
    command: 'docker-registry',
    args: ['serve', config],
    ready: () => httpAnswers(`http://${listen}/v2/`),
  };
}

function caddyProcess(dataDir: string, platform: PlatformConfig): ManagedProcess {
  const file = join(dataDir, 'gateway', 'caddy.json');
  mkdirSync(join(dataDir, 'gateway'), { recursive: true });
  // Caddy starts with its admin API only; the control plane loads the routes.
  writeFileSync(file, JSON.stringify({ admin: { listen: platform.gateway.adminListen } }));
  return {
    name: 'gateway',
    command: 'caddy',
    args: ['run', '--config', file],
    env: {
      ...process.env,
      HOME: join(dataDir, 'gateway'),
      XDG_DATA_HOME: join(dataDir, 'gateway'),
      XDG_CONFIG_HOME: join(dataDir, 'gateway'),
    },
    ready: () => httpAnswers(`http://${platform.gateway.adminListen}/config/`),
  };
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
    await startProcess(dataDir, {
      name: 'dockerd',
      command: 'dockerd',
      args: [],
      ready: () => engineAnswers(platform.dockerSocket),
    });
    started.push('dockerd');
  }
  if (!runningPid(dataDir, 'registry') && !(await httpAnswers(`http://${platform.registry}/v2/`))) {
    await startProcess(dataDir, registryProcess(dataDir, platform.registry));
    started.push('registry');
  }
  if (
    !runningPid(dataDir, 'gateway') &&
    !(await httpAnswers(`http://${platform.gateway.adminListen}/config/`))
  ) {
    await startProcess(dataDir, caddyProcess(dataDir, platform));
    started.push('gateway');
  }
  return started;
}

/** Stops, in reverse order, what `rondo up` started (an engine it found running is left alone). */
export async function stopPlatform(dataDir: string): Promise<string[]> {
  const stopped: string[] = [];
  for (const name of ['rondo', 'gateway', 'registry', 'dockerd']) {
    if (await stopProcess(dataDir, name)) stopped.push(name);
  }
  return stopped;
}
