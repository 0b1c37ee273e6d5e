/**
 * What the gateway should route, in Rondo's terms. `caddy-config.ts` turns it into Caddy's JSON;
 * the deploy layer computes it from the active deployments.
 */
export interface Upstream {
  /** `ip:port` the gateway's host can dial. */
  dial: string;
}

/** `/<org>/<project>/<component>/<endpoint>/…` on `<env>.<baseDomain>` (public) or on an environment's internal listener. */
export interface PathRoute {
  /** External path prefix, e.g. `/acme/shop/api/books`; stripped before proxying. */
  prefix: string;
  /** Upstream base path (`/` for none): the stripped request path is appended to it. */
  basePath: string;
  upstreams: Upstream[];
}

/** `http://<component>.<project>.<org>.<env>.<baseDomain>/` to one web app. */
export interface HostRoute {
  host: string;
  upstreams: Upstream[];
}

export interface PublicGateway {
  /** One entry per environment host (`<env>.<baseDomain>`). */
  environments: { host: string; routes: PathRoute[] }[];
  webApps: HostRoute[];
}

/** An environment's organization-visibility gateway: one listener, open only to that environment's networks. */
export interface InternalGateway {
  environment: string;
  port: number;
  /** CIDRs of the environment's workload networks; everything else is dropped. */
  allowedCidrs: string[];
  routes: PathRoute[];
}

export interface GatewayState {
  publicGateway: PublicGateway;
  internal: InternalGateway[];
}
