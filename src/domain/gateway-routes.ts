/**
 * What the gateway should route, in Rondo's terms. `caddy-config.ts` turns it into Caddy's JSON;
 * the deploy layer computes it from the active deployments.
 */
import type { CorsPolicy, JwtPolicy, RateLimit } from './endpoint-policy.js';

export interface Upstream {
  /** `ip:port` the gateway's host can dial. */
  dial: string;
}

/**
 * Whom a route's requests belong to, so the gateway's access log can name them (G3). Internal
 * ids: the gateway records them in its log, never in what it answers.
 */
export interface RouteOwner {
  orgId: string;
  projectId: string;
  componentId: string;
  environmentId: string;
  deploymentId: string | null;
}

/** `/<org>/<project>/<component>/<endpoint>/…` on `<env>.<baseDomain>` (public) or on an environment's internal listener. */
export interface PathRoute {
  /** External path prefix, e.g. `/acme/shop/api/books`; stripped before proxying. */
  prefix: string;
  /** Upstream base path (`/` for none): the stripped request path is appended to it. */
  basePath: string;
  upstreams: Upstream[];
  owner?: RouteOwner;
  /**
   * The component's own prefix (`/acme/shop/api`): a request under it that names none of the
   * component's endpoints is answered 404 and logged as the component's.
   */
  componentPrefix?: string;
  /** API management on this endpoint in this environment (G7); absent: none. */
  policy?: RoutePolicy;
}

/** `http://<component>.<project>.<org>.<env>.<baseDomain>/` to one web app. */
export interface HostRoute {
  host: string;
  upstreams: Upstream[];
  owner?: RouteOwner;
  policy?: RoutePolicy;
}

/**
 * An endpoint's policy as the gateway enforces it: the domain's `EndpointPolicy` with what the
 * store and Rondo resolved — the API keys' SHA-256 hashes (never the keys) and the JWT public keys
 * as PEM (the static one, or those Rondo last fetched from the JWKS URL).
 */
export interface RoutePolicy {
  rateLimit?: RateLimit;
  consumerRateLimit?: RateLimit;
  apiKey?: { header: string; keys: { consumer: string; sha256: string }[] };
  jwt?: Pick<JwtPolicy, 'issuer' | 'audience' | 'algorithms' | 'forwardClaims'> & {
    /** No key (a JWKS not fetched yet) refuses every token. */
    keys: { kid?: string; pem: string }[];
  };
  cors?: CorsPolicy;
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
