import type Docker from 'dockerode';
import { RondoError } from '../../domain/errors.js';
import type { DataPlaneStatus } from '../driver.js';
import { engineMessage, engineUnavailable } from './engine-errors.js';

/** dockerode passes `abortSignal` through to the request; its typings omit the option. */
type Signalled<T> = (opts: { abortSignal: AbortSignal }) => Promise<T>;

interface EngineInfo {
  NCPU?: number;
  MemTotal?: number;
}

/**
 * The engine's version and its host's CPUs and memory, within `timeoutMs`; an engine that does
 * not answer (no socket, refused, too slow) is unreachable with what to fix.
 */
export async function engineStatus(
  docker: Docker,
  socketPath: string,
  timeoutMs: number,
): Promise<DataPlaneStatus> {
  const signal = AbortSignal.timeout(timeoutMs);
  const version = docker.version.bind(docker) as unknown as Signalled<Docker.DockerVersion>;
  const info = docker.info.bind(docker) as unknown as Signalled<EngineInfo>;
  try {
    const [v, i] = await Promise.all([version({ abortSignal: signal }), info({ abortSignal: signal })]);
    // Podman answers Docker's API and names itself among the components.
    const podman = v.Components?.some((c) => /podman/i.test(c.Name)) ?? false;
    return {
      reachable: true,
      version: `${podman ? 'Podman' : 'Docker'} ${v.Version} (API ${v.ApiVersion})`,
      capacity: { cpus: i.NCPU ?? 0, memoryBytes: i.MemTotal ?? 0 },
    };
  } catch (err) {
    if (signal.aborted)
      return {
        reachable: false,
        reason: `the engine at ${socketPath} gave no answer in ${timeoutMs / 1000} s; check that it is running and not overloaded (docker info)`,
      };
    const known = engineUnavailable(err, socketPath);
    return {
      reachable: false,
      reason:
        known instanceof RondoError
          ? known.message
          : `the engine at ${socketPath} answered: ${engineMessage(err)}`,
    };
  }
}
