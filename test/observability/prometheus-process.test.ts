import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRetention } from '../../src/observability/metrics/metrics-settings.js';
import { runningPid, startProcess, stopProcess } from '../../src/platform/processes.js';
import { prometheusProcess } from '../../src/platform/prometheus.js';
import { freePort } from '../helpers/platform.js';

/** The real Prometheus (Debian's), started the way `rondo up` starts it, scraping a stand-in control plane. */
describe('Prometheus as a platform part', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rondo-prometheus-'));
  let target: Server;
  let listen: string;
  let scrapes = 0;

  beforeAll(async () => {
    target = createServer((req, res) => {
      if (req.url !== '/metrics') return res.writeHead(404).end();
      scrapes++;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# TYPE stand_in_up gauge\nstand_in_up 1\n');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as { port: number }).port;
    listen = `127.0.0.1:${await freePort()}`;
    const part = prometheusProcess(
      dataDir,
      { listen, retention: '2d', retentionSeconds: parseRetention('2d'), scrapeIntervalSeconds: 1 },
      { controlPlane: `127.0.0.1:${port}`, gatewayMetrics: '127.0.0.1:1' },
    );
    await startProcess(dataDir, part);
  }, 60_000);

  afterAll(async () => {
    await stopProcess(dataDir, 'prometheus');
    target?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const query = async (promql: string) => {
    const res = await fetch(`http://${listen}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return body.data.result;
  };

  it('listens on loopback, keeps its samples under the data directory with the retention asked for', async () => {
    expect(runningPid(dataDir, 'prometheus')).toBeGreaterThan(0);
    const flags = (await (await fetch(`http://${listen}/api/v1/status/flags`)).json()) as {
      data: Record<string, string>;
    };
    expect(flags.data['storage.tsdb.path']).toBe(join(dataDir, 'metrics', 'data'));
    expect(flags.data['storage.tsdb.retention.time']).toBe('2d');
    expect(flags.data['web.listen-address']).toBe(listen);
  });

  it('scrapes the control plane and the gateway at the configured interval', async () => {
    const deadline = Date.now() + 20_000;
    let found = await query('stand_in_up');
    while (found.length === 0 && Date.now() < deadline) {
      await sleep(250);
      found = await query('stand_in_up');
    }
    expect(found[0]?.metric).toMatchObject({ job: 'rondo' });
    const before = scrapes;
    await sleep(2500);
    expect(scrapes - before).toBeGreaterThanOrEqual(2);
    // The gateway target is down here (nothing on port 1): Prometheus says so rather than failing.
    const gateway = await query('up{job="gateway"}');
    expect(gateway[0]?.value[1]).toBe('0');
  }, 30_000);
});
