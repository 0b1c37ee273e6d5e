/**
 * G7: where a request's CPU goes in the gateway, counted rather than timed. Each configuration
 * runs under valgrind's callgrind (one thread), takes a warm-up, then a few seconds of wrk (8
 * connections, every routed path in turn); its user-space instructions between the two are
 * divided by the requests answered. A count does not move with the machine's load the way
 * throughput does on shared cores (kernel time, the syscalls, is not in it: see docs/decisions.md
 * for those counted by strace). Configurations: the bare peers (HAProxy and nginx, one backend,
 * nothing else: the floor), Rondo's HAProxy configuration at 100 endpoints with its access log,
 * the same with one feature taken out at a time (what that feature costs; none of these is a
 * configuration Rondo runs), and JWT validation at its two levels (`haproxy-policy.ts`).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSign, generateKeyPairSync } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { GatewayState, RoutePolicy } from '../src/domain/gateway-routes.js';
import { haproxyConfig } from '../src/gateway/haproxy-config.js';
import { freePort } from '../test/helpers/platform.js';
import { ask, bareHaproxyConfig, benchState, stop } from './gateway.js';
import { backendConfig, bareNginxConfig } from './gateway-nginx.js';

const execFileAsync = promisify(execFile);
const SECONDS = Number(process.env.BENCH_GATEWAY_SECONDS ?? 4);

interface Config {
  name: string;
  proxy: 'haproxy' | 'nginx';
  /** The configuration's text and files, in `dir`, listening on `port`. */
  render: (
    port: number,
    dir: string,
    backend: string,
  ) => Promise<{ text: string; files?: Record<string, string> }>;
  /** Tokens sent in turn (none: no Authorization header). */
  tokens?: 'one' | 'many';
}

const drop = (re: RegExp) => (t: string) => t.replace(re, '');

/** The feature removals, as edits of the rendered configuration. */
const WITHOUT: Record<string, (t: string) => string> = {
  'access log': drop(/^ {2}log global\n/gm),
  'request id (unique-id, two set-header)': (t) =>
    t
      .replace(/^ {2}unique-id-format.*\n/gm, '')
      .replace(/^ {2}http-(request|after-response) set-header X-Request-Id.*\n/gm, ''),
  'outcome header and its log variable': drop(
    /^ {2}http-(response set-header X-Rondo-Outcome|after-response set-var\(txn.outcome\)).*\n/gm,
  ),
  'prefix strip (replace-path)': drop(/^ {2}http-request replace-path.*\n/gm),
  'X-Forwarded-For': drop(/^ {2}option forwardfor\n/gm),
  'body-limit twin lookup': drop(/^ {2}http-request set-var\(txn.twin\).*\n/gm),
  '413 on Content-Length': drop(/^ {2}http-(request return status 413|after-response set-status 413).*\n/gm),
  'Lua (loaded, twins’ filter)': (t) =>
    t.replace(/^ {2}lua-load.*\n/gm, '').replace(/^ {2}filter lua.*\n/gm, ''),
};

export async function benchGatewayInstructions(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-instructions-'));
  const children: ChildProcess[] = [];
  const launch = (cmd: string, args: string[], out: string) => {
    const fd = openSync(out, 'a');
    const c = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    children.push(c);
    return c;
  };
  try {
    const backendPort = await freePort();
    const backend = `127.0.0.1:${backendPort}`;
    writeFileSync(
      join(dir, 'backend.conf'),
      backendConfig(backend, join(dir, 'backend.pid'), join(dir, 'backend.err')),
    );
    launch('nginx', ['-c', join(dir, 'backend.conf'), '-p', dir], join(dir, 'backend.out'));

    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const sign = (sub: string) => {
      const head = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: 'https://id.bench/', aud: 'bench', sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
      return `${head}.${createSign('SHA256').update(head).sign(privateKey).toString('base64url')}`;
    };
    const tokens = Array.from({ length: 64 }, (_, i) => sign(`u${i}`));
    const jwt: RoutePolicy = {
      jwt: {
        issuer: 'https://id.bench/',
        audience: 'bench',
        algorithms: ['RS256'],
        forwardClaims: [{ claim: 'sub', header: 'x-user' }],
        keys: [{ pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
      },
    };
    const withPolicy = (s: GatewayState, policy?: RoutePolicy): GatewayState => ({
      ...s,
      publicGateway: {
        ...s.publicGateway,
        environments: s.publicGateway.environments.map((e) => ({
          ...e,
          routes: e.routes.map((r) => (policy ? { ...r, policy } : r)),
        })),
      },
    });
    const ours =
      (edit: (t: string) => string = (t) => t, policy?: RoutePolicy) =>
      async (port: number, cdir: string) => {
        const state = withPolicy(benchState(100, backend, [await freePort(), await freePort()]), policy);
        const cfg = haproxyConfig(state, {
          publicListen: `127.0.0.1:${port}`,
          internalBindAddress: '127.0.0.1',
          runtimeSocket: join(cdir, 'runtime.sock'),
          configDir: cdir,
          bodyLimitBytes: 10 * 1024 * 1024,
          threads: 1,
        });
        return { text: edit(cfg.text), files: { ...cfg.maps, ...cfg.runtimeMaps } };
      };
    const configs: Config[] = [
      {
        name: 'HAProxy bare',
        proxy: 'haproxy',
        render: async (port) => ({ text: bareHaproxyConfig(`127.0.0.1:${port}`, backend) }),
      },
      {
        name: 'nginx bare',
        proxy: 'nginx',
        render: async (port, d) => ({ text: bareNginxConfig(`127.0.0.1:${port}`, backend, d) }),
      },
      { name: 'Rondo (HAProxy, access log on)', proxy: 'haproxy', render: ours() },
      ...Object.entries(WITHOUT).map(
        ([what, edit]): Config => ({ name: `Rondo without ${what}`, proxy: 'haproxy', render: ours(edit) }),
      ),
      { name: 'Rondo, no policy, request with a token', proxy: 'haproxy', render: ours(), tokens: 'one' },
      {
        name: 'Rondo, JWT, one token (connection level)',
        proxy: 'haproxy',
        render: ours(undefined, jwt),
        tokens: 'one',
      },
      {
        name: 'Rondo, JWT, 64 tokens in turn (table level)',
        proxy: 'haproxy',
        render: ours(undefined, jwt),
        tokens: 'many',
      },
    ];
    const only = process.env.BENCH_INSTRUCTIONS_ONLY;
    const rows: { name: string; perRequest: number; requests: number }[] = [];
    for (const c of only ? configs.filter((x) => x.name.includes(only)) : configs) {
      const port = await freePort();
      const cdir = join(dir, `c${rows.length}`);
      mkdirSync(cdir, { recursive: true });
      const { text, files } = await c.render(port, cdir, backend);
      for (const [n, t] of Object.entries(files ?? {})) writeFileSync(join(cdir, n), t);
      const cfg = join(cdir, c.proxy === 'nginx' ? 'nginx.conf' : 'haproxy.cfg');
      writeFileSync(cfg, text);
      const sent = c.tokens === 'many' ? tokens : c.tokens === 'one' ? tokens.slice(0, 1) : [];
      const script = join(cdir, 'wrk.lua');
      const state = benchState(100, backend, [0, 0]);
      const reqs = state.publicGateway.environments.flatMap((e) =>
        e.routes.map((r) => `{"${e.host}","${r.prefix}/items/42"}`),
      );
      writeFileSync(
        script,
        `local reqs = {${reqs.join(',')}}
local toks = {${sent.map((t) => `"${t}"`).join(',')}}
local i, j = 0, 0
request = function()
  i = i % #reqs + 1
  j = j % math.max(#toks, 1) + 1
  return wrk.format("GET", reqs[i][2], {["Host"] = reqs[i][1]${sent.length ? ', ["Authorization"] = "Bearer " .. toks[j]' : ''}})
end
`,
      );
      const args =
        c.proxy === 'haproxy'
          ? ['haproxy', '-db', '-f', cfg]
          : ['nginx', '-c', cfg, '-p', cdir, '-g', 'master_process off;'];
      const out = join(cdir, 'callgrind.out');
      const proc = launch(
        'valgrind',
        ['--tool=callgrind', `--callgrind-out-file=${out}.%p`, ...args],
        join(cdir, 'proxy.log'),
      );
      const headers: Record<string, string> = sent.length ? { authorization: `Bearer ${sent[0]}` } : {};
      let status: number | undefined;
      for (let i = 0; i < 300 && status !== 200; i++) {
        status = (await ask(port, 'staging.localhost', '/acme/p0/c0/api/items/42', { headers }))?.status;
        if (status !== 200) await sleep(200);
      }
      if (status !== 200) throw new Error(`${c.name}: answered ${status}`);
      const run = async (seconds: number) => {
        const { stdout } = await execFileAsync(
          'wrk',
          ['-t1', '-c8', `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}`],
          { timeout: (seconds + 30) * 1000 },
        );
        if (/Non-2xx|Socket errors/.test(stdout)) throw new Error(`${c.name}: errors in ${stdout}`);
        return Number(/(\d+) requests in/.exec(stdout)?.[1]);
      };
      await run(2);
      await execFileAsync('callgrind_control', ['-z', String(proc.pid)]);
      const requests = await run(SECONDS);
      await execFileAsync('callgrind_control', ['-d', String(proc.pid)]);
      await sleep(500);
      // The dump asked for (`<file>.<pid>.1`): the instructions since the counters were zeroed.
      const dump = readdirSync(cdir).find((f) => /^callgrind\.out\.\d+\.\d+$/.test(f));
      const instructions = Number(
        /^summary:\s+(\d+)/m.exec(dump ? readFileSync(join(cdir, dump), 'utf8') : '')?.[1],
      );
      await stop(proc);
      rows.push({ name: c.name, perRequest: instructions / requests, requests });
      console.log(
        `${c.name}: ${Math.round(instructions / requests)} instructions per request (${requests} requests)`,
      );
    }
    const floor = Math.min(...rows.filter((r) => r.name.endsWith('bare')).map((r) => r.perRequest));
    const rondo = rows.find((r) => r.name.startsWith('Rondo (HAProxy'))?.perRequest;
    console.log(
      '\n| Configuration | Instructions per request (user space) | vs the best bare | What the feature costs (Rondo minus this) |',
    );
    console.log('|---|---|---|---|');
    for (const r of rows)
      console.log(
        `| ${r.name} | ${Math.round(r.perRequest).toLocaleString('en-US')} | ${(r.perRequest / floor).toFixed(2)}× | ${
          rondo && r.name.startsWith('Rondo without')
            ? Math.round(rondo - r.perRequest).toLocaleString('en-US')
            : '–'
        } |`,
      );
  } finally {
    for (const c of children.reverse()) await stop(c);
    rmSync(dir, { recursive: true, force: true });
  }
}
