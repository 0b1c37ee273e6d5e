import type { Logger } from 'pino';
import type { GatewayState, InternalGateway, PathRoute, Upstream } from '../../domain/gateway-routes.js';
import type { PathRouteIntent, RoutingState, TrafficPort } from '../driver.js';
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
    const switching = new Set(state.revisions.filter((r) => r.switching).map((r) => r.deployment));
    const addresses = new Map<string, string[]>();
    for (const w of replicas) {
      const deployment = w.labels[LABEL.deployment];
      if (!deployment || !w.ip || w.state !== 'running') continue;
      if (!w.ready && !switching.has(deployment)) continue;
      addresses.set(deployment, [...(addresses.get(deployment) ?? []), w.ip]);
    }
    const upstreams = (deployment: string, port: number): Upstream[] =>
      (addresses.get(deployment) ?? []).map((ip) => ({ dial: `${ip}:${port}` }));
    const route = (r: PathRouteIntent): PathRoute => ({
      prefix: r.prefix,
      basePath: r.basePath,
      upstreams: upstreams(r.deployment, r.port),
      owner: r.owner,
      componentPrefix: r.componentPrefix,
    });
    const internal: InternalGateway[] = [];
    for (const gw of state.internal) {
      const cidrs = networks
        .filter((n) => n.labels[LABEL.org] === gw.org && n.labels[LABEL.environment] === gw.environment)
        .map((n) => n.subnet);
      // No workload network of the environment here: nothing could reach the listener.
      if (cidrs.length === 0) continue;
      internal.push({
        environment: `${gw.org}-${gw.environment}`,
        port: gw.port,
        allowedCidrs: cidrs.sort(),
        routes: gw.routes.map(route),
      });
    }
    const part: GatewayState = {
      publicGateway: {
        environments: state.hosts.map((h) => ({ host: h.host, routes: h.routes.map(route) })),
        webApps: state.webApps.map((w) => ({
          host: w.host,
          upstreams: upstreams(w.deployment, w.port),
          owner: w.owner,
        })),
      },
      internal,
    };
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
