import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type {
  GatewayState,
  HostRoute,
  InternalGateway,
  PathRoute,
  RouteOwner,
  RoutePolicy,
  Upstream,
} from '../domain/gateway-routes.js';
import {
  BODY_LIMIT_FILTER,
  BODY_LIMIT_LUA,
  BODY_LIMIT_MESSAGE,
  BODY_LIMIT_REFUSAL,
  BODY_LIMIT_SCRIPT,
  BODY_LIMIT_TWIN,
} from './haproxy-body-limit.js';
import { haproxyPolicy } from './haproxy-policy.js';
import { OUTCOME_HEADER, ownerKey } from './route-owner.js';

/**
 * The same gateway as `caddy-config.ts`, for HAProxy 2.6 (Debian 12's), chosen in
 * docs/decisions.md (G7). Routing is two map lookups (HAProxy indexes them: a tree for hosts, a
 * longest-prefix tree for paths), so the lookup does not grow with the endpoints; each route is a backend
 * that strips its prefix. Every answer carries `X-Rondo-Outcome` and `X-Request-Id`, and the
 * access log is one JSON object per line (`haproxy-access-log.ts` reads it).
 */
export interface HaproxySettings {
  /** `host:port` or `:port` of the public listener. */
  publicListen: string;
  /** Address the internal listeners bind (empty: every interface, as workloads reach the host on their bridge's gateway). */
  internalBindAddress: string;
  /** The runtime API's Unix socket (admin level; it also hands the listeners to a reloaded worker). */
  runtimeSocket: string;
  /** Where `haproxy.cfg` and the map files are written (`HaproxyProcess`). */
  configDir: string;
  bodyLimitBytes: number;
  /** Worker threads; HAProxy's default (one per core) when absent. */
  threads?: number;
  /**
   * `host:port` of HAProxy's Prometheus exporter (`/metrics`), which Rondo's Prometheus scrapes;
   * none when absent. It also answers `/rondo/config-id` with the identity the worker runs.
   */
  metricsListen?: string;
  /**
   * The API-key maps count in `identity`, so a key change reloads: for a gateway whose runtime API
   * the control plane cannot reach (one inside a cluster, `cluster-gateway.ts`).
   */
  keysInIdentity?: boolean;
}

export interface HaproxyConfig {
  /** `haproxy.cfg`. */
  text: string;
  /**
   * Map files (and the JWT public keys endpoint policies name, and the body limit's Lua filter) by
   * name, in `configDir`.
   */
  maps: Record<string, string>;
  /**
   * API-key maps by name, in `configDir`: left out of `identity`, so a key created or revoked is a
   * runtime API change (`HaproxyProcess.load`), not a reload.
   */
  runtimeMaps: Record<string, string>;
  /** A hash of the whole configuration, also set as `RONDO_CONFIG_ID` in HAProxy's environment. */
  identity: string;
}

const REQUEST_ID_HEADER = 'X-Request-Id';

/** The environment variable holding the configuration's identity in HAProxy's processes. */
export const CONFIG_ID_ENV = 'RONDO_CONFIG_ID';
/** Where the metrics listener answers the identity of the configuration its worker runs. */
export const CONFIG_ID_PATH = '/rondo/config-id';

/** Names in routes are slugs; anything that could break out of a map line or a regular expression is refused. */
const SAFE = /^[A-Za-z0-9._~:;/-]*$/;

function safe(value: string, what: string): string {
  if (!SAFE.test(value))
    throw new Error(
      `gateway ${what} ${JSON.stringify(value)} has characters HAProxy's configuration cannot carry`,
    );
  return value;
}

/**
 * The backend name of a route, as the access log's `route` field shows it: stable across
 * configurations (a hash of the listener and the route's address), so a log line read after a
 * reload still names the same route.
 */
export function haproxyRouteName(listener: string, address: string): string {
  return `r-${createHash('sha256').update(`${listener}\n${address}`).digest('hex').slice(0, 20)}`;
}

function jsonAnswer(status: number, code: string, message: string): string {
  const body = JSON.stringify({ code, message, requestId: '%[unique-id]' });
  return `status ${status} content-type application/json hdr ${OUTCOME_HEADER} ${code} lf-string '${body}'`;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The owner's key in the access log (the same text as Caddy's: `ownerKey`), set by the route's backend. */
const ownerRule = (owner: RouteOwner | undefined) =>
  owner ? [`  http-request set-var(txn.owner) str(${safe(ownerKey(owner), 'owner')})`] : [];

/** What the routes' policies add besides their backends' rules. */
interface PolicyOutput {
  tables: string[];
  maps: Record<string, string>;
  runtimeMaps: Record<string, string>;
  configDir: string;
}

function backend(
  name: string,
  upstreams: Upstream[],
  owner: RouteOwner | undefined,
  strip?: { prefix: string; basePath: string },
  policy?: { policy?: RoutePolicy; out: PolicyOutput },
): string[] {
  const lines = [`backend ${name}`, '  balance roundrobin', ...ownerRule(owner)];
  if (policy?.policy) {
    const p = haproxyPolicy(name, policy.policy, policy.out.configDir);
    lines.push(...p.rules);
    policy.out.tables.push(...p.tables);
    Object.assign(policy.out.maps, p.files);
    Object.assign(policy.out.runtimeMaps, p.runtimeMaps);
  }
  if (strip) {
    // `/prefix` → basePath; `/prefix/rest` → basePath + `/rest` (the query string is kept).
    const base = strip.basePath.replace(/\/$/, '');
    const prefix = escapeRegex(safe(strip.prefix, 'path'));
    lines.push(
      `  http-request replace-path ^${prefix}$ ${safe(base || '/', 'base path')}`,
      `  http-request replace-path ^${prefix}(/.*)$ ${base}\\1`,
    );
  }
  if (!upstreams.length) {
    lines.push(`  http-request return ${jsonAnswer(503, 'NO_HEALTHY_BACKEND', 'no replica is ready')}`);
    return lines;
  }
  lines.push(`  http-response set-header ${OUTCOME_HEADER} BACKEND_RESPONSE`);
  upstreams.forEach((u, i) => {
    lines.push(`  server s${i} ${safe(u.dial, 'upstream')}`);
  });
  return lines;
}

/** The map from a route's backend to its body-limit twin, which the listeners look up. */
const BODY_TWINS_MAP = 'body-twins.map';

/** The body limit and the twins made so far (`routeBackend`). */
interface BodyTwins {
  limit: number;
  map: string[];
}

/**
 * A route's backend, followed by its twin for request bodies of unknown size when it forwards
 * requests (one that answers on its own forwards no body). The listeners send only such requests
 * to the twin (`frontend`): the same rules and servers, plus the body limit's Lua filter, so no
 * other request runs Lua (declared on the listeners, the filter added CPU to every request).
 */
function routeBackend(twins: BodyTwins, ...args: Parameters<typeof backend>): string[] {
  const [name, upstreams] = args;
  const lines = backend(...args);
  if (!upstreams.length) return [...lines, ''];
  const twin = `${name}${BODY_LIMIT_TWIN}`;
  twins.map.push(`${name} ${twin}\n`);
  const filter = `  filter lua.${BODY_LIMIT_FILTER} ${twins.limit} '${BODY_LIMIT_MESSAGE}'`;
  return [...lines, '', `backend ${twin}`, filter, ...lines.slice(1), ''];
}

function globalSection(settings: HaproxySettings, identity: string): string[] {
  return [
    'global',
    // One JSON object per line on standard output, which whoever starts HAProxy sends to the access log.
    '  log stdout format raw local0',
    '  maxconn 8192',
    ...(settings.threads ? [`  nbthread ${settings.threads}`] : []),
    `  stats socket ${settings.runtimeSocket} mode 600 level admin expose-fd listeners`,
    `  setenv ${CONFIG_ID_ENV} ${identity}`,
    // One Lua state per thread: a shared one would take a lock around every filter call.
    `  lua-load-per-thread ${join(settings.configDir, BODY_LIMIT_SCRIPT)}`,
    // A reload hands the listeners to the new worker; the old one finishes what it serves.
    '  hard-stop-after 5m',
    '',
    'defaults',
    '  mode http',
    '  option dontlognull',
    '  option http-keep-alive',
    // An idle keep-alive connection on the old worker is closed after its next answer
    // (`Connection: close`), not under a client that is just sending on it (without this the
    // reload test sees ECONNRESET on keep-alive connections).
    '  option idle-close-on-response',
    '  option forwardfor',
    '  http-reuse always',
    '  timeout connect 3s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 60s',
    // A replica that stops mid-rollout refuses connections; retrying on another keeps requests
    // whole. Connection failures only: `retry-on` (layer-7 retries) copies every request into a
    // buffer and cost about a quarter of the throughput in the bench.
    '  retries 3',
    '  option redispatch 1',
    `  log-format '${ACCESS_LOG_FORMAT}'`,
    // HAProxy's own 400 (a request it could not read, or one the body limit stopped): JSON, with
    // what the body limit filter set when it was that (the listeners make that one a 413).
    `  http-error status 400 content-type application/json hdr ${OUTCOME_HEADER} %[var(txn.refusal,GATEWAY_ERROR)] lf-string '${JSON.stringify(
      {
        code: '%[var(txn.refusal,GATEWAY_ERROR)]',
        message: '%[var(txn.refusal_message,the request is malformed)]',
        requestId: '%[unique-id]',
      },
    )}'`,
    `  http-error ${jsonAnswer(503, 'NO_HEALTHY_BACKEND', 'no healthy backend answered')}`,
    `  http-error ${jsonAnswer(502, 'NO_HEALTHY_BACKEND', 'no healthy backend answered')}`,
    `  http-error ${jsonAnswer(504, 'BACKEND_TIMEOUT', 'the backend did not answer in time')}`,
    '',
  ];
}

/**
 * One access-log line. `atUs` is when the gateway logged the answer, in microseconds (`at`, the
 * request's start in milliseconds, was the time before: sequential requests shared a
 * millisecond and their order was lost), `route` the backend name and `owner` the route owner's
 * key (`-` when none), `bytes` what the client received (headers included).
 */
export const ACCESS_LOG_FORMAT = [
  '{"atUs":%[date(0,us)]',
  '"listener":"%f"',
  '"route":"%[var(txn.route)]"',
  '"owner":"%[var(txn.owner)]"',
  '"requestId":"%ID"',
  '"method":"%HM"',
  '"host":"%[var(txn.host),json(utf8s)]"',
  '"path":"%[var(txn.path),json(utf8s)]"',
  '"status":%ST',
  '"outcome":"%[var(txn.outcome)]"',
  '"durationMs":%Ta',
  '"bytes":%B}',
].join(',');

/** What every listener does before routing, then the lookups, then 404. */
function frontend(
  name: string,
  bind: string,
  settings: HaproxySettings,
  lookup: { hostMap?: string; pathMap: string; withHost: boolean },
  allowedCidrs?: string[],
): string[] {
  // Only listeners log: a backend's notices (one per backend stopped at each reload, servers
  // going up or down) would fill the access log with lines that are not requests.
  const lines = [`frontend ${name}`, `  bind ${bind}`, '  log global'];
  if (allowedCidrs) {
    // An organization gateway answers only its environment's networks; anything else is dropped unanswered.
    lines.push(
      allowedCidrs.length
        ? `  tcp-request connection reject unless { src ${allowedCidrs.map((c) => safe(c, 'network')).join(' ')} }`
        : '  tcp-request connection reject',
    );
  }
  const path = (f: string) => join(settings.configDir, f);
  lines.push(
    '  unique-id-format %[uuid]',
    `  http-request set-header ${REQUEST_ID_HEADER} %[unique-id]`,
    '  http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
    '  http-request set-var(txn.path) path',
    `  http-request return ${jsonAnswer(413, BODY_LIMIT_REFUSAL, BODY_LIMIT_MESSAGE)} if { req.hdr_val(content-length) gt ${settings.bodyLimitBytes} }`,
    // A body that does not announce its size is counted as it passes, by the route's twin
    // backend (`routeBackend`): past the limit it aborts the request with HAProxy's 400 reply,
    // answered as 413.
    `  http-after-response set-status 413 if { var(txn.refusal) -m str ${BODY_LIMIT_REFUSAL} }`,
  );
  if (lookup.hostMap)
    lines.push(`  http-request set-var(txn.route) var(txn.host),map_str(${path(lookup.hostMap)})`);
  // The key ends in `/` so `/a/b` and `/a/b/c` match the route `/a/b` and `/a/bc` does not.
  lines.push(
    lookup.withHost
      ? '  http-request set-var(txn.key) var(txn.host),concat(,txn.path,/)'
      : '  http-request set-var(txn.key) var(txn.path),concat(/)',
    `  http-request set-var(txn.route) var(txn.key),map_beg(${path(lookup.pathMap)}) unless { var(txn.route) -m found }`,
    `  http-request return ${jsonAnswer(404, 'RESOURCE_NOT_FOUND', 'no endpoint at this address')} unless { var(txn.route) -m found }`,
    // No content-length: a chunked body in HTTP/1 (its only unannounced request body), and any
    // HTTP/2 request (which names no transfer coding).
    `  http-request set-var(txn.twin) var(txn.route),map_str(${path(BODY_TWINS_MAP)}) if { req.hdr_cnt(transfer-encoding) gt 0 } || { req.ver 2.0 } !{ req.hdr_cnt(content-length) gt 0 }`,
    `  http-after-response set-header ${REQUEST_ID_HEADER} %[unique-id]`,
    `  http-after-response set-var(txn.outcome) res.hdr(${OUTCOME_HEADER})`,
    '  use_backend %[var(txn.twin)] if { var(txn.twin) -m found }',
    '  use_backend %[var(txn.route)]',
    '',
  );
  return lines;
}

function pathEntries(listener: string, routes: PathRoute[], host?: string) {
  return routes.map((r) => {
    const address = `${host ?? ''}${r.prefix}`;
    return { name: haproxyRouteName(listener, address), key: `${safe(address, 'route')}/`, route: r };
  });
}

/**
 * A path under a component's prefix that names none of its endpoints is answered 404 as that
 * component's (as in caddy-config.ts); the endpoints' longer prefixes win the lookup.
 */
function componentFallbacks(listener: string, routes: PathRoute[], host = '') {
  const seen = new Map<string, RouteOwner>();
  for (const r of routes) if (r.componentPrefix && r.owner) seen.set(r.componentPrefix, r.owner);
  return [...seen].map(([prefix, owner]) => {
    const address = `${host}${prefix}`;
    const name = haproxyRouteName(listener, address);
    return {
      mapLine: `${safe(address, 'route')}/ ${name}\n`,
      lines: [
        `backend ${name}`,
        ...ownerRule(owner),
        `  http-request return ${jsonAnswer(404, 'RESOURCE_NOT_FOUND', 'no endpoint of this component at this address')}`,
        '',
      ],
    };
  });
}

/** Map lines and backends of a listener's path routes. */
function pathRoutes(
  listener: string,
  routes: PathRoute[],
  out: PolicyOutput,
  twins: BodyTwins,
  host?: string,
) {
  const entries = pathEntries(listener, routes, host);
  const fallbacks = componentFallbacks(listener, routes, host);
  return {
    map: entries.map((p) => `${p.key} ${p.name}\n`).join('') + fallbacks.map((f) => f.mapLine).join(''),
    backends: [
      ...entries.flatMap((p) =>
        routeBackend(twins, p.name, p.route.upstreams, p.route.owner, p.route, {
          policy: p.route.policy,
          out,
        }),
      ),
      ...fallbacks.flatMap((f) => f.lines),
    ],
  };
}

/** HAProxy's whole configuration for a gateway state; `writeHaproxyConfig` puts it on disk. */
export function haproxyConfig(state: GatewayState, settings: HaproxySettings): HaproxyConfig {
  const maps: Record<string, string> = {};
  const backends: string[] = [];
  const frontends: string[] = [];
  const runtimeMaps: Record<string, string> = {};
  const out: PolicyOutput = { tables: [], maps, runtimeMaps, configDir: settings.configDir };
  const twins: BodyTwins = { limit: settings.bodyLimitBytes, map: [] };
  maps[BODY_LIMIT_SCRIPT] = BODY_LIMIT_LUA;

  const hosts = state.publicGateway.webApps.map((r: HostRoute) => ({
    name: haproxyRouteName('public', r.host),
    route: r,
  }));
  const paths = state.publicGateway.environments.map((e) =>
    pathRoutes('public', e.routes, out, twins, e.host),
  );
  maps['public-hosts.map'] = hosts
    .map((h) => `${safe(h.route.host.toLowerCase(), 'host')} ${h.name}\n`)
    .join('');
  maps['public-paths.map'] = paths.map((p) => p.map).join('');
  frontends.push(
    ...frontend('public', settings.publicListen, settings, {
      hostMap: 'public-hosts.map',
      pathMap: 'public-paths.map',
      withHost: true,
    }),
  );
  for (const h of hosts)
    backends.push(
      ...routeBackend(twins, h.name, h.route.upstreams, h.route.owner, undefined, {
        policy: h.route.policy,
        out,
      }),
    );
  for (const p of paths) backends.push(...p.backends);

  for (const g of state.internal) frontends.push(...internalListener(g, settings, out, twins, backends));
  if (settings.metricsListen) frontends.push(...metricsFrontend(settings.metricsListen));
  maps[BODY_TWINS_MAP] = twins.map.join('');

  const body = [...frontends, ...backends, ...out.tables].join('\n');
  const identity = `rondo-${createHash('sha256')
    .update(body)
    .update(JSON.stringify(maps))
    .update(settings.keysInIdentity ? JSON.stringify(runtimeMaps) : '')
    .digest('hex')
    .slice(0, 32)}`;
  return { text: [...globalSection(settings, identity), body].join('\n'), maps, runtimeMaps, identity };
}

/** HAProxy's own Prometheus exporter; not a route, so it neither logs nor counts as traffic. */
function metricsFrontend(listen: string): string[] {
  return [
    'frontend metrics',
    `  bind ${safe(listen, 'metrics address')}`,
    '  no log',
    '  http-request use-service prometheus-exporter if { path /metrics }',
    // Which configuration the worker answering runs, for a control plane without its runtime API.
    `  http-request return status 200 content-type text/plain lf-string "%[env(${CONFIG_ID_ENV})]" if { path ${CONFIG_ID_PATH} }`,
    '  http-request return status 404',
    '',
  ];
}

function internalListener(
  g: InternalGateway,
  settings: HaproxySettings,
  out: PolicyOutput,
  twins: BodyTwins,
  backends: string[],
): string[] {
  const listener = `internal-${safe(g.environment, 'environment')}`;
  const routes = pathRoutes(listener, g.routes, out, twins);
  out.maps[`${listener}.map`] = routes.map;
  backends.push(...routes.backends);
  return frontend(
    listener,
    `${settings.internalBindAddress}:${g.port}`,
    settings,
    { pathMap: `${listener}.map`, withHost: false },
    g.allowedCidrs,
  );
}
