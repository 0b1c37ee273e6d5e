import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDirectory } from '../../src/api/console.js';
import { type MetricsSettings, parseRetention } from '../../src/observability/metrics/metrics-settings.js';
import { startProcess, stopProcess } from '../../src/platform/processes.js';
import { prometheusProcess } from '../../src/platform/prometheus.js';
import { launchBrowser, screenshot, seriousViolations, type TestBrowser } from '../console/browser.js';
import { createRepo } from '../helpers/git.js';
import { buildTaskImage, buildWebImage } from '../helpers/images.js';
import {
  freePort,
  type PlatformTestRondo,
  startPlatformRondo,
  startRegistry,
  waitForDeployment,
} from '../helpers/platform.js';
import { userWithRole } from '../helpers/rondo.js';

const BUSYBOX = execFileSync('sh', ['-c', 'command -v busybox']).toString().trim();
const DOCKERFILE =
  'FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nUSER 10014\nENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n';
const DESCRIPTOR =
  'schemaVersion: 1.2\nendpoints:\n  - name: site\n    service: { basePath: /, port: 8080 }\n    type: REST\n    networkVisibilities: [Public]\n';

/**
 * The console in Chromium against the real data plane: deploy an image component to
 * development, open the URL its card shows, promote to production, redeploy and roll back; build
 * a Git component and follow its log to the end, then deploy the build.
 */
describe('the console deploys, promotes and rolls back', () => {
  let t: PlatformTestRondo;
  let browser: TestBrowser;
  let context: BrowserContext;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'rondo-console-'));
  let registry: Awaited<ReturnType<typeof startRegistry>>;

  beforeAll(async () => {
    if (!consoleDirectory()) throw new Error('the console is not built: run `npm run build` first');
    await buildWebImage('rondo-test-web:v1', { body: 'hello v1' });
    await buildTaskImage('rondo-test-task:v1');
    registry = await startRegistry(dir);
    // The real Prometheus, as `rondo up` starts it, so the Observability tab has metrics to draw.
    const metrics: MetricsSettings = {
      listen: `127.0.0.1:${await freePort()}`,
      retention: '1d',
      retentionSeconds: parseRetention('1d'),
      scrapeIntervalSeconds: 1,
      sampleMs: 500,
    };
    t = await startPlatformRondo('pglite', {}, { registry: registry.addr, metrics });
    await startProcess(
      dir,
      prometheusProcess(dir, metrics, {
        controlPlane: new URL(t.apiUrl).host,
        gatewayMetrics: t.platform.gateway.metricsListen,
      }),
    );
    const repo = createRepo(join(dir, 'repo'));
    mkdirSync(join(dir, 'repo', 'www'), { recursive: true });
    copyFileSync(BUSYBOX, join(dir, 'repo', 'busybox'));
    repo.commit({
      Dockerfile: DOCKERFILE,
      'www/index.html': 'built by the console',
      '.rondo/component.yaml': DESCRIPTOR,
    });
    expect((await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } })).status).toBe(
      201,
    );
    browser = await launchBrowser();
    context = await browser.context();
    page = await context.newPage();
    await page.goto(`${t.apiUrl}/orgs/default/projects/shop`);
    await page.getByLabel('Personal access token').fill(t.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'shop' }).waitFor();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stopProcess(dir, 'prometheus').catch(() => undefined);
    await t?.close();
    registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const card = (env: string) =>
    page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: env }) });

  it('creates an image component and deploys it to development; the URL on the card answers', async () => {
    await page.getByLabel('Name').fill('web');
    await page.getByLabel('Container image').check();
    await page.getByLabel('Image', { exact: true }).fill('rondo-test-web:v1');
    await page.getByLabel('Endpoint port').fill('8080');
    await page.getByRole('button', { name: 'Create component' }).click();
    await page.getByRole('link', { name: 'Deploy' }).click();
    await page.waitForURL('**/components/web/deploy');

    await card('development').getByRole('button', { name: 'Deploy' }).click();
    await card('development').getByText('active', { exact: true }).waitFor({ timeout: 60_000 });
    const link = card('development').getByRole('link', { name: /development\.localhost/ });
    const url = await link.getAttribute('href');
    expect(url).toMatch(/^http:\/\/development\.localhost:\d+\/default\/shop\/web\//);
    expect(await card('development').textContent()).toContain('rondo-test-web');
    await screenshot(page, 'deploy-active');
    expect(await seriousViolations(page)).toEqual([]);

    const app = await context.newPage();
    await app.goto(url!);
    expect(await app.textContent('body')).toContain('hello v1');
    await app.close();

    // The organization page counts it as active in development.
    await page.goto(`${t.apiUrl}/orgs/default`);
    const shop = page.getByRole('row', { name: /shop/ });
    await shop.getByText('development: 1 active').waitFor();
    expect(await shop.textContent()).toContain('production: 1 not deployed');
    await page.goto(`${t.apiUrl}/orgs/default/projects/shop/components/web/deploy`);
    await card('development').getByText('active', { exact: true }).waitFor();
  }, 120_000);

  it('promotes to production and shows the release on both cards', async () => {
    await card('development').getByRole('button', { name: 'Promote to production' }).click();
    await card('production').getByText('active', { exact: true }).waitFor({ timeout: 60_000 });
    const status = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/status');
    const [dev, prod] = ['development', 'production'].map((e) =>
      status.body.items.find((i: { environment: string }) => i.environment === e),
    );
    expect(prod.active.release).toBe(dev.active.release);
    expect(await card('production').textContent()).toContain(prod.active.release);
  }, 120_000);

  it('redeploys development, then rolls it back', async () => {
    await card('development').getByRole('button', { name: 'Redeploy' }).click();
    await card('development').getByText('Redeploying development.').waitFor();
    await card('development').getByRole('button', { name: 'Roll back' }).waitFor();
    await expect
      .poll(async () => await card('development').getByRole('button', { name: 'Roll back' }).isEnabled(), {
        timeout: 60_000,
      })
      .toBe(true);
    await card('development').getByRole('button', { name: 'Roll back' }).click();
    await card('development').getByText('Rolling development back.').waitFor();
    await expect
      .poll(
        async () => {
          const status = await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/status');
          const dev = status.body.items.find((i: { environment: string }) => i.environment === 'development');
          return `${dev.active?.action}:${dev.active?.status}`;
        },
        { timeout: 60_000 },
      )
      .toBe('rollback:active');
    await screenshot(page, 'deploy-rolled-back');

    // The history lists every deployment with what it changed; any superseded one can be rolled back to.
    const history = page.getByRole('region', { name: 'Deployment history' });
    await history.getByRole('cell', { name: 'rollback', exact: true }).waitFor();
    const count = async () =>
      (await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/deployments')).body.items
        .length;
    const before = await count();
    await history
      .getByRole('button', { name: /^Roll development back to / })
      .first()
      .click();
    await expect.poll(count, { timeout: 30_000 }).toBe(before + 1);
    expect(await seriousViolations(page)).toEqual([]);
  }, 120_000);

  it('compares two chosen deployments: the configuration keys a deploy added', async () => {
    const C = '/api/v1/orgs/default/projects/shop/components/web';
    const dev = async () =>
      (await t.call('GET', `${C}/status`)).body.items.find(
        (i: { environment: string }) => i.environment === 'development',
      );
    // The rollback the previous step asked for has ended: nothing is rolling out.
    const settled = async () => {
      const d = await dev();
      return d.active !== null && d.latest.id === d.active.id;
    };
    await expect.poll(settled, { timeout: 60_000 }).toBe(true);
    const before = (await dev()).active.id;
    const set = await t.call('PATCH', `${C}/config`, {
      body: { set: [{ key: 'GREETING', value: 'hi' }], environment: 'development' },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    // The card says the configuration changed (pushed by the status stream, no reload).
    await card('development')
      .getByText('Configuration changed since this deployment')
      .waitFor({ timeout: 30_000 });
    // Deploy takes the pending configuration (a redeploy keeps the frozen one).
    await card('development').getByRole('button', { name: 'Deploy', exact: true }).click();
    await expect
      .poll(async () => (await settled()) && (await dev()).active.id !== before, { timeout: 60_000 })
      .toBe(true);
    const after = (await dev()).active.id;
    expect((await dev()).active.action).toBe('deploy');

    const compare = page.getByRole('region', { name: 'Compare two deployments' });
    await expect
      .poll(() => compare.getByLabel('From').locator(`option[value="${after}"]`).count(), {
        timeout: 30_000,
      })
      .toBe(1);
    await compare.getByLabel('From').selectOption(before);
    await compare.getByLabel('To').selectOption(after);
    await compare.getByRole('button', { name: 'Compare' }).click();
    const diff = compare.getByRole('table', { name: 'Differences' });
    await diff.waitFor();
    expect((await diff.getByRole('row', { name: /Configuration keys/ }).textContent()) ?? '').toContain(
      'added: GREETING',
    );
    expect((await diff.getByRole('row', { name: /^Image/ }).textContent()) ?? '').toMatch(/no$/);
    // The same release: the descriptor did not change.
    expect((await diff.getByRole('row', { name: /^Descriptor/ }).textContent()) ?? '').toMatch(/no$/);
    await screenshot(page, 'deploy-compare');
    expect(await seriousViolations(page)).toEqual([]);
  }, 120_000);

  it('builds a Git component, follows the log to its end, and deploys the build', async () => {
    await page.getByRole('link', { name: 'shop', exact: true }).click();
    await page.getByLabel('Name', { exact: true }).fill('site');
    await page.getByLabel('Repository URL').fill(`file://${join(dir, 'repo')}`);
    await page.getByLabel('Build config dockerFilePath').fill('Dockerfile');
    await page.getByRole('button', { name: 'Create component' }).click();
    await page.waitForURL('**/components/site/build');
    await page.getByText('No builds yet').waitFor();

    await page.getByRole('button', { name: 'Build', exact: true }).click();
    await page.waitForURL(/\/orgs\/default\/builds\//);
    const log = page.getByRole('region', { name: 'Build log' });
    await log.getByText('--- init').waitFor();
    // The followed log ends when the build does; the page then shows the final state.
    await log.getByText('--- succeeded').waitFor({ timeout: 180_000 });
    await page.getByRole('heading', { name: /succeeded/ }).waitFor();
    expect(await page.getByRole('listitem').filter({ hasText: 'push' }).textContent()).toContain('succeeded');
    await screenshot(page, 'build-details');
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole('link', { name: 'site', exact: true }).click();
    await page.getByRole('cell', { name: 'succeeded' }).waitFor();
    await page.getByRole('link', { name: 'Deploy' }).click();
    await card('development').getByRole('button', { name: 'Deploy' }).click();
    await card('development').getByText('active', { exact: true }).waitFor({ timeout: 60_000 });
    const url = await card('development')
      .getByRole('link', { name: /development\.localhost/ })
      .getAttribute('href');
    const app = await context.newPage();
    await app.goto(url!);
    expect(await app.textContent('body')).toContain('built by the console');
    await app.close();
  }, 240_000);

  it('promotes into production through an approval given by a second user in a second browser', async () => {
    const reviewerToken = await userWithRole(t, 'reviewer', 'developer');
    const policy = await t.call('PUT', '/api/v1/orgs/default/environments/production/approval-policy', {
      body: { users: ['reviewer'], required: 1 },
    });
    expect(policy.status).toBe(200);

    await card('development').getByRole('button', { name: 'Promote to production' }).click();
    const notice = card('production').getByRole('region', { name: 'Approval request for production' });
    await notice.getByText('waits for approval (0/1)').waitFor();
    expect(await card('production').textContent()).toContain('Nothing deployed here yet');
    await screenshot(page, 'approval-waiting');

    const second = await browser.context();
    const reviewer = await second.newPage();
    await reviewer.goto(`${t.apiUrl}/orgs/default/projects/shop/components/site/deploy`);
    await reviewer.getByLabel('Personal access token').fill(reviewerToken);
    await reviewer.getByRole('button', { name: 'Sign in' }).click();
    const theirCard = reviewer
      .getByRole('listitem')
      .filter({ has: reviewer.getByRole('heading', { name: 'production' }) });
    await theirCard.getByRole('button', { name: 'Approve' }).click();
    await theirCard.getByText('active', { exact: true }).waitFor({ timeout: 60_000 });
    expect(await seriousViolations(reviewer)).toEqual([]);
    await second.close();

    // The requester's page learns of the decision by itself: the status stream pushes the
    // production rollout, and with it the approval requests are read again (no reload).
    await card('production').getByText('active', { exact: true }).waitFor({ timeout: 60_000 });
    await expect.poll(() => card('production').getByRole('region').count(), { timeout: 30_000 }).toBe(0);
  }, 180_000);

  it('runs a manual task with arguments and reads its output', async () => {
    const P = '/api/v1/orgs/default/projects/shop/components';
    const job = await t.call('POST', P, {
      body: { name: 'job', type: 'manual-task', source: { image: 'rondo-test-task:v1' } },
    });
    expect(job.status).toBe(201);
    const d = await t.call('POST', `${P}/job/deployments`, { body: { environment: 'development' } });
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });

    await page.goto(`${t.apiUrl}/orgs/default/projects/shop/components/job/tasks`);
    await page.getByText('No executions yet').waitFor();
    await page.getByLabel('Arguments').fill('hello\nconsole world');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/orgs\/default\/executions\//);
    const output = page.getByRole('region', { name: 'Execution output' });
    await output.getByText('task says: hello console world').waitFor({ timeout: 60_000 });
    await page.getByRole('heading', { name: /succeeded/ }).waitFor({ timeout: 60_000 });
    expect(await page.getByText('["hello","console world"]').count()).toBe(1);
    await screenshot(page, 'execution');
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole('link', { name: 'job', exact: true }).click();
    await page.getByText('Last 30 days: 1 succeeded').waitFor();
    await expect.poll(() => page.getByRole('row').count()).toBe(2);
    // A run someone else starts (here through the API) joins the open list without a reload.
    const other = await t.call('POST', `${P}/job/executions`, {
      body: { environment: 'development', args: ['from', 'elsewhere'] },
    });
    expect(other.status, JSON.stringify(other.body)).toBeLessThan(300);
    await expect.poll(() => page.getByRole('row').count(), { timeout: 20_000 }).toBe(3);
  }, 120_000);

  it('cancels a running execution from its page; the output stream ends with it', async () => {
    await page.getByLabel('Arguments').fill('sleep\n120');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/orgs\/default\/executions\//);
    const output = page.getByRole('region', { name: 'Execution output' });
    await output.getByText('sleeping 120').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Cancel execution' }).click();
    await page.getByRole('heading', { name: /cancelled/ }).waitFor({ timeout: 60_000 });
    expect(await output.textContent()).not.toContain('slept 120');
    const id = page.url().split('/').at(-1);
    expect((await t.call('GET', `/api/v1/orgs/default/executions/${id}`)).body.status).toBe('cancelled');
  }, 120_000);

  it('suspends and resumes a scheduled task from the Tasks tab', async () => {
    const P = '/api/v1/orgs/default/projects/shop/components';
    const nightly = await t.call('POST', P, {
      body: { name: 'nightly', type: 'scheduled-task', source: { image: 'rondo-test-task:v1' } },
    });
    expect(nightly.status).toBe(201);
    const d = await t.call('POST', `${P}/nightly/deployments`, {
      body: { environment: 'development', cron: '0 3 * * *' },
    });
    expect(d.status, JSON.stringify(d.body)).toBe(202);
    expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
      status: 'active',
      reason: null,
    });

    await page.goto(`${t.apiUrl}/orgs/default/projects/shop/components/nightly/tasks`);
    const row = page.getByRole('row', { name: /development/ }).filter({ hasText: '0 3 * * *' });
    await row.getByText('active', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Suspend in development' }).click();
    await row.getByText('suspended', { exact: true }).waitFor();
    const state = async () =>
      (await t.call('GET', `${P}/nightly/schedules`)).body.items.find(
        (s: { environment: string }) => s.environment === 'development',
      );
    expect(await state()).toMatchObject({ suspended: true, nextRunAt: null });
    await screenshot(page, 'tasks-schedules');
    expect(await seriousViolations(page)).toEqual([]);
    await row.getByRole('button', { name: 'Resume in development' }).click();
    await row.getByText('active', { exact: true }).waitFor();
    expect((await state()).suspended).toBe(false);
    expect(Date.parse((await state()).nextRunAt)).toBeGreaterThan(Date.now());
  }, 120_000);

  it("observes the running component: metrics charts from Prometheus and the gateway's access log", async () => {
    const web = `${t.apiUrl}/orgs/default/projects/shop/components/web/observability`;
    const url = (
      await t.call('GET', '/api/v1/orgs/default/projects/shop/components/web/status')
    ).body.items.find((i: { environment: string }) => i.environment === 'development').urls[0].url;
    const app = await context.newPage();
    await app.goto(url);
    await app.close();
    await page.goto(web);
    const metrics = page.getByRole('region', { name: 'Metrics' });
    // Samples arrive every second; the tab reads once, so read again until a chart is drawn.
    await expect
      .poll(
        async () => {
          await page.reload();
          await metrics
            .getByText(/No samples|\(/)
            .first()
            .waitFor();
          return metrics.locator('.chart canvas').count();
        },
        { timeout: 90_000, interval: 3000 },
      )
      .toBeGreaterThan(0);
    const chart = metrics.getByRole('img').first();
    expect((await chart.getAttribute('aria-label')) ?? '').toMatch(/last values: .+/);

    const logs = page.getByRole('region', { name: 'Logs' });
    await logs.getByLabel('Source').selectOption('gateway');
    await logs.getByRole('button', { name: 'Show' }).click();
    await logs
      .getByRole('region', { name: 'Runtime log' })
      .getByText(/ 200 GET \//)
      .first()
      .waitFor({
        timeout: 60_000,
      });
    await screenshot(page, 'observability');
    expect(await seriousViolations(page)).toEqual([]);
  }, 180_000);
});
