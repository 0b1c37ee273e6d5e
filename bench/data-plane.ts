/**
 * F2 data-plane benchmarks, against the real engine, registry and gateway (HAProxy):
 *  - deploy latency: image already in the registry → first 200 through the gateway, median of 10,
 *    as a ratio to the floor measured in the same run (`docker run` + first 200 on the container),
 *    the two interleaved with a pause after each deploy so neither runs beside the other's
 *    background work; `RONDO_BENCH_EACH=1` prints every round;
 *  - gateway: throughput and latency through the public gateway vs straight to the container.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { HostGateway } from '../src/gateway/host-gateway.js';
import { buildWebImage, docker, removeImages } from '../test/helpers/images.js';
import { freePort, startGateway, startPlatformRondo, startRegistry } from '../test/helpers/platform.js';

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function get(port: number, host: string, path: string, ip = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port, path, headers: { host }, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function until200(fn: () => Promise<number>): Promise<void> {
  while ((await fn()) !== 200) await sleep(10);
}

export async function pushToRegistry(local: string, remote: string): Promise<void> {
  const [repo, tag] = remote.split(/:(?=[^:/]+$)/) as [string, string];
  await docker.getImage(local).tag({ repo, tag });
  execFileSync('docker', ['push', '-q', remote], { stdio: 'ignore' });
}

export async function floorOnce(image: string): Promise<number> {
  const t0 = performance.now();
  const c = await docker.createContainer({ Image: image, Labels: { 'rondo.test-image': 'bench' } });
  await c.start();
  const ip = Object.values((await c.inspect()).NetworkSettings.Networks)[0]?.IPAddress ?? '';
  await until200(() => get(8080, 'x', '/', ip));
  const ms = performance.now() - t0;
  await c.remove({ force: true });
  return ms;
}

export async function benchDataPlane(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-dp-'));
  const registry = await startRegistry(dir);
  const t = await startPlatformRondo('pglite', { drainMs: 0 });
  try {
    await buildWebImage('rondo-test-web:bench', { body: 'ok' });
    const image = `${registry.addr}/bench/web:1`;
    await pushToRegistry('rondo-test-web:bench', image);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'bench' } });

    const floor: number[] = [];
    const rondo: number[] = [];
    for (let i = 0; i < 11; i++) {
      floor.push(await floorOnce(image));
      const name = `web-${i}`;
      await t.call('POST', '/api/v1/orgs/default/projects/bench/components', {
        body: { name, type: 'service', source: { image }, endpoints: [{ port: 8080 }] },
      });
      const t0 = performance.now();
      const d = await t.call('POST', `/api/v1/orgs/default/projects/bench/components/${name}/deployments`, {
        body: { environment: 'development' },
      });
      if (d.status !== 202) throw new Error(`deploy failed: ${JSON.stringify(d.body)}`);
      await until200(() => get(t.publicPort, 'development.localhost', `/default/bench/${name}/rest/`));
      rondo.push(performance.now() - t0);
      // Each side measured on a quiet engine: what a rollout starts in the background (the
      // network's next warm sandbox) is done before the next floor runs.
      await sleep(1500);
      if (process.env.RONDO_BENCH_EACH)
        console.log(`round ${i}: floor ${floor[i]?.toFixed(0)} ms, rondo ${rondo[i]?.toFixed(0)} ms`);
    }
    // The first round pulls the image and creates the network; report the next ten.
    const f = median(floor.slice(1));
    const r = median(rondo.slice(1));
    console.log(
      `deploy → first 200 via gateway   median ${r.toFixed(0)} ms (10 runs; min ${Math.min(...rondo.slice(1)).toFixed(0)}, max ${Math.max(...rondo.slice(1)).toFixed(0)})`,
    );
    console.log(`floor: docker run → first 200     median ${f.toFixed(0)} ms`);
    console.log(`ratio                             ${(r / f).toFixed(2)}× (target ≤ 1.5×)`);

    await benchGateway(dir);
  } finally {
    await t.close();
    registry.stop();
    await removeImages('rondo-test-web:bench', `${registry.addr}/bench/web:1`);
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: ['rondo.test-image=bench'] },
    });
    await Promise.all(leftovers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The host gateway as Rondo configures it (HAProxy through HostGateway: body limit, request id,
 * outcome header, access log) in front of a small keep-alive HTTP backend, against the same backend
 * hit directly. The backend is a Node server on the host: busybox httpd (the test image) closes
 * every connection and would measure itself, not the gateway.
 */
async function benchGateway(dir: string): Promise<void> {
  const backendPort = await freePort();
  const backend = spawn(
    process.execPath,
    ['-e', `require('http').createServer((q, s) => s.end('ok')).listen(${backendPort}, '127.0.0.1')`],
    { stdio: 'ignore' },
  );
  const publicPort = await freePort();
  const settings = {
    dir: join(dir, 'gateway'),
    publicListen: `:${publicPort}`,
    metricsListen: `127.0.0.1:${await freePort()}`,
    accessLogPath: join(dir, 'bench-access.log'),
    bodyLimitBytes: 10 * 1024 * 1024,
  };
  const gateway = await startGateway(settings);
  try {
    await new HostGateway(settings, pino({ level: 'silent' })).apply('bench', {
      publicGateway: {
        environments: [
          {
            host: 'development.localhost',
            routes: [
              {
                prefix: '/acme/shop/api/rest',
                basePath: '/',
                upstreams: [{ dial: `127.0.0.1:${backendPort}` }],
              },
            ],
          },
        ],
        webApps: [],
      },
      internal: [],
    });
    await until200(() => get(backendPort, 'x', '/'));
    const run = (url: string, headers: Record<string, string> = {}) =>
      autocannon({ url, connections: 50, duration: 10, headers });
    const direct = await run(`http://127.0.0.1:${backendPort}/`);
    const gw = await run(`http://127.0.0.1:${publicPort}/acme/shop/api/rest/`, {
      host: 'development.localhost',
    });
    const line = (n: string, x: autocannon.Result) =>
      `${n.padEnd(34)}${Math.round(x.requests.average)} req/s   p50 ${x.latency.p50} ms   p99 ${x.latency.p99} ms   (${x.non2xx + x.errors} errors)`;
    console.log(line('direct to the backend (50 conns)', direct));
    console.log(line('through the gateway (50 conns)', gw));
    console.log(
      `gateway throughput                ${((gw.requests.average / direct.requests.average) * 100).toFixed(0)}% of direct (target ≥ 70%)`,
    );
    console.log(
      `gateway p50 overhead              ${(gw.latency.p50 - direct.latency.p50).toFixed(2)} ms (target < 1 ms)`,
    );

    const one = (url: string, headers: Record<string, string> = {}) =>
      autocannon({ url, connections: 1, duration: 5, headers });
    const d1 = await one(`http://127.0.0.1:${backendPort}/`);
    const g1 = await one(`http://127.0.0.1:${publicPort}/acme/shop/api/rest/`, {
      host: 'development.localhost',
    });
    console.log(
      `1 connection: direct p50 ${d1.latency.p50} ms (${Math.round(d1.requests.average)} req/s), gateway p50 ${g1.latency.p50} ms (${Math.round(g1.requests.average)} req/s); per-request overhead ${(1000 / g1.requests.average - 1000 / d1.requests.average).toFixed(3)} ms`,
    );
  } finally {
    backend.kill('SIGTERM');
    await gateway.stop();
  }
}
