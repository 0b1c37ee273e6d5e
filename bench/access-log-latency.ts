/**
 * G3: the gateway latency access logging adds. Two HAProxy processes (the host gateway, G7) with
 * the same route to the same backend (a Node HTTP server answering 2 bytes), from Rondo's own
 * `haproxyConfig`: one with the access log (JSON lines on its standard output to a file) while the gateway log collector follows the file into
 * the store, one without any of it (the floor). Sequential keep-alive GETs, interleaved in blocks
 * of 200 so both see the same machine load; p50 and p99 of each.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { GatewayState } from '../src/domain/gateway-routes.js';
import { parseHaproxyAccessLine } from '../src/gateway/haproxy-access-log.js';
import { haproxyConfig } from '../src/gateway/haproxy-config.js';
import { HaproxyProcess } from '../src/gateway/haproxy-process.js';
import { GatewayLogCollector } from '../src/observability/gateway-log-collector.js';
import { LogChanges } from '../src/observability/log-changes.js';
import { freePort } from '../test/helpers/platform.js';
import { startTestRondo } from '../test/helpers/rondo.js';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1]!;
const HOST = 'development.localhost';
const PATH = '/default/shop/api/site/';

/** HAProxy with `config`, as Rondo runs it (master-worker, default threads), its standard output the access log. */
async function haproxy(dir: string, name: string, state: GatewayState, listen: string, log: boolean) {
  const configDir = join(dir, name);
  const settings = {
    publicListen: listen,
    internalBindAddress: '127.0.0.1',
    runtimeSocket: join(configDir, 'runtime.sock'),
    configDir,
    bodyLimitBytes: 10 << 20,
  };
  const config = haproxyConfig(state, settings);
  // The floor: the same configuration with no listener logging (the owner variable is still set).
  if (!log) config.text = config.text.replace(/^ {2}log global\n/gm, '');
  const p = new HaproxyProcess({
    settings,
    accessLogPath: join(dir, log ? 'access.log' : `${name}.out`),
    errorLogPath: join(dir, `${name}.err`),
    masterSocket: join(configDir, 'master.sock'),
  });
  mkdirSync(configDir, { recursive: true });
  await p.start(config);
  return p;
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
  const gateways: HaproxyProcess[] = [];
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
    const [onPort, offPort] = [await freePort(), await freePort()];
    const accessLogPath = join(dir, 'access.log');
    const state: GatewayState = {
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
    };
    gateways.push(await haproxy(dir, 'on', state, `127.0.0.1:${onPort}`, true));
    gateways.push(await haproxy(dir, 'off', state, `127.0.0.1:${offPort}`, false));
    collector = new GatewayLogCollector({
      store: t.rondo.store,
      logger: pino({ level: 'silent' }),
      changes: new LogChanges(),
      path: accessLogPath,
      parse: parseHaproxyAccessLine,
    });
    const report = (what: string, r: { logged: number[]; floor: number[] }, stored: string) =>
      console.log(
        `gateway GET ${what}: p50 ${pct(r.logged, 50).toFixed(3)} ms logged, ${pct(r.floor, 50).toFixed(3)} ms without the access log (floor): ${((pct(r.logged, 50) / pct(r.floor, 50) - 1) * 100).toFixed(1)}% p50; p99 ${pct(r.logged, 99).toFixed(3)} / ${pct(r.floor, 99).toFixed(3)} ms (${r.logged.length} requests each${stored})`,
      );
    // HAProxy's own cost: it writes the log, nobody reads it.
    report('access log written, not collected', await interleaved(dir, onPort, offPort), '');
    // What a site runs: the collector follows the file into the store meanwhile.
    collector.start();
    const withCollector = await interleaved(dir, onPort, offPort);
    for (let i = 0; i < 100 && collector.stats.stored < 2 * (300 + withCollector.logged.length); i++)
      await sleep(100);
    report('access log collected into the store', withCollector, `; ${collector.stats.stored} lines stored`);
  } finally {
    await collector?.stop();
    for (const g of gateways) await g.stop();
    backend.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
