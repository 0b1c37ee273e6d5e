import type { Logger } from 'pino';
import type { DataPlane, NetworkNames, WorkloadInfo } from '../dataplane/data-plane.js';
import { LABEL, networkName } from '../dataplane/labels.js';
import type { DataPlaneRegistry } from '../dataplane/registry.js';
import type { CaddyAdmin } from '../gateway/caddy-admin.js';
import { type CaddySettings, caddyConfig } from '../gateway/caddy-config.js';
import type { GatewayState, InternalGateway, PathRoute } from '../gateway/routes.js';
import type { Store } from '../store/store.js';
import { deploymentTargets, replicaNames } from './targets.js';

export interface GatewaySettings extends CaddySettings {
  publicPort: number;
  baseDomain: string;
  internalPortBase: number;
}

/** A replica takes traffic, and answers to its names, once the rollout has marked it ready. */
export const isServing = (w: WorkloadInfo) => w.state === 'running' && w.ip !== undefined && w.ready;

/** What a sync applies: the gateway's routes, and each data plane's names per network. */
export interface TrafficState {
  gateway: GatewayState;
  names: Map<DataPlane, Map<string, NetworkNames>>;
}

/**
 * Computes the gateway's routes and the networks' names from the active deployments and the
 * replicas that serve them, and applies both together (Caddy in one load, names in one publish
 * per data plane), so the gateway and the names switch at the same moment (§6.4). Level-based:
 * it never applies a diff, so running it again (after a crash, or on a timer) converges to the
 * same configuration.
 */
export class GatewaySync {
  readonly #deps: GatewaySyncDeps;
  #running: Promise<void> = Promise.resolve();
  /** The last answer of each data plane (workloads, networks), for when it does not answer. */
  readonly #lastObserved = new Map<string, unknown[]>();

  constructor(deps: GatewaySyncDeps) {
    this.#deps = deps;
  }

  /** Serialized: concurrent callers wait for the sync in progress, then run their own. */
  sync(): Promise<void> {
    const next = this.#running.catch(() => undefined).then(() => this.#syncOnce());
    this.#running = next;
    return next;
  }

  async #syncOnce(): Promise<void> {
    const { gateway, names } = await this.desiredState();
    const [changed] = await Promise.all([
      this.#deps.admin.load(caddyConfig(gateway, this.#deps.settings)),
      ...[...names].map(([dp, tables]) =>
        dp
          .publishNames(tables)
          .catch((err: unknown) =>
            this.#deps.logger.warn({ err: err instanceof Error ? err.message : err }, 'names not published'),
          ),
      ),
    ]);
    if (changed)
      this.#deps.logger.debug({ routes: gateway.publicGateway.environments.length }, 'gateway routes loaded');
  }

  /**
   * A pure function of the store (and what the data planes run): the active deployments, except
   * that one whose rollout has switched (phase `TrafficSwitching`) is routed in place of its
   * component's active one, to its running replicas (they passed readiness; the marks may not have
   * landed yet).
   */
  async desiredState(): Promise<TrafficState> {
    const { store, dataPlanes, settings, instance } = this.#deps;
    const routed = await deploymentTargets(store.db)
      .select('d.phase')
      .where((eb) => eb.or([eb('d.status', '=', 'active'), eb('d.phase', '=', 'TrafficSwitching')]))
      .execute();
    const switching = routed.filter((t) => t.phase === 'TrafficSwitching');
    const active = [
      ...routed.filter(
        (a) =>
          a.phase !== 'TrafficSwitching' &&
          !switching.some((s) => s.component_id === a.component_id && s.environment_id === a.environment_id),
      ),
      ...switching,
    ];
    const envHosts = new Map<string, PathRoute[]>();
    const internal = new Map<string, InternalGateway>();
    const webApps: GatewayState['publicGateway']['webApps'] = [];
    const byPlane = new Map<string, WorkloadInfo[]>();
    // Every data plane in use gets its whole table, so names of what no longer runs go away.
    const names = new Map(dataPlanes.clients().map((dp) => [dp, new Map<string, NetworkNames>()]));

    for (const t of active) {
      const dp = dataPlanes.for({
        id: t.data_plane_id,
        type: t.data_plane_type,
        config: t.data_plane_config,
      });
      let workloads = byPlane.get(t.data_plane_id);
      if (!workloads) {
        workloads = await this.#observe(
          () => dp.listWorkloads({ [LABEL.instance]: instance }),
          `workloads ${t.data_plane_id}`,
        );
        byPlane.set(t.data_plane_id, workloads);
      }
      const serving = workloads.filter(
        (w) =>
          w.labels[LABEL.deployment] === t.id &&
          (isServing(w) || (t.phase === 'TrafficSwitching' && w.state === 'running' && w.ip !== undefined)),
      );
      const tables = names.get(dp) ?? new Map<string, NetworkNames>();
      names.set(dp, tables);
      const network = networkName(instance, t);
      const table = tables.get(network) ?? {};
      for (const name of replicaNames(t)) table[name] = serving.flatMap((w) => (w.ip ? [w.ip] : []));
      tables.set(network, table);
      const spec = t.spec;
      const envKey = `${t.org}/${t.environment}`;
      // Names the component in the gateway's access log (G3); never sent to clients.
      const owner = {
        orgId: t.org_id,
        projectId: t.project_id,
        componentId: t.component_id,
        environmentId: t.environment_id,
        deploymentId: t.id,
      };
      for (const ep of spec.endpoints) {
        const upstreams = serving.map((w) => ({ dial: `${w.ip}:${ep.port}` }));
        if (t.component_type === 'web-app') {
          webApps.push({
            host: `${t.component}.${t.project}.${t.org}.${t.environment}.${settings.baseDomain}`,
            upstreams,
            owner,
          });
          break;
        }
        const basePath = ep.basePath;
        if (ep.visibility.includes('Public')) {
          const host = `${t.environment}.${settings.baseDomain}`;
          const routes = envHosts.get(host) ?? [];
          routes.push({
            prefix: `/${t.org}/${t.project}/${t.component}/${ep.name}`,
            basePath,
            upstreams,
            owner,
            componentPrefix: `/${t.org}/${t.project}/${t.component}`,
          });
          envHosts.set(host, routes);
        }
        if (ep.visibility.includes('Organization') && t.gateway_slot !== null) {
          const gw = internal.get(envKey) ?? {
            environment: `${t.org}-${t.environment}`,
            port: settings.internalPortBase + t.gateway_slot,
            allowedCidrs: [],
            routes: [],
          };
          gw.routes.push({
            prefix: `/${t.project}/${t.component}/${ep.name}`,
            basePath,
            upstreams,
            owner,
            componentPrefix: `/${t.project}/${t.component}`,
          });
          internal.set(envKey, gw);
        }
      }
    }
    await this.#addListeners(internal);
    const gateway: GatewayState = {
      publicGateway: { environments: [...envHosts].map(([host, routes]) => ({ host, routes })), webApps },
      internal: [...internal.values()],
    };
    return { gateway, names };
  }

  /**
   * One unreachable data plane must not take every other environment's routes down with it, nor
   * its own: an engine that restarts (or whose API alone is down) leaves its replicas running
   * (dockerd's `--live-restore`), so its routes stay as last observed, with a warning, until it
   * answers again. A data plane never observed since this process started has its routes left out.
   */
  async #observe<T>(read: () => Promise<T[]>, key: string): Promise<T[]> {
    try {
      const seen = await read();
      this.#lastObserved.set(key, seen);
      return seen;
    } catch (err) {
      const last = this.#lastObserved.get(key) as T[] | undefined;
      this.#deps.logger.warn(
        { dataPlane: key, err: err instanceof Error ? err.message : err },
        last
          ? 'data plane unreachable; its routes stay as last observed'
          : 'data plane unreachable; its routes are left out',
      );
      return last ?? [];
    }
  }

  /** Every environment with workload networks gets its listener, open to exactly those networks. */
  async #addListeners(internal: Map<string, InternalGateway>): Promise<void> {
    const { store, dataPlanes, settings, instance } = this.#deps;
    const envs = await store.db
      .selectFrom('environments as e')
      .innerJoin('organizations as o', 'o.id', 'e.org_id')
      .innerJoin('data_planes as dp', 'dp.id', 'e.data_plane_id')
      .select(['e.name', 'e.gateway_slot', 'o.name as org', 'dp.id as dp_id', 'dp.type', 'dp.config'])
      .execute();
    const networksByPlane = new Map<
      string,
      Awaited<ReturnType<ReturnType<DataPlaneRegistry['for']>['listNetworks']>>
    >();
    for (const e of envs) {
      if (e.gateway_slot === null) continue;
      let networks = networksByPlane.get(e.dp_id);
      if (!networks) {
        const dp = dataPlanes.for({ id: e.dp_id, type: e.type, config: e.config });
        networks = await this.#observe(
          () => dp.listNetworks({ [LABEL.instance]: instance }),
          `networks ${e.dp_id}`,
        );
        networksByPlane.set(e.dp_id, networks);
      }
      const cidrs = networks
        .filter((n) => n.labels[LABEL.org] === e.org && n.labels[LABEL.environment] === e.name)
        .map((n) => n.subnet);
      if (cidrs.length === 0) continue;
      const key = `${e.org}/${e.name}`;
      const gw = internal.get(key) ?? {
        environment: `${e.org}-${e.name}`,
        port: settings.internalPortBase + e.gateway_slot,
        allowedCidrs: [],
        routes: [],
      };
      gw.allowedCidrs = cidrs.sort();
      internal.set(key, gw);
    }
  }
}

export interface GatewaySyncDeps {
  store: Store;
  dataPlanes: DataPlaneRegistry;
  admin: CaddyAdmin;
  settings: GatewaySettings;
  instance: string;
  logger: Logger;
}
