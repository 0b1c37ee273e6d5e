import { fileURLToPath } from 'node:url';
import type { RondoConfig } from '../../config.js';
import { loadConfig } from '../../config.js';
import { controlPlaneTarget, platformParts } from '../../platform/local-platform.js';
import { httpAnswers, type ManagedProcess, runningPid, startProcess } from '../../platform/processes.js';
import { readSupervisorRecord, SUPERVISOR, Supervisor } from '../../platform/supervisor.js';
import { flagsOf, SERVER_NODE_FLAGS, type ServerFlags } from './server-actions.js';

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

function serverArgs(config: RondoConfig): string[] {
  return ['--port', String(config.port), '--host', config.host, '--data-dir', config.dataDir];
}

/** The environment of what `rondo up` leaves running: never the one-time bootstrap token. */
function partEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { RONDO_BOOTSTRAP_TOKEN: _, ...env } = process.env;
  return { ...env, ...extra };
}

/** The control plane as `rondo up` runs it in the background. */
export function controlPlaneProcess(config: RondoConfig, env: NodeJS.ProcessEnv = partEnv()): ManagedProcess {
  return {
    name: 'rondo',
    command: process.execPath,
    args: [...SERVER_NODE_FLAGS, MAIN, 'server', ...serverArgs(config)],
    env,
    ready: () => httpAnswers(`http://${config.host}:${config.port}/api/v1/healthz`),
  };
}

/** Starts the supervisor unless one runs; it watches what runs now and restarts what dies. */
export async function ensureSupervisor(config: RondoConfig): Promise<void> {
  if (runningPid(config.dataDir, SUPERVISOR)) return;
  await startProcess(config.dataDir, {
    name: SUPERVISOR,
    command: process.execPath,
    args: [MAIN, 'supervise', ...serverArgs(config)],
    env: partEnv(),
    ready: async () => readSupervisorRecord(config.dataDir)?.pid === runningPid(config.dataDir, SUPERVISOR),
  });
}

/** `rondo supervise` (started by `rondo up`): runs until SIGTERM (`rondo down`). */
export async function supervise(o: ServerFlags): Promise<void> {
  const config = loadConfig(flagsOf(o));
  const parts = [
    ...(config.platform ? platformParts(config.dataDir, config.platform, controlPlaneTarget(config)) : []),
    controlPlaneProcess(config),
  ].filter((p) => runningPid(config.dataDir, p.name));
  const supervisor = new Supervisor(config.dataDir, parts, (event) =>
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`),
  );
  supervisor.start();
  const stop = async () => {
    await supervisor.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}
