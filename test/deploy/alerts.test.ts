import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookReceiver } from '../helpers/alert-receivers.js';
import { buildBusyboxImage, TEST_IMAGE_LABEL } from '../helpers/images.js';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';

const PROJECT = '/api/v1/orgs/default/projects/shop';

/** A busybox service running `script` (httpd serves /www on 8080). */
function busyboxService(tag: string, script: string[]): Promise<string> {
  return buildBusyboxImage(
    tag,
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'COPY run.sh /run.sh',
      'COPY www /www',
      `LABEL ${TEST_IMAGE_LABEL}=1`,
      'ENTRYPOINT ["/bin/busybox", "sh", "/run.sh"]',
    ].join('\n'),
    {
      'run.sh': ['export PATH=/bin', '/bin/busybox --install -s /bin', ...script, ''].join('\n'),
      'www/index.html': 'ok',
    },
  );
}

interface Incident {
  rule: string;
  source: string;
  summary: string;
  resolvedAt: string | null;
}

/**
 * Alerts Rondo evaluates, on the real engine: a log phrase a replica prints (collected by the log
 * collector) and a crash (recorded by the replica conditions) fire to a webhook that checks the
 * signature; the log alert resolves once the phrase is out of its interval.
 */
describe('alerts from real replicas (real engine)', () => {
  const secret = 'whsec-engine-alerts-0123456789';
  let t: PlatformTestRondo;
  let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;

  const history = async (component: string): Promise<Incident[]> =>
    (await t.call('GET', `${PROJECT}/components/${component}/alerts/history`)).body.items;
  async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      await t.rondo.alerts.evaluator.evaluate();
      await t.rondo.alerts.notifier.deliverDue();
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${seconds} s`);
      await sleep(500);
    }
  }

  beforeAll(async () => {
    hook = await startWebhookReceiver(secret);
    const steady = await busyboxService('rondo-test-alerts-steady:v1', [
      'echo "ERROR payment FAILED for order 42"',
      'exec httpd -f -p 8080 -h /www',
    ]);
    const flaky = await busyboxService('rondo-test-alerts-flaky:v1', [
      'httpd -p 8080 -h /www',
      'sleep 3',
      'echo "ERROR database unreachable, giving up"',
      'exit 3',
    ]);
    t = await startPlatformRondo('pglite');
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    for (const [name, image] of [
      ['payments', steady],
      ['flaky', flaky],
    ] as const)
      await t.call('POST', `${PROJECT}/components`, {
        body: { name, type: 'service', source: { image }, endpoints: [{ port: 8080 }] },
      });
    const webhook = { url: hook.url, secret };
    const rules: [string, unknown][] = [
      [
        'payments',
        {
          name: 'payment-failures',
          environment: 'development',
          kind: 'log',
          params: { phrase: 'payment failed', count: 1, intervalMinutes: 1 },
          webhook,
        },
      ],
      [
        'flaky',
        {
          name: 'crashes',
          environment: 'development',
          kind: 'system',
          params: { events: ['crash'] },
          webhook,
        },
      ],
    ];
    for (const [component, body] of rules)
      expect((await t.call('POST', `${PROJECT}/components/${component}/alerts`, { body })).status).toBe(201);
    for (const component of ['payments', 'flaky']) {
      const d = await t.call('POST', `${PROJECT}/components/${component}/deployments`, {
        body: { environment: 'development' },
      });
      expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
        status: 'active',
        reason: null,
      });
    }
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    await hook?.close();
  });

  it('fires a crash alert when a replica crashes', async () => {
    const fired = await until('the crash alert', 60, async () => (await history('flaky'))[0]);
    expect(fired).toMatchObject({ rule: 'crashes', source: 'rondo' });
    expect(fired.summary).toMatch(/^crash(-loop)? in deployment \S+: replica 0 exited with code 3/);
    await until('its webhook', 20, async () =>
      hook.received.find((r) => r.body.rule === 'crashes') ? true : undefined,
    );
    const delivery = hook.received.find((r) => r.body.rule === 'crashes')!;
    expect(delivery.verified).toBe(true);
    expect(delivery.body).toMatchObject({ status: 'firing', component: 'flaky', environment: 'development' });
  }, 90_000);

  it('fires a log-phrase alert from what a replica printed, and resolves it after the interval', async () => {
    const fired = await until('the log alert', 60, async () => (await history('payments'))[0]);
    expect(fired.summary).toMatch(/^'payment failed' in 1\+ log lines in the last 1 min/);
    const resolved = await until('the resolution', 120, async () => {
      const [i] = await history('payments');
      return i?.resolvedAt ? i : undefined;
    });
    expect(resolved.rule).toBe('payment-failures');
    await until('both webhooks', 20, async () =>
      hook.received.filter((r) => r.body.rule === 'payment-failures').length === 2 ? true : undefined,
    );
    const sent = hook.received.filter((r) => r.body.rule === 'payment-failures');
    expect(sent.map((r) => [r.body.status, r.verified])).toEqual([
      ['firing', true],
      ['resolved', true],
    ]);
  }, 180_000);
});
