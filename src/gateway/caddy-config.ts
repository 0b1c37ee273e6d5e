import type {
  GatewayState,
  HostRoute,
  InternalGateway,
  PathRoute,
  RouteOwner,
  Upstream,
} from '../domain/gateway-routes.js';
import { ownerHandler } from './caddy-access-log.js';
import { OUTCOME_HEADER } from './route-owner.js';

/** Where Caddy listens and logs; fixed for the life of a Rondo installation. */
export interface CaddySettings {
  adminListen: string;
  publicListen: string;
  accessLogPath: string;
  bodyLimitBytes: number;
}

type Json = Record<string, unknown>;

/**
 * The access log keeps what the collector reads (`caddy-access-log.ts`) and drops what it never
 * reads: request headers (they may carry credentials) and TLS details. Fewer fields to encode is
 * also less time on each request's path (docs/observability.md, figures).
 */
const ACCESS_LOG_ENCODER = {
  format: 'filter',
  wrap: { format: 'json' },
  fields: {
    'request>headers': { filter: 'delete' },
    'request>tls': { filter: 'delete' },
    'request>remote_port': { filter: 'delete' },
  },
};

function jsonResponse(status: number, code: string, message: string): Json {
  return {
    handler: 'static_response',
    status_code: status,
    headers: { 'Content-Type': ['application/json'], [OUTCOME_HEADER]: [code] },
    body: JSON.stringify({ code, message, requestId: '{http.request.uuid}' }),
  };
}

function proxy(upstreams: Upstream[]): Json {
  return {
    handler: 'reverse_proxy',
    upstreams,
    // A replica that stops mid-rollout refuses connections; retrying on another keeps requests whole.
    load_balancing: {
      selection_policy: { policy: 'round_robin' },
      try_duration: '5s',
      try_interval: '100ms',
    },
    transport: { protocol: 'http', dial_timeout: '3s', response_header_timeout: '60s' },
    headers: { response: { set: { [OUTCOME_HEADER]: ['BACKEND_RESPONSE'] } } },
  };
}

/** The handlers that name a route's owner in the access log (none for a route without one). */
const owned = (owner: RouteOwner | undefined): Json[] => (owner ? [ownerHandler(owner)] : []);

/**
 * Caddy 2.6 has no rate limits or JWT validation (docs/decisions.md, G7): an endpoint with a policy
 * is closed (501) rather than served without it, so a policy is never silently ignored. HAProxy
 * (`haproxy-policy.ts`) enforces them.
 */
const policyRefusal = () =>
  jsonResponse(
    501,
    'GATEWAY_ERROR',
    'this endpoint has an API management policy the current gateway cannot enforce',
  );

/** Routes Caddy would answer 501 for: the deploy layer can report them. */
export function unenforceableRoutes(state: GatewayState): string[] {
  return [
    ...state.publicGateway.webApps.filter((r) => r.policy).map((r) => r.host),
    ...state.publicGateway.environments.flatMap((e) =>
      e.routes.filter((r) => r.policy).map((r) => `${e.host}${r.prefix}`),
    ),
    ...state.internal.flatMap((g) =>
      g.routes.filter((r) => r.policy).map((r) => `${g.environment}${r.prefix}`),
    ),
  ];
}

function pathRoute(r: PathRoute, extraMatch: Json = {}): Json {
  const handle: Json[] = [...owned(r.owner), { handler: 'rewrite', strip_path_prefix: r.prefix }];
  if (r.basePath !== '/')
    handle.push({ handler: 'rewrite', uri: `${r.basePath.replace(/\/$/, '')}{http.request.uri}` });
  handle.push(
    r.policy
      ? policyRefusal()
      : r.upstreams.length
        ? proxy(r.upstreams)
        : jsonResponse(503, 'NO_HEALTHY_BACKEND', 'no replica is ready'),
  );
  return {
    match: [{ ...extraMatch, path: [r.prefix, `${r.prefix}/*`] }],
    handle: [{ handler: 'subroute', routes: [{ handle }] }],
    terminal: true,
  };
}

/**
 * After every endpoint's route: a path under a component's prefix that names none of its
 * endpoints is answered 404 as that component's (its gateway log shows RESOURCE_NOT_FOUND).
 */
function componentFallbacks(routes: PathRoute[], extraMatch: Json = {}): Json[] {
  const seen = new Map<string, RouteOwner>();
  for (const r of routes) if (r.componentPrefix && r.owner) seen.set(r.componentPrefix, r.owner);
  return [...seen].map(([prefix, owner]) => ({
    match: [{ ...extraMatch, path: [prefix, `${prefix}/*`] }],
    handle: [
      ownerHandler(owner),
      jsonResponse(404, 'RESOURCE_NOT_FOUND', 'no endpoint of this component at this address'),
    ],
    terminal: true,
  }));
}

function hostRoute(r: HostRoute): Json {
  return {
    match: [{ host: [r.host] }],
    handle: [
      ...owned(r.owner),
      r.policy
        ? policyRefusal()
        : r.upstreams.length
          ? proxy(r.upstreams)
          : jsonResponse(503, 'NO_HEALTHY_BACKEND', 'no replica is ready'),
    ],
    terminal: true,
  };
}

/** A regular expression matching decimal numbers greater than `limit`. */
export function greaterThanPattern(limit: number): string {
  const digits = String(limit);
  const alternatives = [`[1-9][0-9]{${digits.length},}`];
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[i]);
    const rest = digits.length - i - 1;
    // Same prefix, a bigger digit here, anything after.
    if (d === 9) continue;
    alternatives.push(`${digits.slice(0, i)}[${d + 1}-9]${rest ? `[0-9]{${rest}}` : ''}`);
  }
  return `^(${alternatives.join('|')})$`;
}

/** Routes every server starts with: body limit and request id. */
function common(settings: CaddySettings): Json[] {
  return [
    {
      // Bodies announced as too large are refused before any backend sees them. (A chunked body
      // over the limit is cut off by request_body below and answered as a backend error.)
      match: [
        { header_regexp: { 'Content-Length': { pattern: greaterThanPattern(settings.bodyLimitBytes) } } },
      ],
      handle: [jsonResponse(413, 'REQUEST_TOO_LARGE', 'request body is larger than 10 MB')],
      terminal: true,
    },
    {
      handle: [
        { handler: 'request_body', max_size: settings.bodyLimitBytes },
        {
          handler: 'headers',
          request: { set: { 'X-Request-Id': ['{http.request.uuid}'] } },
          response: { set: { 'X-Request-Id': ['{http.request.uuid}'] } },
        },
      ],
    },
  ];
}

function errorRoutes(): Json {
  const when = (expr: string, status: number, code: string, message: string) => ({
    match: [{ expression: expr }],
    handle: [jsonResponse(status, code, message)],
  });
  return {
    routes: [
      when('{http.error.status_code} == 413', 413, 'REQUEST_TOO_LARGE', 'request body is larger than 10 MB'),
      when('{http.error.status_code} == 504', 504, 'BACKEND_TIMEOUT', 'the backend did not answer in time'),
      when('{http.error.status_code} >= 500', 503, 'NO_HEALTHY_BACKEND', 'no healthy backend answered'),
    ],
  };
}

function server(listen: string[], name: string, routes: Json[], settings: CaddySettings): Json {
  return {
    listen,
    automatic_https: { disable: true },
    logs: { default_logger_name: name },
    routes: [
      ...common(settings),
      ...routes,
      { handle: [jsonResponse(404, 'RESOURCE_NOT_FOUND', 'no endpoint at this address')] },
    ],
    errors: errorRoutes(),
  };
}

function internalServer(g: InternalGateway, settings: CaddySettings): Json {
  // Requests from outside the environment's networks are dropped without an answer.
  const guard = g.allowedCidrs.length
    ? {
        match: [{ not: [{ remote_ip: { ranges: g.allowedCidrs } }] }],
        handle: [{ handler: 'static_response', abort: true }],
        terminal: true,
      }
    : { handle: [{ handler: 'static_response', abort: true }], terminal: true };
  return server(
    [`:${g.port}`],
    `internal-${g.environment}`,
    [guard, ...g.routes.map((r) => pathRoute(r)), ...componentFallbacks(g.routes)],
    settings,
  );
}

/** Caddy's whole JSON config for a gateway state; loading it replaces routes atomically. */
export function caddyConfig(state: GatewayState, settings: CaddySettings): Json {
  const publicRoutes = [
    ...state.publicGateway.webApps.map(hostRoute),
    ...state.publicGateway.environments.flatMap((e) => e.routes.map((r) => pathRoute(r, { host: [e.host] }))),
    ...state.publicGateway.environments.flatMap((e) => componentFallbacks(e.routes, { host: [e.host] })),
  ];
  const servers: Json = { public: server([settings.publicListen], 'public', publicRoutes, settings) };
  for (const g of state.internal) servers[`internal-${g.environment}`] = internalServer(g, settings);
  const loggerNames = Object.keys(servers).map((s) => `http.log.access.${s === 'public' ? 'public' : s}`);
  return {
    admin: { listen: settings.adminListen },
    logging: {
      logs: {
        default: { exclude: loggerNames },
        access: {
          writer: { output: 'file', filename: settings.accessLogPath },
          encoder: ACCESS_LOG_ENCODER,
          include: loggerNames,
        },
      },
    },
    apps: { http: { servers } },
  };
}
