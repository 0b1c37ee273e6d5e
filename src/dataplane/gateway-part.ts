import type { GatewayState, InternalGateway, PathRoute, Upstream } from '../domain/gateway-routes.js';
import type { PathRouteIntent, RoutingState } from './driver.js';
import { LABEL } from './labels.js';

/** What a driver observed of one replica, as far as routing needs it. */
export interface RoutableReplica {
  labels: Record<string, string>;
  ip?: string;
  state: string;
  ready: boolean;
}

/**
 * The addresses each routed deployment takes traffic at: its running replicas with an address
 * that passed readiness, or, while its switch is in progress, every running one (they passed
 * readiness; the marks may not have landed yet). The same rule on every data plane.
 */
export function routedAddresses(state: RoutingState, replicas: RoutableReplica[]): Map<string, string[]> {
  const switching = new Set(state.revisions.filter((r) => r.switching).map((r) => r.deployment));
  const addresses = new Map<string, string[]>();
  for (const w of replicas) {
    const deployment = w.labels[LABEL.deployment];
    if (!deployment || !w.ip || w.state !== 'running') continue;
    if (!w.ready && !switching.has(deployment)) continue;
    addresses.set(deployment, [...(addresses.get(deployment) ?? []), w.ip]);
  }
  for (const ips of addresses.values()) ips.sort();
  return addresses;
}

/**
 * A routing state as the gateway's: each route's upstreams the addresses of its deployment's
 * replicas, each organization gateway open to `sourcesOf` its environment (left out when none:
 * nothing could reach its listener).
 */
export function gatewayPart(
  state: RoutingState,
  addresses: Map<string, string[]>,
  sourcesOf: (org: string, environment: string) => string[],
): GatewayState {
  const upstreams = (deployment: string, port: number): Upstream[] =>
    (addresses.get(deployment) ?? []).map((ip) => ({ dial: `${ip}:${port}` }));
  const route = (r: PathRouteIntent): PathRoute => ({
    prefix: r.prefix,
    basePath: r.basePath,
    upstreams: upstreams(r.deployment, r.port),
    owner: r.owner,
    componentPrefix: r.componentPrefix,
    ...(r.policy ? { policy: r.policy } : {}),
  });
  const internal: InternalGateway[] = [];
  for (const gw of state.internal) {
    const cidrs = sourcesOf(gw.org, gw.environment);
    if (cidrs.length === 0) continue;
    internal.push({
      environment: `${gw.org}-${gw.environment}`,
      port: gw.port,
      allowedCidrs: [...cidrs].sort(),
      routes: gw.routes.map(route),
    });
  }
  return {
    publicGateway: {
      environments: state.hosts.map((h) => ({ host: h.host, routes: h.routes.map(route) })),
      webApps: state.webApps.map((w) => ({
        host: w.host,
        upstreams: upstreams(w.deployment, w.port),
        owner: w.owner,
        ...(w.policy ? { policy: w.policy } : {}),
      })),
    },
    internal,
  };
}
