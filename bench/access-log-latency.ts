/**
 * G3: the gateway latency access logging adds. Two Caddy processes with the same route to the
 * same backend (a Node HTTP server answering 2 bytes), from Rondo's own `caddyConfig`: one with
 * the access log (owner handler, JSON file) while the gateway log collector follows the file into
 * the store, one without any of it (the floor). Sequential keep-alive GETs, interleaved in blocks
 * of 200 so both see the same machine load; p50 and p99 of each.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { parseCaddyAccessLine } from '../src/gateway/caddy-access-log.js';
import { caddyConfig } from '../src/gateway/caddy-config.js';
import { GatewayLogCollector } from '../src/observability/gateway-log-collector.js';
import { LogChanges } from '../src/observability/log-changes.js';
import { freePort } from '../test/helpers/platform.js';
import { startTestRondo } from '../test/helpers/rondo.js';

type Json = Record<string, unknown>;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1]!;
const HOST = 'development.localhost';
const PATH = '/default/shop/api/site/';

/** The same configuration without access logging: no log settings, no owner handlers. */
function withoutAccessLog(config: Json, listen: string, adminListen: string): Json {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.filter((h) => (h as Json | null)?.handler !== 'map').map(strip);
    if (typeof v === 'object' && v !== null)
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strip(x)]));
    return v;
  };
  const servers = ((config.apps as Json).http as Json).servers as Record<string, Json>;
  const { logs: _logs, ...server } = servers.public!;
  return {
    admin: { listen: adminListen },
    apps: { http: { servers: { public: { ...(strip(server) as Json), listen: [listen] } } } },
  };
}

async function caddy(dir: string, name: string, config: Json, adminListen: string): Promise<ChildProcess> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const child = spawn('caddy', ['run', '--config', file], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`http://${adminListen}/config/`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return child;
    await sleep(50);
  }
  child.kill();
  throw new Error(`caddy ${name} did not start`);
}

/**
 * The client runs in its own process: in this one, the collector's parsing and PGlite's
 * (synchronous) inserts would delay the client's own timers and inflate the "logged" figures.
 */
const CLIENT = `
import { Agent, request } from 'node:http';
const [onPort, offPort, blocks, per] = process.argv.slice(2).map(Number);
const one = (port, agent) => new Promise((resolve, reject) => {
  const t0 = performance.now();
  const req = request({ host: '127.0.0.1', port, path: ${JSON.stringify(PATH)}, headers: { host: ${JSON.stringify(HOST)} }, agent }, (res) => {
    res.resume();
    res.on('end', () => res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error('status ' + res.statusCode)));
  });
  req.on('error', reject);
  req.end();
});
const onAgent = new Agent({ keepAlive: true, maxSockets: 1 });
const offAgent = new Agent({ keepAlive: true, maxSockets: 1 });
const logged = [], floor = [];
for (let i = 0; i < 300; i++) { await one(onPort, onAgent); await one(offPort, offAgent); }
for (let b = 0; b < blocks; b++) {
  for (let i = 0; i < per; i++) logged.push(await one(onPort, onAgent));
  for (let i = 0; i < per; i++) floor.push(await one(offPort, offAgent));
}
process.stdout.write(JSON.stringify({ logged, floor }));
process.exit(0);
`;

async function interleaved(
  dir: string,
  onPort: number,
  offPort: number,
): Promise<{ logged: number[]; floor: number[] }> {
  const file = join(dir, 'client.mjs');
  writeFileSync(file, CLIENT);
  const child = spawn(process.execPath, [file, String(onPort), String(offPort), '20', '200'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  await new Promise((r) => child.on('exit', r));
  return JSON.parse(out) as { logged: number[]; floor: number[] };
}

export async function benchAccessLogLatency(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-accesslog-'));
  const backend = createServer((_req, res) => res.end('ok'));
  const backendPort = await freePort();
  await new Promise<void>((r) => backend.listen(backendPort, '127.0.0.1', r));
  const t = await startTestRondo('pglite', undefined, join(dir, 'data'));
  const children: ChildProcess[] = [];
  let collector: GatewayLogCollector | undefined;
  try {
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'api', type: 'service', source: { image: 'busybox:1' } },
    });
    const { db } = t.rondo.store;
    const c = await db
      .selectFrom('components')
      .select(['id', 'org_id', 'project_id'])
      .executeTakeFirstOrThrow();
    const e = await db
      .selectFrom('environments')
      .select('id')
      .where('name', '=', 'development')
      .executeTakeFirstOrThrow();
    const owner = {
      orgId: c.org_id,
      projectId: c.project_id,
      componentId: c.id,
      environmentId: e.id,
      deploymentId: null,
    };
    const [onPort, offPort, onAdmin, offAdmin] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const accessLogPath = join(dir, 'access.log');
    const on = caddyConfig(
      {
        publicGateway: {
          environments: [
            {
              host: HOST,
              routes: [
                {
                  prefix: '/default/shop/api/site',
                  basePath: '/',
                  upstreams: [{ dial: `127.0.0.1:${backendPort}` }],
                  owner,
                  componentPrefix: '/default/shop/api',
                },
              ],
            },
          ],
          webApps: [],
        },
        internal: [],
      },
      {
        adminListen: `127.0.0.1:${onAdmin}`,
        publicListen: `127.0.0.1:${onPort}`,
        accessLogPath,
        bodyLimitBytes: 10 << 20,
      },
    );
    children.push(await caddy(dir, 'on', on, `127.0.0.1:${onAdmin}`));
    children.push(
      await caddy(
        dir,
        'off',
        withoutAccessLog(on, `127.0.0.1:${offPort}`, `127.0.0.1:${offAdmin}`),
        `127.0.0.1:${offAdmin}`,
      ),
    );
    collector = new GatewayLogCollector({
      store: t.rondo.store,
      logger: pino({ level: 'silent' }),
      changes: new LogChanges(),
      path: accessLogPath,
      parse: parseCaddyAccessLine,
    });
    const report = (what: string, r: { logged: number[]; floor: number[] }, stored: string) =>
      console.log(
        `gateway GET ${what}: p50 ${pct(r.logged, 50).toFixed(3)} ms logged, ${pct(r.floor, 50).toFixed(3)} ms without the access log (floor): ${((pct(r.logged, 50) / pct(r.floor, 50) - 1) * 100).toFixed(1)}% p50; p99 ${pct(r.logged, 99).toFixed(3)} / ${pct(r.floor, 99).toFixed(3)} ms (${r.logged.length} requests each${stored})`,
      );
    // Caddy's own cost: it writes the log, nobody reads it.
    report('access log written, not collected', await interleaved(dir, onPort, offPort), '');
    // What a site runs: the collector follows the file into the store meanwhile.
    collector.start();
    const withCollector = await interleaved(dir, onPort, offPort);
    for (let i = 0; i < 100 && collector.stats.stored < 2 * (300 + withCollector.logged.length); i++)
      await sleep(100);
    report('access log collected into the store', withCollector, `; ${collector.stats.stored} lines stored`);
  } finally {
    await collector?.stop();
    for (const child of children) child.kill('SIGTERM');
    backend.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
