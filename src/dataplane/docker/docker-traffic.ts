import type { Logger } from 'pino';
import type { GatewayState } from '../../domain/gateway-routes.js';
import type { RoutingState, TrafficPort } from '../driver.js';
import { gatewayPart, routedAddresses } from '../gateway-part.js';
import { LABEL, networkName } from '../labels.js';
import type { DockerDataPlane } from './docker-data-plane.js';
import type { NetworkInfo, NetworkNames, WorkloadInfo } from './engine.js';

/** This host's gateway (`src/gateway/host-gateway.ts`): each Docker data plane hands over its part. */
export interface HostGateway {
  apply(dataPlaneId: string, part: GatewayState): Promise<void>;
}

/**
 * Traffic on Docker: the routing state becomes addresses — the replicas' IPs on their bridge
 * networks — for this host's gateway (one part per data plane) and for the name server, published
 * together so the gateway and the names switch at the same moment (§6.4).
 */
export class DockerTraffic implements TrafficPort {
  readonly #engine: DockerDataPlane;
  readonly #gateway: HostGateway | undefined;
  readonly #dataPlaneId: string;
  readonly #instance: string;
  readonly #log: Logger;
  /** The last answer of the engine (replicas, networks), for when it does not answer. */
  readonly #lastObserved = new Map<string, unknown[]>();

  constructor(
    engine: DockerDataPlane,
    deps: { gateway: HostGateway | undefined; dataPlaneId: string; instance: string; logger: Logger },
  ) {
    this.#engine = engine;
    this.#gateway = deps.gateway;
    this.#dataPlaneId = deps.dataPlaneId;
    this.#instance = deps.instance;
    this.#log = deps.logger;
  }

  async publish(state: RoutingState): Promise<void> {
    const labels = { [LABEL.instance]: this.#instance };
    const [replicas, networks] = await Promise.all([
      this.#observe(() => this.#engine.listWorkloads(labels), 'replicas'),
      state.internal.length > 0
        ? this.#observe(() => this.#engine.listNetworks(labels), 'networks')
        : Promise.resolve([] as NetworkInfo[]),
    ]);
    const addresses = routedAddresses(state, replicas);
    const part = gatewayPart(state, addresses, (org, environment) =>
      networks
        .filter((n) => n.labels[LABEL.org] === org && n.labels[LABEL.environment] === environment)
        .map((n) => n.subnet),
    );
    const names = new Map<string, NetworkNames>();
    for (const r of state.revisions) {
      const network = networkName(this.#instance, r);
      const table = names.get(network) ?? {};
      for (const name of r.names) table[name] = addresses.get(r.deployment) ?? [];
      names.set(network, table);
    }
    await Promise.all([
      this.#gateway?.apply(this.#dataPlaneId, part),
      this.#engine
        .publishNames(names)
        .catch((err: unknown) =>
          this.#log.warn({ err: err instanceof Error ? err.message : err }, 'names not published'),
        ),
    ]);
  }

  /**
   * An engine that restarts (or whose API alone is down) leaves its replicas running (dockerd's
   * `--live-restore`), so its routes stay as last observed, with a warning, until it answers
   * again; one never observed since this process started has its routes left out.
   */
  async #observe<T extends WorkloadInfo | NetworkInfo>(read: () => Promise<T[]>, what: string): Promise<T[]> {
    try {
      const seen = await read();
      this.#lastObserved.set(what, seen);
      return seen;
    } catch (err) {
      const last = this.#lastObserved.get(what) as T[] | undefined;
      this.#log.warn(
        { dataPlane: this.#dataPlaneId, err: err instanceof Error ? err.message : err },
        last
          ? 'data plane unreachable; its routes stay as last observed'
          : 'data plane unreachable; its routes are left out',
      );
      return last ?? [];
    }
  }
}
