import type { Logger } from 'pino';
import type { DataPlaneDriver, PathRouteIntent, Replica, RoutingState } from '../dataplane/driver.js';
import type { DataPlaneRegistry } from '../dataplane/registry.js';
import type { HostGatewaySettings } from '../gateway/host-gateway.js';
import type { Store } from '../store/store.js';
import { deploymentTargets, replicaNames } from './targets.js';

export interface GatewaySettings extends HostGatewaySettings {
  publicPort: number;
  baseDomain: string;
  internalPortBase: number;
}

/** A replica takes traffic, and answers to its names, once the rollout has marked it ready. */
export const isServing = (w: Replica) => w.state === 'running' && w.ip !== undefined && w.ready;

const emptyState = (): RoutingState => ({ revisions: [], hosts: [], webApps: [], internal: [] });

/**
 * Computes every data plane's routing state from the store alone and publishes it through each
 * driver's traffic port, which moves routes and names together (§6.4). Level-based: it never
 * applies a diff, so running it again (after a crash, or on a timer) converges to the same
 * configuration.
 */
export class GatewaySync {
  readonly #deps: GatewaySyncDeps;
  #running: Promise<void> = Promise.resolve();

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
    const states = await this.desiredState();
    await Promise.all([...states].map(([driver, state]) => driver.traffic.publish(state)));
  }

  /**
   * A pure function of the store: the active deployments, except that one whose rollout has
   * switched (phase `TrafficSwitching`) is routed in place of its component's active one. Every
   * data plane in use gets its whole state, so what no longer runs is unrouted.
   */
  async desiredState(): Promise<Map<DataPlaneDriver, RoutingState>> {
    const { store, dataPlanes, settings } = this.#deps;
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
    const states = new Map(dataPlanes.clients().map(([, driver]) => [driver, emptyState()]));
    // A data plane without a driver right now (its driver still loading, say) is left as it is;
    // the others' routes must not wait for it.
    const stateOf = (plane: { id: string; type: string; config: Record<string, unknown> }) => {
      const driver = dataPlanes.tryFor(plane);
      if (!driver) return undefined;
      let state = states.get(driver);
      if (!state) {
        state = emptyState();
        states.set(driver, state);
      }
      return state;
    };
    const hostRoutes = (state: RoutingState, host: string) => {
      let entry = state.hosts.find((h) => h.host === host);
      if (!entry) {
        entry = { host, routes: [] };
        state.hosts.push(entry);
      }
      return entry.routes;
    };

    for (const t of active) {
      const state = stateOf({ id: t.data_plane_id, type: t.data_plane_type, config: t.data_plane_config });
      if (!state) continue;
      state.revisions.push({
        instance: this.#deps.instance,
        deployment: t.id,
        org: t.org,
        project: t.project,
        environment: t.environment,
        names: replicaNames(t),
        switching: t.phase === 'TrafficSwitching',
      });
      // Names the component in the gateway's access log (G3); never sent to clients.
      const owner = {
        orgId: t.org_id,
        projectId: t.project_id,
        componentId: t.component_id,
        environmentId: t.environment_id,
        deploymentId: t.id,
      };
      for (const ep of t.spec.endpoints) {
        const target = { deployment: t.id, port: ep.port, owner };
        if (t.component_type === 'web-app') {
          state.webApps.push({
            host: `${t.component}.${t.project}.${t.org}.${t.environment}.${settings.baseDomain}`,
            ...target,
          });
          break;
        }
        const route = (prefix: string, componentPrefix: string): PathRouteIntent => ({
          ...target,
          prefix,
          basePath: ep.basePath,
          componentPrefix,
        });
        if (ep.visibility.includes('Public'))
          hostRoutes(state, `${t.environment}.${settings.baseDomain}`).push(
            route(
              `/${t.org}/${t.project}/${t.component}/${ep.name}`,
              `/${t.org}/${t.project}/${t.component}`,
            ),
          );
        if (ep.visibility.includes('Organization') && t.gateway_slot !== null)
          internalOf(state, t.org, t.environment, settings.internalPortBase + t.gateway_slot).push(
            route(`/${t.project}/${t.component}/${ep.name}`, `/${t.project}/${t.component}`),
          );
      }
    }
    // Every environment with a gateway slot gets its listener where its workloads run, routes or
    // not: a workload asking for another component gets the gateway's 404, not a refused connection.
    const envs = await store.db
      .selectFrom('environments as e')
      .innerJoin('organizations as o', 'o.id', 'e.org_id')
      .innerJoin('data_planes as dp', 'dp.id', 'e.data_plane_id')
      .select(['e.name', 'e.gateway_slot', 'o.name as org', 'dp.id as dp_id', 'dp.type', 'dp.config'])
      .where('e.gateway_slot', 'is not', null)
      .execute();
    for (const e of envs) {
      const state = stateOf({ id: e.dp_id, type: e.type, config: e.config });
      if (state && e.gateway_slot !== null)
        internalOf(state, e.org, e.name, settings.internalPortBase + e.gateway_slot);
    }
    return states;
  }
}

function internalOf(state: RoutingState, org: string, environment: string, port: number): PathRouteIntent[] {
  let gw = state.internal.find((g) => g.org === org && g.environment === environment);
  if (!gw) {
    gw = { org, environment, port, routes: [] };
    state.internal.push(gw);
  }
  return gw.routes;
}

export interface GatewaySyncDeps {
  store: Store;
  dataPlanes: DataPlaneRegistry;
  settings: GatewaySettings;
  /** This installation (`rondo.instance`). */
  instance: string;
  logger: Logger;
}
