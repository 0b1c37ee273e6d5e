/**
 * G7: what endpoint policies cost on HAProxy 2.6, 100 routed endpoints, JSON access log on. Three
 * gateways from the same routes, run side by side in interleaved rounds: no policy, every route
 * with JWT validation (RS256, a static key, issuer/audience/expiry checked, `sub` forwarded), every
 * route with an endpoint and a consumer rate limit (set high enough never to refuse). Reported:
 * p50 at one connection (and what the gateway adds over direct), and throughput at 50 connections;
 * the target is each policy adding < 10% to the p50 of the same route without it.
 */
import type { ChildProcess } from 'node:child_process';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayState, RoutePolicy } from '../src/domain/gateway-routes.js';
import { haproxyConfig } from '../src/gateway/haproxy-config.js';
import { HaproxyProcess } from '../src/gateway/haproxy-process.js';
import { freePort } from '../test/helpers/platform.js';
import { ask, benchState, start, stop, wrk } from './gateway.js';
import { backendConfig } from './gateway-nginx.js';

const ROUNDS = Number(process.env.BENCH_GATEWAY_ROUNDS ?? 5);
const ENDPOINTS = 100;
type Variant = 'direct' | 'none' | 'jwt' | 'rate-limit';
const VARIANTS: Variant[] = ['direct', 'none', 'jwt', 'rate-limit'];

const withPolicy = (state: GatewayState, policy: RoutePolicy | undefined): GatewayState => ({
  ...state,
  publicGateway: {
    ...state.publicGateway,
    environments: state.publicGateway.environments.map((e) => ({
      ...e,
      routes: e.routes.map((r) => (policy ? { ...r, policy } : r)),
    })),
  },
});

function script(state: GatewayState, token?: string): string {
  const reqs = state.publicGateway.environments.flatMap((e) =>
    e.routes.map((r) => `{"${e.host}","${r.prefix}/items/42"}`),
  );
  const auth = token ? `, ["Authorization"] = "Bearer ${token}"` : '';
  return `local reqs = {${reqs.join(',')}}
local i = 0
request = function()
  i = i % #reqs + 1
  return wrk.format("GET", reqs[i][2], {["Host"] = reqs[i][1]${auth}})
end
`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[], d = 0) =>
  `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)} (median ${median(xs).toFixed(d)})`;

export async function benchGatewayPolicies(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-policies-'));
  const children: (ChildProcess | undefined)[] = [];
  const gateways: HaproxyProcess[] = [];
  try {
    const backendPort = await freePort();
    writeFileSync(
      join(dir, 'backend.conf'),
      backendConfig(`127.0.0.1:${backendPort}`, join(dir, 'backend.pid'), join(dir, 'backend.err')),
    );
    children.push(start('nginx', ['-c', join(dir, 'backend.conf'), '-p', dir], join(dir, 'backend.out')));
    const backend = `127.0.0.1:${backendPort}`;
    const base = benchState(ENDPOINTS, backend, [await freePort(), await freePort()]);

    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const head = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: 'https://id.bench/', aud: 'bench', sub: 'u1', exp: Math.floor(Date.now() / 1000) + 3600 })}`;
    const token = `${head}.${createSign('SHA256').update(head).sign(privateKey).toString('base64url')}`;
    const policies: Record<Exclude<Variant, 'direct'>, RoutePolicy | undefined> = {
      none: undefined,
      jwt: {
        jwt: {
          issuer: 'https://id.bench/',
          audience: 'bench',
          algorithms: ['RS256'],
          forwardClaims: [{ claim: 'sub', header: 'x-user' }],
          keys: [{ pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
        },
      },
      'rate-limit': {
        rateLimit: { requests: 1_000_000, per: 'second' },
        consumerRateLimit: { requests: 1_000_000, per: 'minute' },
      },
    };
    const ports: Record<Variant, number> = {
      direct: backendPort,
      none: await freePort(),
      jwt: await freePort(),
      'rate-limit': await freePort(),
    };
    const scripts: Record<Variant, string> = {} as Record<Variant, string>;
    for (const v of VARIANTS) {
      const state = v === 'direct' ? base : withPolicy(base, policies[v]);
      scripts[v] = join(dir, `${v}.lua`);
      writeFileSync(scripts[v], script(state, v === 'jwt' ? token : undefined));
      if (v === 'direct') continue;
      const hdir = join(dir, v);
      const settings = {
        publicListen: `127.0.0.1:${ports[v]}`,
        internalBindAddress: '127.0.0.1',
        runtimeSocket: join(dir, `${v}.sock`),
        configDir: hdir,
        bodyLimitBytes: 10 * 1024 * 1024,
        threads: 1,
      };
      const g = new HaproxyProcess({
        settings,
        accessLogPath: join(dir, `${v}-access.log`),
        errorLogPath: join(dir, `${v}-haproxy.log`),
        masterSocket: join(dir, `${v}-master.sock`),
      });
      gateways.push(g);
      await g.start(haproxyConfig(state, settings));
      const probe = await ask(ports[v], 'staging.localhost', '/acme/p0/c0/api/items/42', {
        headers: v === 'jwt' ? { authorization: `Bearer ${token}` } : {},
      });
      if (probe?.status !== 200) throw new Error(`${v}: the probe was answered ${probe?.status}`);
    }
    await sleep(300);

    const p50: Record<Variant, number[]> = { direct: [], none: [], jwt: [], 'rate-limit': [] };
    const rps: Record<Variant, number[]> = { direct: [], none: [], jwt: [], 'rate-limit': [] };
    let errors = 0;
    for (let round = 0; round < ROUNDS; round++)
      for (const v of VARIANTS) {
        const one = await wrk(ports[v], scripts[v], 1);
        const load = await wrk(ports[v], scripts[v], 50);
        p50[v].push(one.p50us);
        rps[v].push(load.rps);
        errors += one.errors + load.errors;
      }

    console.log(
      `\nHAProxy 2.6, ${ENDPOINTS} endpoints (every route with the policy), JSON access log on; ${ROUNDS} rounds interleaved; wrk -t1; errors (non-2xx or socket): ${errors}`,
    );
    console.log(
      '\n| Policy | p50, 1 conn. (µs) | p50 added over direct (µs) | p50 vs no policy (same round) | Throughput, 50 conn. (req/s) | vs no policy |',
    );
    console.log('|---|---|---|---|---|---|');
    for (const v of VARIANTS) {
      const added = p50[v].map((x, i) => x - p50.direct[i]!);
      const vsNone = p50[v].map((x, i) => (100 * x) / p50.none[i]! - 100);
      const tput = rps[v].map((x, i) => (100 * x) / rps.none[i]! - 100);
      console.log(
        `| ${v} | ${range(p50[v])} | ${v === 'direct' ? '–' : range(added)} | ${v === 'direct' || v === 'none' ? '–' : `${range(vsNone, 1)} %`} | ${range(rps[v])} | ${v === 'direct' || v === 'none' ? '–' : `${range(tput, 1)} %`} |`,
      );
    }
  } finally {
    for (const g of gateways) await g.stop().catch(() => undefined);
    for (const c of children) await stop(c);
    rmSync(dir, { recursive: true, force: true });
  }
}
