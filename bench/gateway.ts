/**
 * G7: which proxy goes behind the traffic port, by measurement. In one run, for 1, 100 and 1,000
 * routed endpoints: direct to the backend, Caddy with Rondo's real configuration (caddyConfig),
 * HAProxy 2.6 (haproxyConfig) and nginx 1.22 (an equivalent configuration), all from the same
 * GatewayState, each with its JSON access log on. wrk cycles through every routed path (so a
 * linear route table costs what it costs), 50 connections for throughput, 1 for the added
 * latency (p50/p99 minus direct's). Each configuration runs several rounds, interleaved, since
 * the machine's two cores are shared; figures are min–max over the rounds. Proxies are host
 * processes on loopback high ports, killed by pid at the end, failure or not.
 *
 * G7's speed target is against the peers' *bare* configurations, run in the same rounds: HAProxy
 * and nginx as the minimum proxy (one listener, one backend, no route lookup, no log, no request
 * id, one thread / worker as ours). Reported: our HAProxy's throughput as a share of the best bare
 * one's in the same round, and its p50 added as a multiple of the best bare one's, plus each
 * proxy's CPU time per request (its serving process, from /proc/<pid>/schedstat over the 50
 * connection run), which the load of other processes on the machine moves less than throughput.
 * `BENCH_GATEWAY_TARGETS` picks targets (default: all).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { GatewayState, PathRoute } from '../src/domain/gateway-routes.js';
import { CaddyAdmin } from '../src/gateway/caddy-admin.js';
import { caddyConfig } from '../src/gateway/caddy-config.js';
import { haproxyConfig } from '../src/gateway/haproxy-config.js';
import { HaproxyProcess } from '../src/gateway/haproxy-process.js';
import { freePort } from '../test/helpers/platform.js';
import { backendConfig, bareNginxConfig, nginxConfig } from './gateway-nginx.js';

const execFileAsync = promisify(execFile);
const SECONDS = Number(process.env.BENCH_GATEWAY_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_GATEWAY_ROUNDS ?? 5);
const SIZES = (process.env.BENCH_GATEWAY_SIZES ?? '1,100,1000').split(',').map(Number);
const LIMIT = 10 * 1024 * 1024;
type Target = 'direct' | 'caddy' | 'haproxy' | 'nginx' | 'haproxy-bare' | 'nginx-bare';
const ALL_TARGETS: Target[] = ['direct', 'caddy', 'haproxy', 'nginx', 'haproxy-bare', 'nginx-bare'];
const TARGETS: Target[] = process.env.BENCH_GATEWAY_TARGETS
  ? ALL_TARGETS.filter((t) => t === 'direct' || process.env.BENCH_GATEWAY_TARGETS!.split(',').includes(t))
  : ALL_TARGETS;

/** The minimum HAProxy: one listener, one backend, nothing else (as bareNginxConfig). */
export function bareHaproxyConfig(listen: string, backend: string): string {
  return `global
  nbthread 1
  maxconn 8192
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 3s
  timeout client 60s
  timeout server 60s
frontend bare
  bind ${listen}
  default_backend upstream
backend upstream
  server s0 ${backend}
`;
}

/** CPU time a process has run, in µs (/proc/<pid>/schedstat, nanoseconds). */
export function cpuMicros(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
}

/** The first child of `pid` (nginx's and HAProxy's master-worker serve from their child). */
export function firstChild(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const c = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
    return c ? Number(c) : undefined;
  } catch {
    return undefined;
  }
}

/** `n` endpoints, Public and Organization, over two environments, plus one web app. */
export function benchState(n: number, backend: string, internalPorts: [number, number]): GatewayState {
  const envs = ['staging', 'prod'] as const;
  const publicRoutes: Record<string, PathRoute[]> = { staging: [], prod: [] };
  const internalRoutes: Record<string, PathRoute[]> = { staging: [], prod: [] };
  for (let i = 0; i < n; i++) {
    const env = envs[i % 2]!;
    const [project, component] = [`p${i % 10}`, `c${i}`];
    const upstreams = [{ dial: backend }];
    publicRoutes[env]!.push({ prefix: `/acme/${project}/${component}/api`, basePath: '/', upstreams });
    internalRoutes[env]!.push({ prefix: `/${project}/${component}/api`, basePath: '/', upstreams });
  }
  return {
    publicGateway: {
      environments: envs.map((e) => ({ host: `${e}.localhost`, routes: publicRoutes[e]! })),
      webApps: [{ host: 'web.p0.acme.prod.localhost', upstreams: [{ dial: backend }] }],
    },
    internal: envs.map((e, i) => ({
      environment: `acme-${e}`,
      port: internalPorts[i]!,
      allowedCidrs: ['127.0.0.0/8', `172.${20 + i}.0.0/16`],
      routes: internalRoutes[e]!,
    })),
  };
}

/** A wrk script sending each request to the next routed endpoint, with its environment's host. */
function wrkScript(state: GatewayState): string {
  const reqs = state.publicGateway.environments.flatMap((e) =>
    e.routes.map((r) => `{"${e.host}","${r.prefix}/items/42"}`),
  );
  return `local reqs = {${reqs.join(',')}}
local i = 0
request = function()
  i = i % #reqs + 1
  return wrk.format("GET", reqs[i][2], {["Host"] = reqs[i][1]})
end
`;
}

interface WrkResult {
  requests: number;
  rps: number;
  p50us: number;
  p99us: number;
  errors: number;
}

const toMicros = (v: string, unit: string) =>
  Number(v) * ({ us: 1, ms: 1_000, s: 1_000_000 } as Record<string, number>)[unit]!;

export async function wrk(port: number, script: string, connections: number): Promise<WrkResult> {
  const { stdout } = await execFileAsync(
    'wrk',
    ['-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency', '-s', script, `http://127.0.0.1:${port}`],
    { timeout: (SECONDS + 30) * 1000 },
  );
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(stdout);
    return m ? toMicros(m[1]!, m[2]!) : Number.NaN;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  return {
    requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? Number.NaN),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    p50us: pct('50'),
    p99us: pct('99'),
    errors: non2xx + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

/** Resident memory of a process and its children (nginx's and HAProxy's workers), in MB. */
function rssMb(pid: number): number {
  const kb = (p: number) =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {}
  return (kb(pid) + children.reduce((a, c) => a + kb(c), 0)) / 1024;
}

/** A process of the bench's own; killed by pid at the end. */
export function start(cmd: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const log = openSync(logPath, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
  closeSync(log);
  return child;
}

export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on a new connection (fetch cannot set Host); undefined when the connection fails. */
export function ask(
  port: number,
  host: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: init.method ?? 'GET',
        headers: { host, ...init.headers },
        agent: false,
        timeout: 2_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end(init.body);
  });
}

/** Before measuring a proxy: it routes, answers 404 and 413 as JSON with an outcome and a request id. */
async function verify(name: string, port: number, state: GatewayState): Promise<void> {
  const env = state.publicGateway.environments.find((e) => e.routes.length)!;
  const last = env.routes[env.routes.length - 1]!;
  for (let i = 0; i < 200; i++) {
    if ((await ask(port, env.host, `${last.prefix}/x`))?.status === 200) break;
    await sleep(50);
  }
  const ok = await ask(port, env.host, `${last.prefix}/x`);
  const missing = await ask(port, env.host, '/nobody/here');
  const big = await ask(port, env.host, last.prefix, {
    method: 'POST',
    headers: { 'content-length': String(LIMIT + 1) },
  });
  const checks = [
    ok?.status === 200 &&
      ok.headers['x-rondo-outcome'] === 'BACKEND_RESPONSE' &&
      !!ok.headers['x-request-id'],
    missing?.status === 404 && JSON.parse(missing.body).code === 'RESOURCE_NOT_FOUND',
    big?.status === 413 && big.headers['x-rondo-outcome'] === 'REQUEST_TOO_LARGE',
  ];
  if (checks.some((c) => !c))
    throw new Error(
      `${name} does not behave as the gateway (route, 404, 413): ${checks} ${ok?.status} ${big?.status}`,
    );
}

interface Sample {
  rps: number;
  cpuUs: number;
  p50us: number;
  p99us: number;
  rssMb: number;
  errors: number;
}

const range = (xs: number[], digits = 0) => {
  const f = (x: number) =>
    x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  const mid = [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  // The median of the rounds, then their spread: on shared cores one round can be far off.
  return lo === hi ? f(lo) : `${f(mid)} (${f(lo)}–${f(hi)})`;
};

export async function benchGateway(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-gateway-'));
  const children: (ChildProcess | undefined)[] = [];
  let haproxy: HaproxyProcess | undefined;
  const cleanup = async () => {
    await haproxy?.stop().catch(() => undefined);
    for (const c of children) await stop(c);
  };
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    const backendPort = await freePort();
    writeFileSync(
      join(dir, 'backend.conf'),
      backendConfig(`127.0.0.1:${backendPort}`, join(dir, 'backend.pid'), join(dir, 'backend.err')),
    );
    children.push(start('nginx', ['-c', join(dir, 'backend.conf'), '-p', dir], join(dir, 'backend.out')));
    const backend = `127.0.0.1:${backendPort}`;
    const versions = await Promise.all([
      execFileAsync('caddy', ['version']).then((r) => r.stdout.trim().split(' ')[0]),
      execFileAsync('haproxy', ['-v']).then((r) => /version (\S+)/.exec(r.stdout)?.[1]),
      execFileAsync('nginx', ['-v']).then((r) => /nginx\/(\S+)/.exec(r.stderr)?.[1]),
      execFileAsync('wrk', ['-v'])
        .catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }))
        .then((r) => /wrk (\S+)/.exec(r.stdout)?.[1]),
    ]);
    console.log(
      `caddy ${versions[0]} (GOMAXPROCS default, as Rondo runs it), haproxy ${versions[1]} (nbthread 1), nginx ${versions[2]} (1 worker); backend nginx (1 worker); wrk ${versions[3]} -t1, ${SECONDS} s per run, ${ROUNDS} rounds interleaved; load average at start ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    const rows: string[] = [];
    const g7: string[] = [];
    for (const size of SIZES) {
      const ports = {
        caddy: await freePort(),
        caddyAdmin: await freePort(),
        haproxy: await freePort(),
        nginx: await freePort(),
        haproxyBare: await freePort(),
        nginxBare: await freePort(),
      };
      const internal = (): Promise<[number, number]> => Promise.all([freePort(), freePort()]);
      const states = {
        caddy: benchState(size, backend, await internal()),
        haproxy: benchState(size, backend, await internal()),
        nginx: benchState(size, backend, await internal()),
      };
      const logs = {
        caddy: join(dir, `caddy-${size}.log`),
        haproxy: join(dir, `haproxy-${size}.log`),
        nginx: join(dir, `nginx-${size}.log`),
      };
      for (const f of Object.values(logs)) writeFileSync(f, '');

      let caddy: ChildProcess | undefined;
      if (TARGETS.includes('caddy')) {
        writeFileSync(
          join(dir, 'caddy-admin.json'),
          JSON.stringify({ admin: { listen: `127.0.0.1:${ports.caddyAdmin}` } }),
        );
        caddy = start(
          'caddy',
          ['run', '--config', join(dir, 'caddy-admin.json')],
          join(dir, `caddy-${size}.out`),
        );
        children.push(caddy);
        const admin = new CaddyAdmin(`127.0.0.1:${ports.caddyAdmin}`);
        for (let i = 0; i < 100; i++) {
          if (
            await admin.ping().then(
              () => true,
              () => false,
            )
          )
            break;
          await sleep(50);
        }
        await admin.load(
          caddyConfig(states.caddy, {
            adminListen: `127.0.0.1:${ports.caddyAdmin}`,
            publicListen: `127.0.0.1:${ports.caddy}`,
            accessLogPath: logs.caddy,
            bodyLimitBytes: LIMIT,
          }),
        );
      }

      const hdir = join(dir, `haproxy-${size}`);
      const settings = {
        publicListen: `127.0.0.1:${ports.haproxy}`,
        internalBindAddress: '127.0.0.1',
        runtimeSocket: join(hdir, 'runtime.sock'),
        configDir: hdir,
        bodyLimitBytes: LIMIT,
        threads: 1,
      };
      haproxy = new HaproxyProcess({
        settings,
        accessLogPath: logs.haproxy,
        errorLogPath: join(dir, `haproxy-${size}.err`),
        masterSocket: join(hdir, 'master.sock'),
      });
      await haproxy.start(haproxyConfig(states.haproxy, settings));

      writeFileSync(
        join(dir, `nginx-${size}.conf`),
        nginxConfig(states.nginx, {
          publicListen: `127.0.0.1:${ports.nginx}`,
          accessLogPath: logs.nginx,
          pidPath: join(dir, `nginx-${size}.pid`),
          errorLogPath: join(dir, `nginx-${size}.err`),
          bodyLimitBytes: LIMIT,
        }),
      );
      const nginx = start(
        'nginx',
        ['-c', join(dir, `nginx-${size}.conf`), '-p', dir],
        join(dir, `nginx-${size}.out`),
      );
      children.push(nginx);

      // The bare peers: one backend, nothing else.
      const bareDir = join(dir, `bare-${size}`);
      mkdirSync(bareDir, { recursive: true });
      writeFileSync(
        join(bareDir, 'haproxy.cfg'),
        bareHaproxyConfig(`127.0.0.1:${ports.haproxyBare}`, backend),
      );
      const haproxyBare = start(
        'haproxy',
        ['-db', '-f', join(bareDir, 'haproxy.cfg')],
        join(bareDir, 'haproxy.out'),
      );
      children.push(haproxyBare);
      writeFileSync(
        join(bareDir, 'nginx.conf'),
        bareNginxConfig(`127.0.0.1:${ports.nginxBare}`, backend, bareDir),
      );
      const nginxBare = start(
        'nginx',
        ['-c', join(bareDir, 'nginx.conf'), '-p', bareDir],
        join(bareDir, 'nginx.out'),
      );
      children.push(nginxBare);

      if (caddy) await verify('caddy', ports.caddy, states.caddy);
      await verify('haproxy', ports.haproxy, states.haproxy);
      await verify('nginx', ports.nginx, states.nginx);
      for (const p of [ports.haproxyBare, ports.nginxBare]) {
        for (let i = 0; i < 100 && (await ask(p, 'staging.localhost', '/x'))?.status !== 200; i++)
          await sleep(50);
        if ((await ask(p, 'staging.localhost', '/x'))?.status !== 200)
          throw new Error(`bare proxy on ${p} does not answer`);
      }
      const script = join(dir, `wrk-${size}.lua`);
      writeFileSync(script, wrkScript(states.haproxy));

      const port: Record<Target, number> = {
        direct: backendPort,
        caddy: ports.caddy,
        haproxy: ports.haproxy,
        nginx: ports.nginx,
        'haproxy-bare': ports.haproxyBare,
        'nginx-bare': ports.nginxBare,
      };
      const pid: Record<Target, number | undefined> = {
        direct: undefined,
        caddy: caddy?.pid,
        haproxy: haproxy.pid,
        nginx: nginx.pid,
        'haproxy-bare': haproxyBare.pid,
        'nginx-bare': nginxBare.pid,
      };
      // The process that serves: nginx's and HAProxy's master-worker serve from their worker.
      const serving: Record<Target, number | undefined> = {
        direct: firstChild(children[0]?.pid),
        caddy: caddy?.pid,
        haproxy: firstChild(haproxy.pid),
        nginx: firstChild(nginx.pid),
        'haproxy-bare': haproxyBare.pid,
        'nginx-bare': firstChild(nginxBare.pid),
      };
      const samples = Object.fromEntries(ALL_TARGETS.map((t) => [t, [] as Sample[]])) as Record<
        Target,
        Sample[]
      >;
      for (let round = 0; round < ROUNDS; round++) {
        // A different order each round, so no proxy always runs right after the same one.
        const order = TARGETS.map((_, i) => TARGETS[(i + round) % TARGETS.length]!);
        for (const t of order) {
          const cpu0 = cpuMicros(serving[t]);
          const load = await wrk(port[t], script, 50);
          const cpuUs = (cpuMicros(serving[t]) - cpu0) / load.requests;
          const one = await wrk(port[t], script, 1);
          const p = pid[t];
          samples[t].push({
            cpuUs,
            rps: load.rps,
            p50us: one.p50us,
            p99us: one.p99us,
            rssMb: p ? rssMb(p) : 0,
            errors: load.errors + one.errors,
          });
          for (const f of Object.values(logs)) truncateSync(f);
        }
      }
      const direct = samples.direct;
      for (const t of TARGETS) {
        const s = samples[t];
        // Added latency per round: against the direct run of the same round.
        const added50 = s.map((x, i) => x.p50us - direct[i]!.p50us);
        const added99 = s.map((x, i) => x.p99us - direct[i]!.p99us);
        rows.push(
          `| ${size.toLocaleString('en-US')} | ${t} | ${range(s.map((x) => x.rps))} | ${range(s.map((x, i) => (100 * x.rps) / direct[i]!.rps))} | ${t === 'direct' ? `(${range(s.map((x) => x.p50us))})` : range(added50)} | ${t === 'direct' ? `(${range(s.map((x) => x.p99us))})` : range(added99)} | ${
            t === 'direct'
              ? '–'
              : range(
                  s.map((x) => x.rssMb),
                  1,
                )
          } | ${range(
            s.map((x) => x.cpuUs),
            1,
          )} | ${s.reduce((a, x) => a + x.errors, 0)} |`,
        );
      }
      // G7: our configuration against the best bare peer of each round.
      const bares = (['haproxy-bare', 'nginx-bare'] as Target[]).filter((t) => TARGETS.includes(t));
      if (bares.length && TARGETS.includes('haproxy')) {
        const ours = samples.haproxy;
        const share = ours.map((x, i) => (100 * x.rps) / Math.max(...bares.map((b) => samples[b][i]!.rps)));
        const added = (t: Target, i: number) => samples[t][i]!.p50us - direct[i]!.p50us;
        const p50x = ours.map((_, i) => added('haproxy', i) / Math.min(...bares.map((b) => added(b, i))));
        const cpux = ours.map((x, i) => x.cpuUs / Math.min(...bares.map((b) => samples[b][i]!.cpuUs)));
        g7.push(
          `| ${size.toLocaleString('en-US')} | ${range(share)} % | ${range(p50x, 2)}× | ${range(cpux, 2)}× | ${bares
            .map(
              (b) =>
                `${b}: ${samples[b].filter((x, i) => x.rps === Math.max(...bares.map((o) => samples[o][i]!.rps))).length}`,
            )
            .join(', ')} |`,
        );
      }
      console.log(
        `${size} endpoints measured (load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')})`,
      );
      await haproxy.stop();
      haproxy = undefined;
      await stop(caddy);
      await stop(nginx);
      await stop(haproxyBare);
      await stop(nginxBare);
    }
    console.log(
      '\n| Endpoints | Target | Throughput (req/s, 50 conn.) | Share of direct (same round, %) | p50 added (µs, 1 conn.) | p99 added (µs) | RSS (MB) | CPU per request (µs, 50 conn.) | Errors |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    console.log("(direct rows show the backend's own p50/p99 in parentheses, and the backend's CPU)");
    if (g7.length) {
      console.log(
        "\nG7 target, HAProxy (Rondo's configuration, access log on) against the best bare peer of each round (targets: throughput ≥ 90 %, p50 added ≤ 1.2×):",
      );
      console.log(
        '\n| Endpoints | Throughput, share of best bare | p50 added, multiple of best bare | CPU per request, multiple of best bare | Rounds each bare was best |',
      );
      console.log('|---|---|---|---|---|');
      for (const r of g7) console.log(r);
      console.log(
        `(load average at end ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')})`,
      );
    }
  } finally {
    process.off('SIGINT', onSignal);
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
