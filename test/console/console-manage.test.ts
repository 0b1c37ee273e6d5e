import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDirectory } from '../../src/api/console.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { launchBrowser, screenshot, seriousViolations, type TestBrowser } from './browser.js';

/**
 * The console's settings, webhook and observability pages in Chromium against a real control
 * plane without a data plane (what needs one is in test/deploy/console-lifecycle.test.ts). An
 * organization admin, steps in order on one page.
 */
describe('the console manages the organization and observes a component', () => {
  let t: TestRondo;
  let url: string;
  let browser: TestBrowser;
  let context: BrowserContext;
  let page: Page;
  const P = '/api/v1/orgs/default/projects';

  beforeAll(async () => {
    if (!consoleDirectory()) throw new Error('the console is not built: run `npm run build` first');
    t = await startTestRondo('pglite');
    url = await t.rondo.listen();
    expect((await t.call('POST', P, { body: { name: 'shop' } })).status).toBe(201);
    const web = await t.call('POST', `${P}/shop/components`, {
      body: { name: 'web', type: 'service', source: { image: 'nginx:1.27' }, endpoints: [{ port: 80 }] },
    });
    expect(web.status).toBe(201);
    const api = await t.call('POST', `${P}/shop/components`, {
      body: {
        name: 'api',
        type: 'service',
        source: { repoUrl: 'https://example.invalid/shop/api.git', branch: 'main' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile', port: '8080' },
      },
    });
    expect(api.status, JSON.stringify(api.body)).toBe(201);
    expect((await t.call('POST', '/api/v1/users', { body: { name: 'ops' } })).status).toBe(201);
    browser = await launchBrowser();
    context = await browser.context();
    page = await context.newPage();
    await page.goto(`${url}/orgs/default/settings`);
    await page.getByLabel('Personal access token').fill(t.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Organization settings' }).waitFor();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function expectAccessible(name: string) {
    await screenshot(page, name);
    expect(await seriousViolations(page), name).toEqual([]);
  }

  it('adds an environment with an approval policy and a pipeline through it; a refused pipeline shows the field and the fix', async () => {
    const envForm = page.getByRole('form', { name: 'Add or change an environment' });
    await envForm.getByLabel('Environment name').fill('staging');
    await envForm.getByLabel('Display name').fill('Staging');
    await envForm.getByLabel('Approvals required').fill('2');
    await envForm.getByLabel('Reviewers by name').fill('ops, nobody');
    await envForm.getByRole('button', { name: 'Save environment' }).click();
    // A reviewer who is not a member: the error sits under the field, and nothing was created.
    await envForm.getByText("'ops' is not a member of default; add them first", { exact: true }).waitFor();
    expect((await t.call('GET', '/api/v1/orgs/default/environments/staging')).status).toBe(404);
    await envForm.getByLabel('Approvals required').fill('1');
    await envForm.getByLabel('Reviewers by name').fill('admin');
    await envForm.getByRole('button', { name: 'Save environment' }).click();
    await envForm.getByText('Added staging.').waitFor();
    await page.getByRole('cell', { name: 'Staging', exact: true }).waitFor();
    const staging = (await t.call('GET', '/api/v1/orgs/default/environments/staging')).body;
    expect(staging).toMatchObject({
      production: false,
      approvalPolicy: { required: 1, roles: ['admin'], users: ['admin'] },
    });

    const pipeForm = page.getByRole('form', { name: 'Add or change a pipeline' });
    await pipeForm.getByLabel('Pipeline name').fill('careful');
    await pipeForm.getByLabel('Environments in order').fill('development, nowhere');
    await pipeForm.getByRole('button', { name: 'Save pipeline' }).click();
    const refused = pipeForm.getByRole('alert');
    await refused.waitFor();
    expect((await refused.textContent()) ?? '').toContain('nowhere');
    expect((await t.call('GET', '/api/v1/orgs/default/pipelines/careful')).status).toBe(404);

    await pipeForm.getByLabel('Environments in order').fill('development, staging, production');
    await pipeForm.getByRole('button', { name: 'Save pipeline' }).click();
    await pipeForm.getByText('Added careful.').waitFor();
    await page.getByText('development → staging → production').waitFor();
    // The same form changes an existing pipeline's order.
    await pipeForm.getByLabel('Environments in order').fill('development → production');
    await pipeForm.getByRole('button', { name: 'Save pipeline' }).click();
    await pipeForm.getByText('Changed careful.').waitFor();
    expect((await t.call('GET', '/api/v1/orgs/default/pipelines/careful')).body.environments).toEqual([
      'development',
      'production',
    ]);
    await expectAccessible('settings-edit');
  }, 60_000);

  it('adds a member, changes the role, then removes the member', async () => {
    const add = page.getByRole('form', { name: 'Add a member' });
    await add.getByLabel('User').fill('ops');
    await add.getByLabel('Role').selectOption('viewer');
    await add.getByRole('button', { name: 'Add member' }).click();
    await page.getByRole('cell', { name: 'ops', exact: true }).waitFor();
    const role = async () =>
      (await t.call('GET', '/api/v1/orgs/default/members')).body.items.find(
        (m: { user: string }) => m.user === 'ops',
      )?.role;
    expect(await role()).toBe('viewer');
    await page.getByLabel('Role of ops').selectOption('developer');
    await expect.poll(role).toBe('developer');
    await page.getByRole('button', { name: 'Remove ops' }).click();
    await page.getByRole('cell', { name: 'ops', exact: true }).waitFor({ state: 'detached' });
    expect(await role()).toBeUndefined();
    await page.getByText('No deliveries yet').waitFor();
  }, 60_000);

  it("shows a Git component's webhook: a secret shown once, the URLs to copy", async () => {
    await page.goto(`${url}/orgs/default/projects/shop/components/api/build`);
    const hook = page.getByRole('region', { name: 'Repository webhook' });
    await hook.getByText('Not set up').waitFor();
    await hook.getByRole('button', { name: 'Create webhook secret' }).click();
    const shown = hook.getByText('shown once');
    await shown.waitFor();
    const secret = (await hook.locator('.shown-once code').textContent()) ?? '';
    expect(secret.length).toBeGreaterThan(20);
    await hook.getByRole('button', { name: 'Copy github webhook URL' }).waitFor();
    await hook.getByRole('button', { name: 'New webhook secret' }).waitFor();
    await expectAccessible('component-webhook');
    await page.reload();
    await hook.getByText('Set up; secret last changed').waitFor();
    expect(await page.content()).not.toContain(secret);
  }, 60_000);

  it('opens the Observability tab: delivery figures, events, and a logs refusal in the API words', async () => {
    await page.goto(`${url}/orgs/default/projects/shop/components/web/observability`);
    await page.getByRole('heading', { name: 'Delivery (last 30 days)' }).waitFor();
    await page.getByText('Change failure rate').waitFor();
    await page.getByText('No events: no rollout failed').waitFor();
    // Without a data plane the logs answer 503: the title and the fix, as every page shows refusals.
    const logs = page.getByRole('region', { name: 'Logs' });
    const refused = logs.getByRole('alert');
    await refused.waitFor();
    expect((await refused.textContent()) ?? '').toContain('rondo up');
    await logs.getByLabel('Level').selectOption('error');
    await logs.getByLabel('Text').fill('timeout');
    await logs.getByRole('button', { name: 'Show' }).click();
    await refused.waitFor();
    await expectAccessible('component-observability');
  }, 60_000);

  it('adds an alert rule (a refused one shows the field), disables and deletes it; the history is empty', async () => {
    await page.goto(`${url}/orgs/default/projects/shop/components/web/observability`);
    const alerts = page.getByRole('region', { name: 'Alerts' });
    await alerts.getByText('No alert rules in development').waitFor();
    await alerts.getByText('No alert has fired here').waitFor();
    const form = alerts.getByRole('form', { name: 'Add an alert rule' });
    await form.getByLabel('Rule name').fill('errors');
    await form.getByLabel('Kind').selectOption('log');
    await form.getByLabel('Parameters (JSON)').fill('{"phrase": "ERROR", "count": 0, "intervalMinutes": 10}');
    await form.getByRole('button', { name: 'Add alert rule' }).click();
    await form.getByRole('alert').waitFor();
    expect(await form.getByLabel('Parameters (JSON)').getAttribute('aria-invalid')).toBe('true');
    const rules = async () =>
      (await t.call('GET', `${P}/shop/components/web/alerts?environment=development`)).body.items;
    expect(await rules()).toEqual([]);

    await form.getByLabel('Parameters (JSON)').fill('{"phrase": "ERROR", "count": 5, "intervalMinutes": 10}');
    await form.getByRole('button', { name: 'Add alert rule' }).click();
    const row = alerts.getByRole('table', { name: 'Alert rules' }).getByRole('row', { name: /errors/ });
    await row.getByText('ok', { exact: true }).waitFor();
    await expectAccessible('component-alerts');
    await row.getByRole('button', { name: 'Disable errors' }).click();
    await row.getByText('disabled', { exact: true }).waitFor();
    expect((await rules())[0]).toMatchObject({ name: 'errors', enabled: false });
    await row.getByRole('button', { name: 'Delete errors' }).click();
    await alerts.getByText('No alert rules in development').waitFor();
    expect(await rules()).toEqual([]);
  }, 60_000);

  it('asks for metrics and the gateway access log, and shows why they are not here without the platform', async () => {
    const metrics = page.getByRole('region', { name: 'Metrics' });
    await metrics.getByRole('alert').waitFor();
    expect((await metrics.getByRole('alert').textContent()) ?? '').toContain('rondo up');
    const logs = page.getByRole('region', { name: 'Logs' });
    await logs.getByLabel('Source').selectOption('gateway');
    await logs.getByRole('button', { name: 'Show' }).click();
    await logs.getByRole('alert').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it('fits the Observability tab and the settings into 390 px without horizontal scrolling', async () => {
    const narrow = await browser.context({ width: 390, dark: true });
    await narrow.addCookies(await context.cookies());
    const phone = await narrow.newPage();
    for (const [path, ready] of [
      ['/orgs/default/projects/shop/components/web/observability', 'Delivery (last 30 days)'],
      ['/orgs/default/settings', 'Webhook deliveries'],
    ] as const) {
      await phone.goto(`${url}${path}`);
      await phone.getByRole('heading', { name: ready }).waitFor();
      const overflow = await phone.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      expect(overflow, path).toBeLessThanOrEqual(0);
      expect(await seriousViolations(phone), path).toEqual([]);
    }
    await screenshot(phone, 'observability-390-dark');
    await narrow.close();
  }, 60_000);

  it('is usable from the keyboard: the skip link first, then the component tabs in order', async () => {
    await page.goto(`${url}/orgs/default/projects/shop/components/web/build`);
    await page.getByRole('heading', { name: 'web' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.textContent ?? ""')).toBe('Skip to content');
    const tabs = page.getByRole('navigation', { name: 'Component' });
    await tabs.getByRole('link', { name: 'Observability' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL('**/components/web/observability');
    await page.getByRole('heading', { name: 'Delivery (last 30 days)' }).waitFor();
  }, 60_000);
});
