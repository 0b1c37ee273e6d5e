/**
 * G7: what endpoint policies cost on HAProxy 2.6, 100 routed endpoints, JSON access log on. Three
 * gateways from the same routes, run side by side in interleaved rounds: no policy, every route
 * with JWT validation (RS256, a static key, issuer/audience/expiry checked, `sub` forwarded), every
 * route with an endpoint and a consumer rate limit (set high enough never to refuse). Reported:
 * p50 at one connection (and what the gateway adds over direct), and throughput at 50 connections;
 * the target is each policy adding < 10% to the p50 of the same route without it.
 *
 * JWT runs twice: with one token, which each connection verifies once and then remembers (the
 * connection level, `haproxy-policy.ts`), and with 64 tokens taken in turn, so each request's
 * token differs from the connection's last one and is found in the endpoint's table by its
 * SHA-256 (the table level). `none + token` is no policy with the same `Authorization` header, so
 * the bigger request's own cost is told apart from validation's. CPU per request is the HAProxy
 * worker's over the 50-connection run (/proc/<pid>/schedstat), less moved by the machine's load.
 */
import type { ChildProcess } from 'node:child_process';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayState, RoutePolicy } from '../src/domain/gateway-routes.js';
import { haproxyConfig } from '../src/gateway/haproxy-config.js';
import { HaproxyProcess } from '../src/gateway/haproxy-process.js';
import { freePort } from '../test/helpers/platform.js';
import { ask, benchState, cpuMicros, firstChild, start, stop, wrk } from './gateway.js';
import { backendConfig } from './gateway-nginx.js';

const ROUNDS = Number(process.env.BENCH_GATEWAY_ROUNDS ?? 5);
const ENDPOINTS = 100;
type Variant = 'direct' | 'none' | 'none + token' | 'jwt' | 'jwt, 64 tokens' | 'rate-limit';
const VARIANTS: Variant[] = ['direct', 'none', 'none + token', 'jwt', 'jwt, 64 tokens', 'rate-limit'];
const TOKENS = 64;

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

function script(state: GatewayState, tokens: string[] = []): string {
  const reqs = state.publicGateway.environments.flatMap((e) =>
    e.routes.map((r) => `{"${e.host}","${r.prefix}/items/42"}`),
  );
  const auth = tokens.length ? ', ["Authorization"] = "Bearer " .. toks[j]' : '';
  return `local reqs = {${reqs.join(',')}}
local toks = {${tokens.map((t) => `"${t}"`).join(',')}}
local i = 0
local j = 0
request = function()
  i = i % #reqs + 1
  j = j % math.max(#toks, 1) + 1
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
    const sign = (sub: string) => {
      const head = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: 'https://id.bench/', aud: 'bench', sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
      return `${head}.${createSign('SHA256').update(head).sign(privateKey).toString('base64url')}`;
    };
    const token = sign('u1');
    const tokens = Array.from({ length: TOKENS }, (_, i) => sign(`u${i}`));
    const jwtPolicy: RoutePolicy = {
      jwt: {
        issuer: 'https://id.bench/',
        audience: 'bench',
        algorithms: ['RS256'],
        forwardClaims: [{ claim: 'sub', header: 'x-user' }],
        keys: [{ pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
      },
    };
    const policies: Record<Exclude<Variant, 'direct'>, RoutePolicy | undefined> = {
      none: undefined,
      'none + token': undefined,
      jwt: jwtPolicy,
      'jwt, 64 tokens': jwtPolicy,
      'rate-limit': {
        rateLimit: { requests: 1_000_000, per: 'second' },
        consumerRateLimit: { requests: 1_000_000, per: 'minute' },
      },
    };
    const ports = { direct: backendPort } as Record<Variant, number>;
    for (const v of VARIANTS) if (v !== 'direct') ports[v] = await freePort();
    const sent: Record<Variant, string[]> = {
      direct: [],
      none: [],
      'none + token': [token],
      jwt: [token],
      'jwt, 64 tokens': tokens,
      'rate-limit': [],
    };
    const serving = {} as Record<Variant, number | undefined>;
    const scripts: Record<Variant, string> = {} as Record<Variant, string>;
    for (const v of VARIANTS) {
      const state = v === 'direct' ? base : withPolicy(base, policies[v]);
      scripts[v] = join(dir, `${v}.lua`);
      writeFileSync(scripts[v], script(state, sent[v]));
      if (v === 'direct') {
        serving[v] = firstChild(children[0]?.pid);
        continue;
      }
      const hdir = join(dir, v.replace(/\W+/g, '-'));
      const settings = {
        publicListen: `127.0.0.1:${ports[v]}`,
        internalBindAddress: '127.0.0.1',
        runtimeSocket: join(hdir, 'runtime.sock'),
        configDir: hdir,
        bodyLimitBytes: 10 * 1024 * 1024,
        threads: 1,
      };
      const g = new HaproxyProcess({
        settings,
        accessLogPath: `${hdir}-access.log`,
        errorLogPath: `${hdir}-haproxy.log`,
        masterSocket: `${hdir}-master.sock`,
      });
      gateways.push(g);
      await g.start(haproxyConfig(state, settings));
      serving[v] = firstChild(g.pid);
      const probe = await ask(ports[v], 'staging.localhost', '/acme/p0/c0/api/items/42', {
        headers: sent[v].length ? { authorization: `Bearer ${token}` } : {},
      });
      if (probe?.status !== 200) throw new Error(`${v}: the probe was answered ${probe?.status}`);
    }
    await sleep(300);

    const each = () =>
      Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
    const [p50, rps, cpu] = [each(), each(), each()];
    let errors = 0;
    for (let round = 0; round < ROUNDS; round++)
      // A different order each round, so no variant always runs right after the same one.
      for (const v of VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!)) {
        const one = await wrk(ports[v], scripts[v], 1);
        const cpu0 = cpuMicros(serving[v]);
        const load = await wrk(ports[v], scripts[v], 50);
        cpu[v].push((cpuMicros(serving[v]) - cpu0) / load.requests);
        p50[v].push(one.p50us);
        rps[v].push(load.rps);
        errors += one.errors + load.errors;
      }

    console.log(
      `\nHAProxy 2.6, ${ENDPOINTS} endpoints (every route with the policy), JSON access log on; ${ROUNDS} rounds interleaved; wrk -t1; errors (non-2xx or socket): ${errors}; load average at end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      '\n| Policy | p50, 1 conn. (µs) | p50 added over direct (µs) | p50 vs no policy (same round) | p50 vs no policy, same request (same round) | Throughput, 50 conn. (req/s) | vs no policy | CPU per request (µs, 50 conn.) | CPU vs no policy, same request |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    // A JWT variant's own request carries the token: "same request" compares it with `none + token`.
    const same = (v: Variant): Variant => (v.startsWith('jwt') ? 'none + token' : 'none');
    for (const v of VARIANTS) {
      const base = v === 'direct' || v === 'none';
      const added = p50[v].map((x, i) => x - p50.direct[i]!);
      const vs = (m: Record<Variant, number[]>, o: Variant) =>
        base
          ? '–'
          : `${range(
              m[v].map((x, i) => (100 * x) / m[o][i]! - 100),
              1,
            )} %`;
      console.log(
        `| ${v} | ${range(p50[v])} | ${v === 'direct' ? '–' : range(added)} | ${vs(p50, 'none')} | ${v === 'none + token' ? '–' : vs(p50, same(v))} | ${range(rps[v])} | ${vs(rps, 'none')} | ${range(cpu[v], 1)} | ${v === 'none + token' ? '–' : vs(cpu, same(v))} |`,
      );
    }
  } finally {
    for (const g of gateways) await g.stop().catch(() => undefined);
    for (const c of children) await stop(c);
    rmSync(dir, { recursive: true, force: true });
  }
}
