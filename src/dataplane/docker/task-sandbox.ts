import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import { pack } from 'tar-stream';
import { LABEL } from '../labels.js';
import { isAlready, isNotFound } from './engine-errors.js';

/** Built from the host's busybox-static: the sandbox only sleeps. */
export const SANDBOX_IMAGE = 'rondo-sandbox:1';

export const SANDBOX_LABEL = LABEL.sandbox;

/**
 * Per-network sandboxes for short runs (task executions), as a Kubernetes pod's sandbox: one
 * sleeping container joined to the (project, environment) network, whose network namespace runs
 * join (`container:<id>`). Starting a container on a user-defined network costs the engine
 * about 250 ms of network setup (and teardown at exit); joining a namespace that exists costs
 * almost nothing. Runs then share the sandbox's address, its DNS (the project's services by
 * name) and its /etc/hosts. Where no sandbox can be had (no static busybox on the host), runs
 * fall back to joining the network themselves.
 */
export class TaskSandboxes {
  readonly #docker: Docker;
  /** Sandbox container id by network name. */
  readonly #byNetwork = new Map<string, string>();

  constructor(docker: Docker) {
    this.#docker = docker;
  }

  /** The running sandbox of `network`, started if needed; undefined when sandboxes are unavailable. */
  async for(
    network: string,
    labels: Record<string, string>,
    host: { extraHosts?: string[]; dns?: string[] },
  ): Promise<string | undefined> {
    const known = this.#byNetwork.get(network);
    if (known) return known;
    if (!(await sandboxImage(this.#docker))) return undefined;
    const name = `${network}.sandbox`;
    const found = await this.#running(name);
    if (found) return this.#remember(network, found);
    try {
      const c = await this.#docker.createContainer({
        name,
        Image: SANDBOX_IMAGE,
        Labels: { ...labels, [SANDBOX_LABEL]: network },
        HostConfig: {
          NetworkMode: network,
          RestartPolicy: { Name: 'unless-stopped' },
          ...(host.extraHosts ? { ExtraHosts: host.extraHosts } : {}),
          ...(host.dns ? { Dns: host.dns } : {}),
        },
      });
      await c.start();
      return this.#remember(network, c.id);
    } catch (err) {
      // Another run created it a moment ago: use that one.
      if (!isAlready(err)) throw err;
      const other = await this.#running(name);
      return other ? this.#remember(network, other) : undefined;
    }
  }

  /** Forgets a sandbox that failed a run (gone, stopped); the next run makes or finds another. */
  forget(network: string): void {
    this.#byNetwork.delete(network);
  }

  #remember(network: string, id: string): string {
    this.#byNetwork.set(network, id);
    return id;
  }

  async #running(name: string): Promise<string | undefined> {
    try {
      const info = await this.#docker.getContainer(name).inspect();
      if (info.State.Running) return info.Id;
      await this.#docker.getContainer(info.Id).start();
      return info.Id;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}

const images = new WeakMap<Docker, Promise<boolean>>();

/** The sandbox image on this engine, built once per process from the host's static busybox; false without one. */
export function sandboxImage(docker: Docker): Promise<boolean> {
  let built = images.get(docker);
  if (!built) {
    built = buildImage(docker).catch(() => false);
    images.set(docker, built);
  }
  return built;
}

async function buildImage(docker: Docker): Promise<boolean> {
  try {
    await docker.getImage(SANDBOX_IMAGE).inspect();
    return true;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const busybox = staticBusybox();
  if (!busybox) return false;
  const tar = pack();
  tar.entry(
    { name: 'Dockerfile' },
    `FROM scratch\nCOPY busybox /busybox\nLABEL ${SANDBOX_LABEL}=image\nENTRYPOINT ["/busybox", "sleep", "2147483647"]\n`,
  );
  tar.entry({ name: 'busybox', mode: 0o755 }, readFileSync(busybox));
  tar.finalize();
  const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, {
    t: SANDBOX_IMAGE,
    labels: { [SANDBOX_LABEL]: 'image' },
  });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = out?.find((o) => o.error);
      if (err || failed) reject(err ?? new Error(failed?.error));
      else resolve();
    }),
  );
  return true;
}

/** The host's static busybox (Debian's busybox-static), or undefined. */
function staticBusybox(): string | undefined {
  const path = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync);
  if (!path) return undefined;
  try {
    execFileSync('ldd', [path], { stdio: 'ignore' });
    return undefined; // dynamically linked: would not run in an empty image
  } catch {
    return path;
  }
}
