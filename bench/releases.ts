/**
 * F4 benchmarks, against the real engine, registry and gateway (median of 10, each as a ratio to
 * the floor measured in the same run: `docker run` of the same image + first 200):
 *  - promotion: promote request → first 200 from the new production deployment through the gateway;
 *  - config change: `config set` + deploy request → first 200 showing the new value.
 * The app echoes an env var through CGI, so "the new deployment answers" is observed, not assumed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pack } from 'tar-stream';
import { docker, removeImages } from '../test/helpers/images.js';
import { startPlatformRondo, startRegistry } from '../test/helpers/platform.js';
import { floorOnce, median, pushToRegistry } from './data-plane.js';

export async function buildMarkImage(tag: string): Promise<void> {
  const busybox = readFileSync(execFileSync('sh', ['-c', 'command -v busybox']).toString().trim());
  const tar = pack();
  tar.entry(
    { name: 'Dockerfile' },
    'FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nLABEL rondo.test-image=1\nENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n',
  );
  tar.entry({ name: 'busybox', mode: 0o755 }, busybox);
  tar.entry({ name: 'www/index.html' }, 'ok');
  tar.entry(
    { name: 'www/cgi-bin/mark', mode: 0o755 },
    '#!/bin/busybox sh\necho "Content-Type: text/plain"\necho ""\necho "$MARK"\n',
  );
  tar.finalize();
  const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, { t: tag });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
  );
}

function body(port: number, host: string, path: string, ip = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port, path, headers: { host }, agent: false, timeout: 1000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(res.statusCode === 200 ? text.trim() : ''));
    });
    req.on('error', () => resolve(''));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function untilBody(port: number, host: string, path: string, want: string): Promise<void> {
  while ((await body(port, host, path)) !== want) await sleep(10);
}

/** The floor as the issue defines it: the `docker run` command, then polling until the first 200. */
async function dockerRunFloor(image: string): Promise<number> {
  const t0 = performance.now();
  const id = execFileSync('/usr/bin/docker', ['run', '-d', '--label', 'rondo.test-image=bench', image])
    .toString()
    .trim();
  const ip =
    Object.values((await docker.getContainer(id).inspect()).NetworkSettings.Networks)[0]?.IPAddress ?? '';
  while ((await body(8080, 'x', '/', ip)) !== 'ok') await sleep(10);
  const ms = performance.now() - t0;
  await docker.getContainer(id).remove({ force: true });
  return ms;
}

export async function benchReleases(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-rel-'));
  const registry = await startRegistry(dir);
  const t = await startPlatformRondo('pglite', { drainMs: 0 });
  const base = '/api/v1/orgs/default/projects/bench/components/web';
  const call = async (method: string, url: string, b: unknown) => {
    const res = await t.call(method, url, { body: b });
    if (res.status >= 300) throw new Error(`${method} ${url}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  try {
    await buildMarkImage('rondo-bench-mark:1');
    const image = `${registry.addr}/bench/mark:1`;
    await pushToRegistry('rondo-bench-mark:1', image);
    await call('POST', '/api/v1/orgs/default/projects', { name: 'bench' });
    await call('POST', '/api/v1/orgs/default/projects/bench/components', {
      name: 'web',
      type: 'service',
      source: { image },
      endpoints: [{ port: 8080 }],
    });
    await call('PATCH', `${base}/config`, {
      environment: 'development',
      set: [{ key: 'MARK', value: 'dev-0' }],
    });
    await call('POST', `${base}/deployments`, { environment: 'development' });
    await untilBody(t.publicPort, 'development.localhost', '/default/bench/web/rest/cgi-bin/mark', 'dev-0');

    const floor: number[] = [];
    const runFloor: number[] = [];
    const promotion: number[] = [];
    const change: number[] = [];
    for (let i = 0; i <= 10; i++) {
      floor.push(await floorOnce(image));
      runFloor.push(await dockerRunFloor(image));
      // Production's config changes each round, so the new deployment's answer is recognizable.
      await call('PATCH', `${base}/config`, {
        environment: 'production',
        set: [{ key: 'MARK', value: `prod-${i}` }],
      });
      let t0 = performance.now();
      await call('POST', `${base}/promotions`, {});
      await untilBody(
        t.publicPort,
        'production.localhost',
        '/default/bench/web/rest/cgi-bin/mark',
        `prod-${i}`,
      );
      promotion.push(performance.now() - t0);

      t0 = performance.now();
      await call('PATCH', `${base}/config`, {
        environment: 'development',
        set: [{ key: 'MARK', value: `dev-${i + 1}` }],
      });
      await call('POST', `${base}/deployments`, { environment: 'development' });
      await untilBody(
        t.publicPort,
        'development.localhost',
        '/default/bench/web/rest/cgi-bin/mark',
        `dev-${i + 1}`,
      );
      change.push(performance.now() - t0);
      // Let the previous replicas stop before the next round measures.
      await sleep(1500);
    }
    // The first round creates production's network and starts it from nothing; report the next ten.
    const f = median(runFloor.slice(1));
    const api = median(floor.slice(1));
    const p = median(promotion.slice(1));
    const c = median(change.slice(1));
    const range = (xs: number[]) =>
      `min ${Math.min(...xs.slice(1)).toFixed(0)}, max ${Math.max(...xs.slice(1)).toFixed(0)}`;
    console.log(
      `promotion → first 200 of the new deployment   median ${p.toFixed(0)} ms (10 runs; ${range(promotion)})`,
    );
    console.log(
      `config set + deploy → first 200 with the value median ${c.toFixed(0)} ms (10 runs; ${range(change)})`,
    );
    console.log(`floor: \`docker run\` → first 200               median ${f.toFixed(0)} ms`);
    console.log(`promotion ratio                                ${(p / f).toFixed(2)}× (target ≤ 1.5×)`);
    console.log(`config change ratio                            ${(c / f).toFixed(2)}× (target ≤ 1.5×)`);
    console.log(`stricter floor: engine API create+start → 200  median ${api.toFixed(0)} ms`);
    console.log(
      `ratios to it                                   promotion ${(p / api).toFixed(2)}×, config change ${(c / api).toFixed(2)}×`,
    );
  } finally {
    await t.close();
    registry.stop();
    await removeImages('rondo-bench-mark:1', `${registry.addr}/bench/mark:1`);
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: ['rondo.test-image=bench'] },
    });
    await Promise.all(leftovers.map((x) => docker.getContainer(x.Id).remove({ force: true })));
    await docker
      .getImage('rondo-bench-mark:1')
      .remove({ force: true })
      .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
