import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertEvaluator } from '../../src/observability/alert-evaluator.js';
import { createRondo } from '../../src/server.js';
import { startSmtpServer, startWebhookReceiver } from '../helpers/alert-receivers.js';
import { injector, type TestRondo, userWithRole } from '../helpers/rondo.js';
import { createTestDatabase, DRIVERS, snapshot } from '../helpers/stores.js';

const COMPONENT = '/api/v1/orgs/default/projects/shop/components/api';
const ALERTS = `${COMPONENT}/alerts`;

describe.each(DRIVERS)('alert rules, Rondo’s evaluation and notifications (%s)', (driver) => {
  // A planted secret: it must never show in answers, logs or the database.
  const secret = `whsec-planted-${randomBytes(12).toString('hex')}`;
  const logLines: string[] = [];
  let t: TestRondo;
  let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let drop: (() => Promise<void>) | undefined;
  let ids: { org: string; component: string; env: string };

  const evaluate = () => t.rondo.alerts.evaluator.evaluate();
  /** Sends what is due until nothing is left pending (retries wait 100 ms here). */
  async function deliverAll(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      await t.rondo.alerts.notifier.deliverDue();
      const pending = await t.rondo.store.db
        .selectFrom('alert_notifications')
        .select('id')
        .where('status', '=', 'pending')
        .execute();
      if (pending.length === 0) return;
      await sleep(60);
    }
    throw new Error('notifications still pending');
  }
  const history = async (rule: string) =>
    (await t.call('GET', `${ALERTS}/history?rule=${rule}`)).body.items as {
      firedAt: string;
      resolvedAt: string | null;
      resolution: string | null;
      summary: string;
      source: string;
      notifications: { transition: string; channel: string; status: string; attempts: { ok: boolean }[] }[];
    }[];

  beforeAll(async () => {
    hook = await startWebhookReceiver(secret, 1);
    smtp = await startSmtpServer();
    const pgdb = driver === 'postgres' ? await createTestDatabase() : undefined;
    drop = pgdb?.drop;
    const adminToken = `rondo_test_${randomBytes(8).toString('hex')}_admin_token`;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    });
    const rondo = await createRondo(
      {
        host: '127.0.0.1',
        port: 0,
        dataDir: 'memory://',
        ...(pgdb ? { databaseUrl: pgdb.url } : {}),
        bootstrapOrg: 'default',
        bootstrapToken: adminToken,
        logLevel: 'debug',
        alerts: {
          smtp: { host: '127.0.0.1', port: smtp.port, from: 'rondo@example.test' },
          retryDelaysMs: [100, 100],
        },
      },
      pino({ level: 'debug' }, sink),
    );
    t = {
      rondo,
      adminToken,
      call: injector(rondo, adminToken),
      close: () => rondo.close(),
    };
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'api', type: 'service', source: { image: 'busybox:1' } },
    });
    const { db } = rondo.store;
    const c = await db
      .selectFrom('components')
      .select(['id', 'org_id'])
      .where('name', '=', 'api')
      .executeTakeFirstOrThrow();
    const e = await db
      .selectFrom('environments')
      .select('id')
      .where('name', '=', 'development')
      .executeTakeFirstOrThrow();
    ids = { org: c.org_id, component: c.id, env: e.id };
    await db
      .insertInto('deployments')
      .values({
        id: 'dep_alerts',
        org_id: ids.org,
        component_id: ids.component,
        environment_id: ids.env,
        status: 'active',
        spec: JSON.stringify({ image: 'busybox', replicas: 1, endpoints: [], env: {} }),
        name: '20261130-1.0.1',
      })
      .execute();
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
    await hook?.close();
    await smtp?.close();
  });

  it('fires a log-phrase alert to a signed webhook (retried) and by email, and resolves it', async () => {
    // An evaluator of its own with a clock the test moves: its passes read only the lines stored
    // since the last one, so the lines age out by time passing, as they do in production.
    let clock = new Date();
    const phrases = new AlertEvaluator({
      store: t.rondo.store,
      logger: pino({ level: 'silent' }),
      now: () => clock,
    });
    const evaluate = () => phrases.evaluate();
    const created = await t.call('POST', ALERTS, {
      body: {
        name: 'payment-errors',
        environment: 'development',
        kind: 'log',
        params: { phrase: 'payment FAILED', count: 2, intervalMinutes: 5 },
        webhook: { url: hook.url, secret },
        emails: ['oncall@example.test'],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'payment-errors',
      kind: 'log',
      params: { phrase: 'payment FAILED', count: 2, intervalMinutes: 5 },
      state: 'ok',
      evaluatedBy: 'rondo',
      webhook: { url: hook.url },
    });
    const nowUs = BigInt(Date.now()) * 1000n;
    const line = (message: string, ago: bigint) => ({
      org_id: ids.org,
      component_id: ids.component,
      environment_id: ids.env,
      deployment_id: 'dep_alerts',
      deployment: '20261130-1.0.1',
      replica: '0',
      at_us: (nowUs - ago).toString(),
      stream: 'stdout',
      level: 'error',
      message,
    });
    const { db } = t.rondo.store;
    await t.rondo.store.logs.db
      .insertInto('runtime_logs')
      .values([line('ERROR payment failed: card declined', 1000n)])
      .execute();
    await evaluate();
    expect((await t.call('GET', `${ALERTS}/payment-errors`)).body.state).toBe('ok');
    // A `%` in a line is text; the second matching line reaches the threshold.
    await t.rondo.store.logs.db
      .insertInto('runtime_logs')
      .values([line('100% PAYMENT FAILED again', 500n)])
      .execute();
    await evaluate();
    expect((await t.call('GET', `${ALERTS}/payment-errors`)).body.state).toBe('firing');
    await deliverAll();
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.verified).toBe(true);
    expect(hook.received[0]!.body).toMatchObject({
      status: 'firing',
      rule: 'payment-errors',
      kind: 'log',
      project: 'shop',
      component: 'api',
      environment: 'development',
    });
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]!.to).toEqual(['oncall@example.test']);
    expect(smtp.mails[0]!.data).toMatch(/Subject: \[Rondo FIRING\] payment-errors/);

    // 4 minutes later the lines are still in the interval; at 10 minutes they have aged out:
    // resolved, and both channels told.
    clock = new Date(Date.now() + 4 * 60_000);
    await evaluate();
    expect((await t.call('GET', `${ALERTS}/payment-errors`)).body.state).toBe('firing');
    clock = new Date(Date.now() + 10 * 60_000);
    await evaluate();
    // The resolution was decided on the moved clock, so its notifications fall due then: due now.
    await db
      .updateTable('alert_notifications')
      .set({ next_attempt_at: new Date() })
      .where('status', '=', 'pending')
      .execute();
    await deliverAll();
    const [incident] = await history('payment-errors');
    expect(incident!.resolvedAt).not.toBeNull();
    expect(incident!.source).toBe('rondo');
    expect(incident!.summary).toMatch(/payment FAILED/);
    expect(hook.received.map((r) => [r.body.status, r.verified])).toEqual([
      ['firing', true],
      ['resolved', true],
    ]);
    expect(smtp.mails[1]!.data).toMatch(/RESOLVED/);
    // The webhook's first attempt got a 500 and was retried; every attempt is recorded.
    const fired = incident!.notifications.find((n) => n.transition === 'fired' && n.channel === 'webhook')!;
    expect(fired.status).toBe('delivered');
    expect(fired.attempts.map((a) => a.ok)).toEqual([false, true]);
    // The later tests evaluate on the real clock, where these lines are still recent.
    await t.rondo.store.logs.db
      .deleteFrom('runtime_logs')
      .where('component_id', '=', ids.component)
      .execute();
  });

  it('fires a system alert on an OOM kill and a build-failure alert until a build succeeds', async () => {
    const { db } = t.rondo.store;
    for (const body of [
      { name: 'oom', environment: 'development', kind: 'system', params: { events: ['oom'] } },
      { name: 'builds', environment: 'development', kind: 'build-failure' },
    ])
      expect((await t.call('POST', ALERTS, { body })).status).toBe(201);
    await sleep(5);
    // A crash alone does not fire an OOM rule.
    await db
      .insertInto('deployment_events')
      .values({ deployment_id: 'dep_alerts', kind: 'crash', message: 'replica 0 exited with code 1' })
      .execute();
    await evaluate();
    expect((await t.call('GET', `${ALERTS}/oom`)).body.state).toBe('ok');
    await db
      .insertInto('deployment_events')
      .values({
        deployment_id: 'dep_alerts',
        kind: 'oom-killed',
        message: 'replica 0 was killed for exceeding its memory limit (exit code 137)',
      })
      .execute();
    const build = (id: string, status: string) => ({
      id,
      org_id: ids.org,
      component_id: ids.component,
      commit: 'c'.repeat(40),
      requested_ref: 'branch:main',
      config_hash: 'h',
      status,
      steps: '[]',
      reason: status === 'failed' ? 'build: RUN npm ci exited with code 1' : null,
      created_by: 'admin',
      finished_at: new Date(),
    });
    await db.insertInto('builds').values(build('bld_bad', 'failed')).execute();
    await evaluate();
    const oom = (await history('oom'))[0]!;
    expect(oom.summary).toMatch(/oom-killed in deployment 20261130-1\.0\.1/);
    expect(oom.resolvedAt).toBeNull();
    const failed = (await history('builds'))[0]!;
    expect(failed.summary).toMatch(/bld_bad of commit cccccccccccc failed: build: RUN npm ci/);
    await sleep(5);
    await db.insertInto('builds').values(build('bld_good', 'succeeded')).execute();
    await evaluate();
    expect((await history('builds'))[0]!.resolvedAt).not.toBeNull();
    // Status codes: exact codes from the gateway's access log, counted within the interval.
    expect(
      (
        await t.call('POST', ALERTS, {
          body: {
            name: 'bad-gateway',
            environment: 'development',
            kind: 'status-code',
            params: { codes: [502, 503], count: 3, intervalMinutes: 5 },
          },
        })
      ).body.evaluatedBy,
    ).toBe('rondo');
    const request = (status: number) => ({
      org_id: ids.org,
      component_id: ids.component,
      environment_id: ids.env,
      at_us: (BigInt(Date.now()) * 1000n).toString(),
      method: 'GET',
      path: '/',
      status,
      outcome: 'BACKEND_RESPONSE',
      duration_ms: 1,
      bytes: 0,
      request_id: `r${status}`,
    });
    await t.rondo.store.logs.db
      .insertInto('gateway_requests')
      .values([request(502), request(500), request(503)])
      .execute();
    await evaluate();
    expect((await t.call('GET', `${ALERTS}/bad-gateway`)).body.state).toBe('ok');
    await t.rondo.store.logs.db
      .insertInto('gateway_requests')
      .values([request(502)])
      .execute();
    await evaluate();
    expect((await history('bad-gateway'))[0]!.summary).toMatch(
      /^3\+ answers with 502, 503 in the last 5 min/,
    );
    // Disabling a firing rule resolves it.
    const off = await t.call('PATCH', `${ALERTS}/oom`, { body: { enabled: false } });
    expect(off.body).toMatchObject({ enabled: false, state: 'ok' });
    expect((await history('oom'))[0]!.resolution).toBe('the rule was disabled');
  });

  it('refuses an 11th rule (409), non-http(s) webhooks and bad params (400), changing nothing', async () => {
    const before = await snapshot(t.rondo.store);
    for (const url of [
      'ftp://hooks.example.test/x',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'https://user:pw@example.test/',
    ]) {
      const r = await t.call('POST', ALERTS, {
        body: {
          name: 'bad-hook',
          environment: 'development',
          kind: 'build-failure',
          webhook: { url, secret },
        },
      });
      expect(r.status).toBe(400);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toEqual(['webhook.url']);
      expect(JSON.stringify(r.body)).not.toContain(secret);
    }
    const bad = await t.call('POST', ALERTS, {
      body: {
        name: 'slow',
        environment: 'development',
        kind: 'latency',
        params: { percentile: 42, thresholdMs: -1 },
        emails: ['not-an-address'],
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'emails.0',
      'params.percentile',
      'params.thresholdMs',
    ]);
    expect(
      (
        await t.call('POST', ALERTS, {
          body: { name: 'history', environment: 'development', kind: 'build-failure' },
        })
      ).status,
    ).toBe(400);
    expect(
      (await t.call('POST', ALERTS, { body: { name: 'x', environment: 'nowhere', kind: 'build-failure' } }))
        .status,
    ).toBe(404);
    expect(await snapshot(t.rondo.store)).toBe(before);

    const existing = (await t.call('GET', ALERTS)).body.items.length as number;
    for (let i = existing; i < 10; i++)
      expect(
        (
          await t.call('POST', ALERTS, {
            body: {
              name: `traffic-${i}`,
              environment: 'development',
              kind: 'traffic',
              params: { requestsPerMinute: 100 },
            },
          })
        ).status,
      ).toBe(201);
    const full = await snapshot(t.rondo.store);
    const eleventh = await t.call('POST', ALERTS, {
      body: { name: 'one-more', environment: 'development', kind: 'build-failure' },
    });
    expect(eleventh.status).toBe(409);
    expect(eleventh.body.code).toBe('RONDO_ERR_CONFLICT_LIMIT');
    expect(await snapshot(t.rondo.store)).toBe(full);
    expect((await t.call('DELETE', `${ALERTS}/traffic-9`)).status).toBe(204);
    expect((await t.call('GET', `${ALERTS}/traffic-9`)).status).toBe(404);
  });

  it('answers 404 to another organization and 403 to a viewer’s change', async () => {
    await t.call('POST', '/api/v1/orgs', { body: { name: 'rival' } });
    await t.call('POST', '/api/v1/users', { body: { name: 'otto' } });
    await t.call('PUT', '/api/v1/orgs/rival/members/otto', { body: { role: 'admin' } });
    const outsider = (await t.call('POST', '/api/v1/users/otto/tokens', { body: { name: 't' } })).body.token;
    expect((await t.call('GET', ALERTS, { token: outsider })).status).toBe(404);
    expect((await t.call('GET', `${ALERTS}/history`, { token: outsider })).status).toBe(404);
    expect((await t.call('DELETE', `${ALERTS}/payment-errors`, { token: outsider })).status).toBe(404);
    expect(
      (await t.call('GET', '/api/v1/orgs/rival/projects/shop/components/api/alerts', { token: outsider }))
        .status,
    ).toBe(404);
    const viewer = await userWithRole(t, 'vic', 'viewer');
    expect((await t.call('GET', ALERTS, { token: viewer })).status).toBe(200);
    expect(
      (await t.call('PATCH', `${ALERTS}/payment-errors`, { token: viewer, body: { enabled: false } })).status,
    ).toBe(403);
  });

  it('never shows the webhook secret: not in answers, logs or the database', async () => {
    const answers = [
      await t.call('GET', ALERTS),
      await t.call('GET', `${ALERTS}/payment-errors`),
      await t.call('GET', `${ALERTS}/history`),
      await t.call('GET', '/api/v1/openapi.json'),
    ];
    for (const a of answers) expect(JSON.stringify(a.body)).not.toContain(secret);
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.join('')).not.toContain(secret);
    const db = await snapshot(t.rondo.store);
    expect(db).toContain('payment-errors');
    expect(db).not.toContain(secret);
    expect(db).not.toContain(Buffer.from(secret).toString('base64'));
    // Deleting the rule deletes its encrypted secret; its history stays.
    const valueId = (
      await t.rondo.store.db
        .selectFrom('alert_rules')
        .select('webhook_secret_value_id')
        .where('name', '=', 'payment-errors')
        .executeTakeFirstOrThrow()
    ).webhook_secret_value_id!;
    expect((await t.call('DELETE', `${ALERTS}/payment-errors`)).status).toBe(204);
    expect(
      await t.rondo.store.db
        .selectFrom('config_values')
        .select('id')
        .where('id', '=', valueId)
        .executeTakeFirst(),
    ).toBeUndefined();
    expect(await history('payment-errors')).toHaveLength(1);
  });
});
