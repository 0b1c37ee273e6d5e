import type { GatewayState, HostRoute, InternalGateway, PathRoute, Upstream } from './routes.js';

/** Where Caddy listens and logs; fixed for the life of a Rondo installation. */
export interface CaddySettings {
  adminListen: string;
  publicListen: string;
  accessLogPath: string;
  bodyLimitBytes: number;
}

type Json = Record<string, unknown>;

/** The outcome codes of §7, set as a response header so the access log records them. */
export const OUTCOME_HEADER = 'X-Rondo-Outcome';

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

function pathRoute(r: PathRoute, extraMatch: Json = {}): Json {
  const handle: Json[] = [{ handler: 'rewrite', strip_path_prefix: r.prefix }];
  if (r.basePath !== '/')
    handle.push({ handler: 'rewrite', uri: `${r.basePath.replace(/\/$/, '')}{http.request.uri}` });
  handle.push(
    r.upstreams.length ? proxy(r.upstreams) : jsonResponse(503, 'NO_HEALTHY_BACKEND', 'no replica is ready'),
  );
  return {
    match: [{ ...extraMatch, path: [r.prefix, `${r.prefix}/*`] }],
    handle: [{ handler: 'subroute', routes: [{ handle }] }],
    terminal: true,
  };
}

function hostRoute(r: HostRoute): Json {
  return {
    match: [{ host: [r.host] }],
    handle: [
      r.upstreams.length
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
    [guard, ...g.routes.map((r) => pathRoute(r))],
    settings,
  );
}

/** Caddy's whole JSON config for a gateway state; loading it replaces routes atomically. */
export function caddyConfig(state: GatewayState, settings: CaddySettings): Json {
  const publicRoutes = [
    ...state.publicGateway.webApps.map(hostRoute),
    ...state.publicGateway.environments.flatMap((e) => e.routes.map((r) => pathRoute(r, { host: [e.host] }))),
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
          encoder: { format: 'json' },
          include: loggerNames,
        },
      },
    },
    apps: { http: { servers } },
  };
}
