import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { LABEL } from '../labels.js';
import { isAlready, isNotFound } from './engine-errors.js';
import { SANDBOX_IMAGE, sandboxImage } from './task-sandbox.js';

/** What a sandbox gives the replicas in it besides an address: /etc/hosts and the name servers. */
export interface SandboxWiring {
  extraHosts?: string[];
  dns?: string[];
}

/** A started sandbox a replica joins: the container, and the address the replica answers on. */
export interface ClaimedSandbox {
  id: string;
  ip: string;
}

interface Spare {
  wiring: string;
  ready: Promise<ClaimedSandbox | undefined>;
}

/**
 * Warm network namespaces for replicas, as a Kubernetes pod's sandbox (pause container) but made
 * ahead of need. Starting a container on a user-defined network spends most of its time on the
 * engine's network set-up (veth, bridge port, embedded DNS rules); a container that joins a
 * running sandbox's namespace skips it. Each network keeps one spare sandbox; a replica claims it
 * (a rename, so two control planes cannot both take it), runs in its namespace with its address,
 * and the next spare is made in the background, off the rollout's path. Without a spare (the
 * first replica of a network, a spare made for other wiring) the replica joins the network
 * itself, as before. A claimed sandbox goes with its replica (`removeWorkload`) or its network.
 */
export class ReplicaSandboxes {
  readonly #docker: Docker;
  readonly #spares = new Map<string, Spare>();

  constructor(docker: Docker) {
    this.#docker = docker;
  }

  /** The network's spare, renamed as claimed, or undefined when none is ready for this wiring. */
  async claim(network: string, wiring: SandboxWiring): Promise<ClaimedSandbox | undefined> {
    const spare = this.#spares.get(network);
    if (!spare || spare.wiring !== wiringKey(wiring)) return undefined;
    this.#spares.delete(network);
    const sandbox = await spare.ready.catch(() => undefined);
    if (!sandbox) return undefined;
    try {
      // By name: once one claimant renamed it, the name is gone and every other gets 404.
      await this.#docker.getContainer(spareName(network)).rename({ name: claimedName(network, sandbox.id) });
      return sandbox;
    } catch {
      return undefined;
    }
  }

  /**
   * Makes sure `network` has a spare for `wiring`, started in the background; a spare left by an
   * earlier control plane is adopted when its wiring matches, replaced otherwise.
   */
  prepare(
    network: string,
    labels: Record<string, string>,
    wiring: SandboxWiring,
    wanted: () => boolean,
  ): void {
    const key = wiringKey(wiring);
    if (!wanted()) return;
    if (this.#spares.get(network)?.wiring === key) return;
    const ready = this.#make(network, labels, wiring, key, wanted);
    const spare: Spare = { wiring: key, ready };
    this.#spares.set(network, spare);
    // A failed spare is forgotten, so the next replica prepares another.
    ready.then(
      (s) => {
        if (!s && this.#spares.get(network) === spare) this.#spares.delete(network);
      },
      () => {
        if (this.#spares.get(network) === spare) this.#spares.delete(network);
      },
    );
  }

  /** Forgets the network's spare (the network is going); the engine removes it with the network's sandboxes. */
  forget(network: string): void {
    this.#spares.delete(network);
  }

  async #make(
    network: string,
    labels: Record<string, string>,
    wiring: SandboxWiring,
    key: string,
    wanted: () => boolean,
  ): Promise<ClaimedSandbox | undefined> {
    if (!(await sandboxImage(this.#docker))) return undefined;
    const name = spareName(network);
    const left = await this.#inspect(name);
    if (left?.Config.Labels?.[WIRING] === key && left.State.Running) return sandboxOf(left);
    if (left) await this.#docker.getContainer(left.Id).remove({ force: true });
    try {
      const c = await this.#docker.createContainer({
        name,
        Image: SANDBOX_IMAGE,
        Labels: { ...labels, [LABEL.sandbox]: network, [WIRING]: key },
        HostConfig: {
          NetworkMode: network,
          ...(wiring.extraHosts?.length ? { ExtraHosts: wiring.extraHosts } : {}),
          ...(wiring.dns ? { Dns: wiring.dns } : {}),
        },
      });
      await c.start();
      // The control plane stopped (or the network went) while it was being made: not left behind.
      if (!wanted()) {
        await c.remove({ force: true });
        return undefined;
      }
      return sandboxOf(await c.inspect());
    } catch (err) {
      // Another control plane made one a moment ago: the next prepare adopts it.
      if (isAlready(err)) return undefined;
      throw err;
    }
  }

  async #inspect(name: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.#docker.getContainer(name).inspect();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}

/** The label that says which wiring a spare was made with (a hash: it is compared, not read). */
const WIRING = 'rondo.sandbox-wiring';

const spareName = (network: string) => `${network}.spare`;
const claimedName = (network: string, id: string) => `${network}.ns-${id.slice(0, 12)}`;

function wiringKey(w: SandboxWiring): string {
  return createHash('sha256')
    .update(JSON.stringify([w.extraHosts ?? [], w.dns ?? []]))
    .digest('hex')
    .slice(0, 16);
}

function sandboxOf(info: Docker.ContainerInspectInfo): ClaimedSandbox | undefined {
  const ip = Object.values(info.NetworkSettings.Networks ?? {})[0]?.IPAddress;
  return ip ? { id: info.Id, ip } : undefined;
}
