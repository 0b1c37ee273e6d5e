import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxImage, TEST_IMAGE_LABEL } from '../helpers/images.js';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt } from '../helpers/processes.js';

const COMPONENT = '/api/v1/orgs/default/projects/shop/components/flaky';

/** A service that serves for three seconds, says why it gives up, and exits with 3. */
async function buildFlakyImage(): Promise<string> {
  const script = [
    'export PATH=/bin',
    '/bin/busybox --install -s /bin',
    'httpd -p 8080 -h /www',
    'sleep 3',
    'echo "ERROR database unreachable, giving up"',
    'exit 3',
    '',
  ].join('\n');
  return buildBusyboxImage(
    'rondo-test-flaky:v1',
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'COPY run.sh /run.sh',
      'COPY www /www',
      `LABEL ${TEST_IMAGE_LABEL}=1`,
      'ENTRYPOINT ["/bin/busybox", "sh", "/run.sh"]',
    ].join('\n'),
    { 'run.sh': script, 'www/index.html': 'ok' },
  );
}

interface Event {
  kind: string;
  message: string;
  deployment: string;
  environment: string;
}

describe('replica conditions (real engine)', () => {
  let t: PlatformTestRondo;
  let deployment: string;
  beforeAll(async () => {
    const image = await buildFlakyImage();
    t = await startPlatformRondo('pglite');
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'flaky', type: 'service', source: { image }, endpoints: [{ port: 8080 }] },
    });
    const d = await t.call('POST', `${COMPONENT}/deployments`, { body: { environment: 'development' } });
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });
    deployment = (await t.call('GET', `/api/v1/orgs/default/deployments/${d.body.id}`)).body.name;
  }, 120_000);
  afterAll(() => t?.close());

  it('records each crash with its exit code and last log lines, then the crash loop', async () => {
    let events: Event[] = [];
    const deadline = Date.now() + 60_000;
    while (!events.some((e) => e.kind === 'crash-loop') && Date.now() < deadline) {
      await sleep(500);
      events = (await t.call('GET', `${COMPONENT}/events?environment=development`)).body.items;
    }
    const crash = events.find((e) => e.kind === 'crash');
    expect(crash).toMatchObject({ deployment, environment: 'development' });
    expect(crash?.message).toMatch(
      /^replica 0 exited with code 3; last lines:\n {2}ERROR database unreachable, giving up/,
    );
    const loop = events.find((e) => e.kind === 'crash-loop');
    expect(loop?.message).toMatch(/^replica 0 exited with code 3 \(\d+ times in 10 minutes\)/);

    ensureBuilt();
    const env = cleanEnv({ RONDO_SERVER: t.apiUrl, RONDO_TOKEN: t.adminToken });
    const out = await cli(['events', 'flaky', '--project', 'shop', '--env', 'development'], env);
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/crash-loop: replica 0 exited with code 3/);
    expect(out.stdout).toMatch(/\n {6}ERROR database unreachable, giving up/);
    const missing = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/nope/events');
    expect(missing.status).toBe(404);
  });
});
