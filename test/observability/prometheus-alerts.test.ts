import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRetention } from '../../src/observability/metrics/metrics-settings.js';
import {
  alertingDir,
  alertmanagerProcess,
  alertRulesFile,
  receiverTokenFile,
} from '../../src/platform/alertmanager.js';
import { startProcess, stopProcess } from '../../src/platform/processes.js';
import { prometheusProcess } from '../../src/platform/prometheus.js';
import { createRondo, type Rondo } from '../../src/server.js';
import { startWebhookReceiver } from '../helpers/alert-receivers.js';
import { freePort } from '../helpers/platform.js';
import { injector, type TestRondo } from '../helpers/rondo.js';

const ALERTS = '/api/v1/orgs/default/projects/shop/components/api/alerts';
const BUCKETS = ['0.05', '0.1', '0.25', '0.5', '1', '+Inf'];

/**
 * The path of a latency alert through the real parts: Rondo writes the rule file, Debian's
 * Prometheus evaluates it over the gateway latency histogram, Debian's Alertmanager calls Rondo,
 * and Rondo records the history and sends the signed webhook. The histogram is served by a
 * stand-in for the gateway's series (the engine is not needed for this path).
 */
describe('latency alerts through Prometheus and Alertmanager', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rondo-alerting-'));
  const secret = 'whsec-latency-test-0123456789';
  let target: Server;
  let rondo: Rondo;
  let t: TestRondo;
  let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let prometheusListen: string;
  const series = { component: '', environment: '', slow: true, count: 0, slowCount: 0 };

  /** Each scrape: 20 more requests, answered in 0.4 s while slow, else in 0.02 s. */
  function histogram(): string {
    series.count += 20;
    if (series.slow) series.slowCount += 20;
    const labels = `org_id="o",project_id="p",component_id="${series.component}",environment_id="${series.environment}"`;
    const fast = series.count - series.slowCount;
    const lines = ['# TYPE rondo_gateway_request_duration_seconds histogram'];
    for (const le of BUCKETS) {
      const n = Number(le) >= 0.5 || le === '+Inf' ? series.count : fast;
      lines.push(`rondo_gateway_request_duration_seconds_bucket{${labels},le="${le}"} ${n}`);
    }
    lines.push(
      `rondo_gateway_request_duration_seconds_sum{${labels}} ${series.slowCount * 0.4 + fast * 0.02}`,
    );
    lines.push(`rondo_gateway_request_duration_seconds_count{${labels}} ${series.count}`);
    return `${lines.join('\n')}\n`;
  }

  beforeAll(async () => {
    hook = await startWebhookReceiver(secret);
    target = createServer((req, res) => {
      if (req.url !== '/metrics' || !series.component) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(histogram());
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetPort = (target.address() as { port: number }).port;
    prometheusListen = `127.0.0.1:${await freePort()}`;
    const alertmanagerListen = `127.0.0.1:${await freePort()}`;
    const rondoPort = await freePort();
    mkdirSync(alertingDir(dataDir), { recursive: true });
    writeFileSync(alertRulesFile(dataDir), '{"groups":[]}\n');
    rondo = await createRondo(
      {
        host: '127.0.0.1',
        port: rondoPort,
        dataDir: 'memory://',
        bootstrapOrg: 'default',
        bootstrapToken: 'rondo_test_alerting_admin_token',
        logLevel: 'silent',
        alerts: {
          evaluateMs: 500,
          deliverMs: 200,
          retryDelaysMs: [200, 200],
          prometheus: {
            rulesFile: alertRulesFile(dataDir),
            prometheusListen,
            receiverTokenFile: receiverTokenFile(dataDir),
          },
        },
      },
      pino({ level: process.env.RONDO_TEST_LOG ?? 'silent' }),
    );
    t = {
      rondo,
      adminToken: 'rondo_test_alerting_admin_token',
      call: injector(rondo, 'rondo_test_alerting_admin_token'),
      close: () => rondo.close(),
    };
    await startProcess(
      dataDir,
      prometheusProcess(
        dataDir,
        {
          listen: prometheusListen,
          retention: '2d',
          retentionSeconds: parseRetention('2d'),
          scrapeIntervalSeconds: 1,
        },
        {
          controlPlane: `127.0.0.1:${targetPort}`,
          gatewayMetrics: '127.0.0.1:1',
          alerting: { rulesFile: alertRulesFile(dataDir), alertmanager: alertmanagerListen },
        },
      ),
    );
    await startProcess(
      dataDir,
      alertmanagerProcess(dataDir, { listen: alertmanagerListen }, `127.0.0.1:${rondoPort}`),
    );
    await rondo.listen();
  }, 90_000);

  afterAll(async () => {
    await rondo?.close();
    await stopProcess(dataDir, 'alertmanager');
    await stopProcess(dataDir, 'prometheus');
    target?.close();
    await hook?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const history = async () =>
    (await t.call('GET', `${ALERTS}/history?rule=slow-api`)).body.items as {
      source: string;
      summary: string;
      resolvedAt: string | null;
    }[];

  async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${seconds} s`);
      await sleep(500);
    }
  }

  it('fires when p99 passes the threshold and resolves when it falls back, notifying a signed webhook', async () => {
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'api', type: 'service', source: { image: 'busybox:1' } },
    });
    const { db } = rondo.store;
    series.component = (
      await db.selectFrom('components').select('id').where('name', '=', 'api').executeTakeFirstOrThrow()
    ).id;
    series.environment = (
      await db
        .selectFrom('environments')
        .select('id')
        .where('name', '=', 'development')
        .executeTakeFirstOrThrow()
    ).id;
    const created = await t.call('POST', ALERTS, {
      body: {
        name: 'slow-api',
        environment: 'development',
        kind: 'latency',
        params: { percentile: 99, thresholdMs: 200, periodMinutes: 1 },
        webhook: { url: hook.url, secret },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.evaluatedBy).toBe('prometheus');

    // The rule reaches Prometheus' rule file, scoped to this component and environment.
    await until('the rule file', 15, async () =>
      readFileSync(alertRulesFile(dataDir), 'utf8').includes(series.component) ? true : undefined,
    );
    const rules = JSON.parse(readFileSync(alertRulesFile(dataDir), 'utf8'));
    expect(rules.groups[0].rules[0].expr).toContain(`environment_id="${series.environment}"`);

    const fired = await until('firing', 90, async () =>
      (await history()).find((i) => i.source === 'alertmanager'),
    );
    expect(fired.summary).toMatch(/^p99 latency \d+(\.\d)? ms over 1 min \(threshold 200 ms\)$/);
    expect(Number(/latency (\d+)/.exec(fired.summary)![1])).toBeGreaterThan(200);
    expect((await t.call('GET', `${ALERTS}/slow-api`)).body.state).toBe('firing');
    await until('the firing webhook', 20, async () => (hook.received.length >= 1 ? true : undefined));
    expect(hook.received[0]).toMatchObject({
      verified: true,
      body: { status: 'firing', rule: 'slow-api', kind: 'latency' },
    });

    // Fast answers only: once the slow ones leave the 1-minute window, p99 falls under 200 ms.
    series.slow = false;
    const resolved = await until('resolution', 150, async () => {
      const [i] = await history();
      return i?.resolvedAt ? i : undefined;
    });
    expect(resolved.source).toBe('alertmanager');
    await until('the resolved webhook', 20, async () => (hook.received.length >= 2 ? true : undefined));
    expect(hook.received.map((r) => [r.body.status, r.verified])).toEqual([
      ['firing', true],
      ['resolved', true],
    ]);
  }, 300_000);

  it('answers Alertmanager’s hook only with the receiver token', async () => {
    const { port } = new URL(`http://127.0.0.1:${(rondo.api.server.address() as { port: number }).port}`);
    const forged = await fetch(`http://127.0.0.1:${port}/hooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer guessed' },
      body: JSON.stringify({ alerts: [] }),
    });
    expect(forged.status).toBe(401);
    const token = readFileSync(receiverTokenFile(dataDir), 'utf8').trim();
    const bad = await fetch(`http://127.0.0.1:${port}/hooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ alerts: 'no' }),
    });
    expect(bad.status).toBe(400);
  });
});
