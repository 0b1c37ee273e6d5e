/**
 * nginx 1.22 as a peer in the gateway bench: the same GatewayState as Caddy's and HAProxy's,
 * turned into an nginx configuration that does the same things (path routes per environment
 * host with the prefix stripped, web-app hosts, organization listeners open only to their
 * networks, request ids, outcome header, JSON access log, 10 MB limit with a 413 JSON answer).
 * Bench only: the decision (docs/decisions.md) did not choose nginx.
 */
import type { GatewayState, PathRoute, Upstream } from '../src/domain/gateway-routes.js';

export interface NginxSettings {
  publicListen: string;
  accessLogPath: string;
  pidPath: string;
  errorLogPath: string;
  bodyLimitBytes: number;
}

const json = (status: number, code: string, message: string) =>
  [
    'default_type application/json;',
    `add_header X-Rondo-Outcome ${code} always;`,
    'add_header X-Request-Id $request_id always;',
    `return ${status} '${JSON.stringify({ code, message, requestId: '$request_id' })}';`,
  ].join(' ');

export function nginxConfig(state: GatewayState, s: NginxSettings): string {
  const upstreams: string[] = [];
  let n = 0;
  const upstream = (list: Upstream[]) => {
    const name = `u${n++}`;
    upstreams.push(`upstream ${name} { ${list.map((u) => `server ${u.dial};`).join(' ')} keepalive 16; }`);
    return name;
  };
  const proxied = (name: string) =>
    'add_header X-Rondo-Outcome BACKEND_RESPONSE always; add_header X-Request-Id $request_id always; ' +
    `proxy_pass http://${name}/;`;
  const pathLocations = (routes: PathRoute[]) =>
    routes.flatMap((r) => {
      const base = r.basePath.endsWith('/') ? r.basePath : `${r.basePath}/`;
      if (!r.upstreams.length) {
        const answer = json(503, 'NO_HEALTHY_BACKEND', 'no replica is ready');
        return [`location = ${r.prefix} { ${answer} }`, `location ^~ ${r.prefix}/ { ${answer} }`];
      }
      const u = upstream(r.upstreams);
      const pass = proxied(u).replace(`http://${u}/`, `http://${u}${base}`);
      return [`location = ${r.prefix} { ${pass} }`, `location ^~ ${r.prefix}/ { ${pass} }`];
    });
  const common = [
    `access_log ${s.accessLogPath} rondo;`,
    'error_page 413 @too_large; error_page 502 503 @unhealthy; error_page 504 @timeout;',
    `location @too_large { ${json(413, 'REQUEST_TOO_LARGE', 'request body is larger than 10 MB')} }`,
    `location @unhealthy { ${json(503, 'NO_HEALTHY_BACKEND', 'no healthy backend answered')} }`,
    `location @timeout { ${json(504, 'BACKEND_TIMEOUT', 'the backend did not answer in time')} }`,
  ];
  const servers: string[] = [];
  servers.push(
    `server { listen ${s.publicListen} default_server; ${common.join(' ')} location / { ${json(404, 'RESOURCE_NOT_FOUND', 'no endpoint at this address')} } }`,
  );
  for (const e of state.publicGateway.environments)
    servers.push(
      `server { listen ${s.publicListen}; server_name ${e.host}; ${common.join(' ')}\n  location / { ${json(404, 'RESOURCE_NOT_FOUND', 'no endpoint at this address')} }\n  ${pathLocations(e.routes).join('\n  ')}\n}`,
    );
  for (const w of state.publicGateway.webApps) {
    const body = w.upstreams.length
      ? proxied(upstream(w.upstreams))
      : json(503, 'NO_HEALTHY_BACKEND', 'no replica is ready');
    servers.push(
      `server { listen ${s.publicListen}; server_name ${w.host}; ${common.join(' ')} location / { ${body} } }`,
    );
  }
  const geos: string[] = [];
  state.internal.forEach((g, i) => {
    // Requests from outside the environment's networks are dropped unanswered (444).
    geos.push(`geo $rondo_allowed_${i} { default 0; ${g.allowedCidrs.map((c) => `${c} 1;`).join(' ')} }`);
    servers.push(
      `server { listen 127.0.0.1:${g.port}; if ($rondo_allowed_${i} = 0) { return 444; } ${common.join(' ')}\n  location / { ${json(404, 'RESOURCE_NOT_FOUND', 'no endpoint at this address')} }\n  ${pathLocations(g.routes).join('\n  ')}\n}`,
    );
  });
  const logFormat = [
    '{"at":"$msec","requestId":"$request_id","method":"$request_method","host":"$host","path":"$uri",',
    '"status":$status,"outcome":"$sent_http_x_rondo_outcome","durationMs":$request_time,"bytes":$bytes_sent}',
  ].join('');
  return `worker_processes 1;
daemon off;
pid ${s.pidPath};
error_log ${s.errorLogPath} warn;
events { worker_connections 8192; }
http {
  log_format rondo escape=json '${logFormat}';
  client_max_body_size ${s.bodyLimitBytes};
  keepalive_requests 1000000;
  server_names_hash_bucket_size 128;
  variables_hash_bucket_size 128;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $http_host;
  proxy_set_header X-Request-Id $request_id;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_connect_timeout 3s;
  proxy_read_timeout 60s;
  proxy_next_upstream error;
  ${upstreams.join('\n  ')}
  ${geos.join('\n  ')}
  ${servers.join('\n  ')}
}
`;
}

/** The bench backend: one nginx worker answering `ok` to everything, as fast as this machine serves. */
export function backendConfig(listen: string, pidPath: string, errorLogPath: string): string {
  return `worker_processes 1;
daemon off;
pid ${pidPath};
error_log ${errorLogPath} warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen ${listen} reuseport backlog=4096; location / { default_type text/plain; return 200 "ok\\n"; } }
}
`;
}

/**
 * The minimum nginx proxy, the peer's bare configuration in the gateway bench: one worker, one
 * upstream with keep-alive, no route table, no log, no request id.
 */
export function bareNginxConfig(listen: string, backend: string, dir: string): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx-bare.pid;
error_log ${dir}/nginx-bare.err warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream bare { server ${backend}; keepalive 64; }
  server {
    listen ${listen};
    location / { proxy_pass http://bare; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
}
