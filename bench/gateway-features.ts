/**
 * G7 item 2: each feature claimed for the Debian proxies, run briefly on this machine's versions
 * rather than taken from their manuals. Prints one row per claim with what was observed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { GatewayState } from '../src/domain/gateway-routes.js';
import { CaddyAdmin } from '../src/gateway/caddy-admin.js';
import { caddyConfig } from '../src/gateway/caddy-config.js';
import { haproxyConfig, haproxyRouteName } from '../src/gateway/haproxy-config.js';
import { HaproxyProcess, runtimeCommand } from '../src/gateway/haproxy-process.js';
import { freePort } from '../test/helpers/platform.js';
import { startStrictLoad } from '../test/helpers/strict-load.js';
import { ask, benchState } from './gateway.js';
import { nginxConfig } from './gateway-nginx.js';

const execFileAsync = promisify(execFile);
const LIMIT = 10 * 1024 * 1024;
const RELOADS = 10;

interface Row {
  proxy: string;
  claim: string;
  worked: boolean;
  observed: string;
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
function hs256(payload: object, secret: string, alg = 'HS256'): string {
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}
function rs256(payload: object, privateKey: string): string {
  const head = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${head}.${createSign('RSA-SHA256').update(head).sign(privateKey, 'base64url')}`;
}

/** A backend that answers 200 with the request's path and headers, for checking what a proxy forwards. */
function echoBackend(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, headers: req.headers }));
    });
  });
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () => r({ server, port: (server.address() as { port: number }).port })),
  );
}

/** Routes to one echo backend, plus `extra` more each reload, so every reload changes the routes. */
function reloadState(backend: string, extra: number, internalPorts: [number, number]): GatewayState {
  const s = benchState(4 + extra, backend, internalPorts);
  return s;
}

async function reloadUnderLoad(
  port: number,
  host: string,
  paths: string[],
  reload: (i: number) => Promise<void>,
) {
  const load = startStrictLoad(port, host, paths, 8);
  await sleep(300);
  for (let i = 1; i <= RELOADS; i++) {
    await reload(i);
    await sleep(200);
  }
  await sleep(300);
  return load.stop();
}

function start(cmd: string, args: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a');
  const c = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return c;
}

async function waitFor(port: number, host: string, path: string, status = 200): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await ask(port, host, path))?.status === status) return;
    await sleep(50);
  }
}

export async function benchGatewayFeatures(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-gwfeat-'));
  const rows: Row[] = [];
  const row = (proxy: string, claim: string, worked: boolean, observed: string) =>
    rows.push({ proxy, claim, worked, observed });
  const children: ChildProcess[] = [];
  const { server, port: echoPort } = await echoBackend();
  const backend = `127.0.0.1:${echoPort}`;
  const haproxies: HaproxyProcess[] = [];
  try {
    // ---- HAProxy: Rondo's configuration, runtime API, reloads under load.
    const hdir = join(dir, 'haproxy');
    const hport = await freePort();
    const internal: [number, number] = [await freePort(), await freePort()];
    const settings = {
      publicListen: `127.0.0.1:${hport}`,
      internalBindAddress: '127.0.0.1',
      runtimeSocket: join(hdir, 'runtime.sock'),
      configDir: hdir,
      bodyLimitBytes: LIMIT,
      threads: 1,
    };
    const haproxy = new HaproxyProcess({
      settings,
      accessLogPath: join(dir, 'haproxy-access.log'),
      errorLogPath: join(dir, 'haproxy.err'),
      masterSocket: join(hdir, 'master.sock'),
    });
    haproxies.push(haproxy);
    await haproxy.start(haproxyConfig(reloadState(backend, 0, internal), settings));
    const info = await runtimeCommand(settings.runtimeSocket, 'show info');
    const firstRoute = haproxyRouteName('public', 'staging.localhost/acme/p0/c0/api');
    await runtimeCommand(
      settings.runtimeSocket,
      `add map ${join(hdir, 'public-paths.map')} staging.localhost/added/by/runtime/api/ ${firstRoute}`,
    );
    const viaMap = await ask(hport, 'staging.localhost', '/added/by/runtime/api/x');
    const server2 = await runtimeCommand(settings.runtimeSocket, `add server ${firstRoute}/s9 ${backend}`);
    const enabled = await runtimeCommand(settings.runtimeSocket, `enable server ${firstRoute}/s9`);
    row(
      'HAProxy',
      'runtime API (show info, add map, add server)',
      /Version: 2\.6/.test(info) && viaMap?.status === 200 && /New server registered/.test(server2),
      `show info: ${/Version: (\S+)/.exec(info)?.[1]}; a path added with \`add map\` routed (${viaMap?.status}) without a reload; \`add server\`: ${server2.trim()} ${enabled.trim()}`,
    );
    const hpaths = ['/acme/p0/c0/api/x', '/acme/p2/c2/api/y'];
    const hres = await reloadUnderLoad(hport, 'staging.localhost', hpaths, async (i) => {
      await haproxy.load(haproxyConfig(reloadState(backend, i, internal), settings));
    });
    row(
      'HAProxy',
      `hitless reload (master-worker, ${RELOADS} route changes under GET+POST load, no retries)`,
      hres.failed === 0,
      `${hres.ok} ok, ${hres.failed} failed ${hres.failures.slice(0, 3).join('; ')}`,
    );
    // Listeners log requests as JSON; HAProxy's own notices (a listener stopped at a reload) go
    // to the same output and are told apart by their first character.
    const logLines = readFileSync(join(dir, 'haproxy-access.log'), 'utf8').trim().split('\n');
    const requestLines = logLines.filter((l) => l.startsWith('{'));
    const parsed = requestLines.filter((l) => {
      try {
        return typeof JSON.parse(l).requestId === 'string';
      } catch {
        return false;
      }
    });
    row(
      'HAProxy',
      'JSON access log (log-format + json converter)',
      parsed.length === requestLines.length && parsed.length >= hres.ok,
      `${parsed.length} of ${requestLines.length} request lines parse as JSON (${hres.ok} requests answered 200); ${logLines.length - requestLines.length} other lines, e.g. ${JSON.stringify(logLines.find((l) => !l.startsWith('{'))?.slice(0, 80))}`,
    );

    // ---- HAProxy: API management features, hand-written sections.
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pubPem = join(dir, 'jwt-pub.pem');
    writeFileSync(pubPem, publicKey.export({ type: 'spki', format: 'pem' }));
    const privPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const fport = await freePort();
    const unauthorized =
      'http-request return status 401 content-type application/json hdr X-Rondo-Outcome AUTH_FAILURE lf-string \'{"code":"AUTH_FAILURE"}\'';
    const jwtRules = (alg: string, key: string) => [
      '  http-request set-var(txn.bearer) http_auth_bearer',
      "  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')",
      "  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('$.aud')",
      "  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')",
      '  http-request set-var(txn.now) date',
      `  ${unauthorized} unless { var(txn.alg) -m str ${alg} }`,
      `  ${unauthorized} unless { var(txn.bearer),jwt_verify(txn.alg,"${key}") -m int 1 }`,
      `  ${unauthorized} unless { var(txn.aud) -m str rondo-api }`,
      `  ${unauthorized} if { var(txn.exp),sub(txn.now) lt 0 }`,
      "  http-request set-header X-Jwt-Sub %[var(txn.bearer),jwt_payload_query('$.sub')]",
    ];
    const cfg = [
      'global',
      '  nbthread 1',
      'defaults',
      '  mode http',
      '  timeout connect 3s',
      '  timeout client 10s',
      '  timeout server 10s',
      'frontend features',
      `  bind 127.0.0.1:${fport}`,
      '  http-request use-service prometheus-exporter if { path /metrics }',
      '  use_backend jwt_hs if { path_beg /hs }',
      '  use_backend jwt_rs if { path_beg /rs }',
      '  use_backend limited if { path_beg /limited }',
      '  use_backend cors if { path_beg /cors }',
      'backend jwt_hs',
      ...jwtRules('HS256', 'test-secret'),
      `  server s ${backend}`,
      'backend jwt_rs',
      ...jwtRules('RS256', pubPem),
      `  server s ${backend}`,
      'backend limited',
      '  stick-table type ip size 10k expire 60s store http_req_cnt,http_req_rate(60s)',
      '  http-request track-sc0 src',
      '  http-request return status 429 content-type application/json hdr Retry-After 60 hdr X-Rondo-Outcome RATE_LIMITED lf-string \'{"code":"RATE_LIMITED"}\' if { sc_http_req_rate(0) gt 10 }',
      `  server s ${backend}`,
      'backend cors',
      '  http-request set-var(txn.origin) req.hdr(origin)',
      '  acl allowed_origin var(txn.origin) -m str https://ok.example',
      '  http-request return status 204 hdr Access-Control-Allow-Origin %[var(txn.origin)] hdr Access-Control-Allow-Methods "GET, POST" hdr Access-Control-Max-Age 600 hdr X-Rondo-Outcome CORS_RESPONSE if METH_OPTIONS allowed_origin',
      '  http-request return status 403 hdr X-Rondo-Outcome CORS_RESPONSE if METH_OPTIONS !allowed_origin',
      '  http-response set-header Access-Control-Allow-Origin %[var(txn.origin)] if allowed_origin',
      `  server s ${backend}`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'features.cfg'), cfg);
    const check = await execFileAsync('haproxy', ['-c', '-f', join(dir, 'features.cfg')]).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? 'failed',
    );
    if (check) row('HAProxy', 'feature configuration', false, check.slice(0, 300));
    else {
      children.push(start('haproxy', ['-f', join(dir, 'features.cfg')], join(dir, 'features.log')));
      await waitFor(fport, 'x', '/limited/warmup');
      const now = Math.floor(Date.now() / 1000);
      const good = { sub: 'user-1', aud: 'rondo-api', exp: now + 300 };
      const auth = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
      const st = async (path: string, t: string) => (await ask(fport, 'x', path, auth(t)))?.status;
      const hsOk = await ask(fport, 'x', '/hs', auth(hs256(good, 'test-secret')));
      const hsResults = {
        valid: hsOk?.status,
        forwardedSub: JSON.parse(hsOk?.body ?? '{}').headers?.['x-jwt-sub'],
        otherKey: await st('/hs', hs256(good, 'other-secret')),
        expired: await st('/hs', hs256({ ...good, exp: now - 10 }, 'test-secret')),
        wrongAudience: await st('/hs', hs256({ ...good, aud: 'other' }, 'test-secret')),
        algNone: await st('/hs', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(good)}.`),
        missing: (await ask(fport, 'x', '/hs'))?.status,
      };
      const rsResults = {
        valid: await st('/rs', rs256(good, privPem)),
        hsWithPublicKeyAsSecret: await st('/rs', hs256(good, readFileSync(pubPem, 'utf8'), 'HS256')),
      };
      row(
        'HAProxy',
        'jwt_verify (HS256 and RS256 from a PEM public key; exp, aud and alg allow-list by rules)',
        hsResults.valid === 200 &&
          hsResults.forwardedSub === 'user-1' &&
          [
            hsResults.otherKey,
            hsResults.expired,
            hsResults.wrongAudience,
            hsResults.algNone,
            hsResults.missing,
          ].every((s) => s === 401) &&
          rsResults.valid === 200 &&
          rsResults.hsWithPublicKeyAsSecret === 401,
        `HS256 ${JSON.stringify(hsResults)}; RS256 ${JSON.stringify(rsResults)}`,
      );
      const statuses: number[] = [];
      for (let i = 0; i < 15; i++) statuses.push((await ask(fport, 'x', '/limited'))?.status ?? 0);
      const limited = await ask(fport, 'x', '/limited');
      row(
        'HAProxy',
        'stick-table rate limit (10 per 60 s per source) → 429 with Retry-After',
        statuses.filter((s) => s === 200).length === 9 && limited?.headers['retry-after'] === '60',
        `statuses ${statuses.join(',')} (the warm-up request counted as the first); Retry-After ${limited?.headers['retry-after']}`,
      );
      const pre = (origin: string) =>
        ask(fport, 'x', '/cors', {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST' },
        });
      const [okPre, badPre] = [await pre('https://ok.example'), await pre('https://evil.example')];
      row(
        'HAProxy',
        'CORS by configuration (preflight answered by the proxy)',
        okPre?.status === 204 &&
          okPre.headers['access-control-allow-origin'] === 'https://ok.example' &&
          badPre?.status === 403,
        `allowed origin ${okPre?.status} ACAO=${okPre?.headers['access-control-allow-origin']}; other origin ${badPre?.status}`,
      );
      const metrics = await ask(fport, 'x', '/metrics');
      row(
        'HAProxy',
        'built-in Prometheus exporter',
        metrics?.status === 200 && metrics.body.includes('haproxy_process_'),
        `GET /metrics ${metrics?.status}, ${metrics?.body.split('\n').filter((l) => l.startsWith('haproxy_')).length} samples`,
      );
    }

    // ---- nginx: reload under load, limit_req, njs for JWT, CORS.
    const nport = await freePort();
    const ninternal: [number, number] = [await freePort(), await freePort()];
    const nconf = join(dir, 'nginx.conf');
    const writeNginx = (i: number) =>
      writeFileSync(
        nconf,
        nginxConfig(reloadState(backend, i, ninternal), {
          publicListen: `127.0.0.1:${nport}`,
          accessLogPath: join(dir, 'nginx-access.log'),
          pidPath: join(dir, 'nginx.pid'),
          errorLogPath: join(dir, 'nginx.err'),
          bodyLimitBytes: LIMIT,
        }),
      );
    writeNginx(0);
    const nginx = start('nginx', ['-c', nconf, '-p', dir], join(dir, 'nginx.out'));
    children.push(nginx);
    await waitFor(nport, 'staging.localhost', '/acme/p0/c0/api/x');
    const nres = await reloadUnderLoad(nport, 'staging.localhost', hpaths, async (i) => {
      writeNginx(i);
      nginx.kill('SIGHUP');
    });
    row(
      'nginx',
      `graceful reload (SIGHUP, ${RELOADS} route changes under GET+POST load, no retries)`,
      nres.failed === 0,
      `${nres.ok} ok, ${nres.failed} failed ${nres.failures.slice(0, 3).join('; ')}`,
    );

    const jsFile = join(dir, 'jwt.js');
    writeFileSync(
      jsFile,
      `const crypto = require('crypto');
function valid(r) {
  const auth = r.headersIn.Authorization || '';
  const parts = auth.replace(/^Bearer /, '').split('.');
  if (parts.length !== 3) return '0';
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
  if (header.alg !== 'HS256') return '0';
  const sig = crypto.createHmac('sha256', 'test-secret').update(parts[0] + '.' + parts[1]).digest('base64url');
  if (sig !== parts[2]) return '0';
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  return claims.aud === 'rondo-api' && claims.exp > Date.now() / 1000 ? '1' : '0';
}
export default { valid };
`,
    );
    const f2 = await freePort();
    const nfeat = join(dir, 'nginx-features.conf');
    writeFileSync(
      nfeat,
      `load_module /usr/lib/nginx/modules/ngx_http_js_module.so;
worker_processes 1; daemon off; pid ${join(dir, 'nf.pid')}; error_log ${join(dir, 'nf.err')} warn;
events {}
http {
  js_import jwt from ${jsFile};
  js_set $jwt_valid jwt.valid;
  limit_req_zone $binary_remote_addr zone=per_source:1m rate=10r/m;
  limit_req_status 429;
  map $http_origin $cors_origin { default ""; "https://ok.example" $http_origin; }
  server {
    listen 127.0.0.1:${f2};
    location /jwt { if ($jwt_valid != "1") { return 401; } proxy_pass http://${backend}; }
    location /limited { limit_req zone=per_source burst=9 nodelay; add_header Retry-After 60 always; proxy_pass http://${backend}; }
    location /cors {
      if ($request_method = OPTIONS) { add_header Access-Control-Allow-Origin $cors_origin; add_header Access-Control-Max-Age 600; return 204; }
      proxy_pass http://${backend};
    }
  }
}
`,
    );
    const ncheck = await execFileAsync('nginx', ['-t', '-c', nfeat, '-p', dir]).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? 'failed',
    );
    if (ncheck) row('nginx', 'feature configuration (njs, limit_req, CORS)', false, ncheck.slice(0, 300));
    else {
      children.push(start('nginx', ['-c', nfeat, '-p', dir], join(dir, 'nf.out')));
      await waitFor(f2, 'x', '/cors');
      const now = Math.floor(Date.now() / 1000);
      const good = { sub: 'user-1', aud: 'rondo-api', exp: now + 300 };
      const st = async (t: string) =>
        (await ask(f2, 'x', '/jwt', { headers: { authorization: `Bearer ${t}` } }))?.status;
      const j = {
        valid: await st(hs256(good, 'test-secret')),
        otherKey: await st(hs256(good, 'other')),
        expired: await st(hs256({ ...good, exp: now - 1 }, 'test-secret')),
        algNone: await st(`${b64({ alg: 'none' })}.${b64(good)}.`),
      };
      row(
        'nginx',
        'JWT: not in open-source nginx; with njs 0.7.9 (libnginx-mod-http-js, a script of ours)',
        j.valid === 200 && j.otherKey === 401 && j.expired === 401 && j.algNone === 401,
        `HS256 by an njs script: ${JSON.stringify(j)} (RS256/JWKS would need more script; no auth_jwt module)`,
      );
      const statuses: number[] = [];
      for (let i = 0; i < 15; i++) statuses.push((await ask(f2, 'x', '/limited'))?.status ?? 0);
      row(
        'nginx',
        'limit_req (10 r/m, burst 9, nodelay) → 429',
        statuses.filter((s) => s === 200).length === 10 && statuses.includes(429),
        `statuses ${statuses.join(',')}`,
      );
      const pre = (origin: string) => ask(f2, 'x', '/cors', { method: 'OPTIONS', headers: { origin } });
      const [okPre, badPre] = [await pre('https://ok.example'), await pre('https://evil.example')];
      row(
        'nginx',
        'CORS by configuration (map + add_header + return 204)',
        okPre?.headers['access-control-allow-origin'] === 'https://ok.example' &&
          badPre?.headers['access-control-allow-origin'] === undefined,
        `allowed ${okPre?.status} ACAO=${okPre?.headers['access-control-allow-origin']}; other ${badPre?.status} ACAO=${badPre?.headers['access-control-allow-origin'] ?? 'none'}`,
      );
    }
    row(
      'nginx',
      'built-in Prometheus exporter',
      false,
      'none: stub_status (plain text, 7 counters) only; an exporter process would be needed',
    );

    // ---- Caddy 2.6.2 as Rondo runs it: reload under the same load; the modules it has.
    const cport = await freePort();
    const cadmin = `127.0.0.1:${await freePort()}`;
    writeFileSync(join(dir, 'caddy.json'), JSON.stringify({ admin: { listen: cadmin } }));
    children.push(start('caddy', ['run', '--config', join(dir, 'caddy.json')], join(dir, 'caddy.out')));
    const admin = new CaddyAdmin(cadmin);
    for (
      let i = 0;
      i < 100 &&
      !(await admin.ping().then(
        () => true,
        () => false,
      ));
      i++
    )
      await sleep(50);
    const caddySettings = {
      adminListen: cadmin,
      publicListen: `127.0.0.1:${cport}`,
      accessLogPath: join(dir, 'caddy-access.log'),
      bodyLimitBytes: LIMIT,
    };
    const cinternal: [number, number] = [await freePort(), await freePort()];
    await admin.load(caddyConfig(reloadState(backend, 0, cinternal), caddySettings));
    await waitFor(cport, 'staging.localhost', '/acme/p0/c0/api/x');
    const cres = await reloadUnderLoad(cport, 'staging.localhost', hpaths, async (i) => {
      await admin.load(caddyConfig(reloadState(backend, i, cinternal), caddySettings));
    });
    row(
      'Caddy',
      `configuration load (/load, ${RELOADS} route changes under GET+POST load, no retries)`,
      cres.failed === 0,
      `${cres.ok} ok, ${cres.failed} failed ${cres.failures.slice(0, 3).join('; ')}`,
    );
    const modules = (await execFileAsync('caddy', ['list-modules'])).stdout;
    row(
      'Caddy',
      'rate limits, JWT in Debian 2.6.2',
      /rate_limit|jwt/i.test(modules),
      `list-modules: ${modules
        .split('\n')
        .filter((m) => /auth|rate|jwt/i.test(m))
        .join(', ')} (no rate limiter, no JWT)`,
    );
  } finally {
    for (const h of haproxies) await h.stop().catch(() => undefined);
    for (const c of children)
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([exited, sleep(5_000)]);
      }
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\n| Proxy | Claim | Worked | Observed |\n|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.proxy} | ${r.claim} | ${r.worked ? 'yes' : 'no'} | ${r.observed.replaceAll('|', '/')} |`,
    );
}
