import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDirectory } from '../../src/api/console.js';
import { startTestRondo, type TestRondo, userWithRole } from '../helpers/rondo.js';
import { launchBrowser, screenshot, seriousViolations, type TestBrowser } from './browser.js';

/**
 * The console in Chromium against a real control plane (without a data plane: builds and deploys
 * answer 503, which the pages show as problems). Steps share one signed-in page, in order.
 */
describe('the web console in a browser', () => {
  let t: TestRondo;
  let url: string;
  let browser: TestBrowser;
  let context: BrowserContext;
  let page: Page;
  let developerToken: string;

  beforeAll(async () => {
    if (!consoleDirectory()) throw new Error('the console is not built: run `npm run build` first');
    t = await startTestRondo('pglite');
    url = await t.rondo.listen();
    developerToken = await userWithRole(t, 'dev', 'developer');
    // Another organization with a component the developer must not see.
    expect((await t.call('POST', '/api/v1/orgs', { body: { name: 'other' } })).status).toBe(201);
    expect((await t.call('POST', '/api/v1/orgs/other/projects', { body: { name: 'secret' } })).status).toBe(
      201,
    );
    const hidden = await t.call('POST', '/api/v1/orgs/other/projects/secret/components', {
      body: { name: 'vault', type: 'service', source: { image: 'nginx:1.27' }, endpoints: [{ port: 80 }] },
    });
    expect(hidden.status).toBe(201);
    browser = await launchBrowser();
    context = await browser.context();
    page = await context.newPage();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function expectAccessible(name: string) {
    await screenshot(page, name);
    expect(await seriousViolations(page), name).toEqual([]);
  }

  it('asks for a token, shows why one is refused, and signs in with a good one', async () => {
    await page.goto(`${url}/orgs/default`);
    await page.getByRole('heading', { name: 'Sign in to Rondo' }).waitFor();
    await expectAccessible('sign-in');

    await page.getByLabel('Personal access token').fill('rondo_not_a_real_token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('The access token is not valid').waitFor();

    await page.getByLabel('Personal access token').fill(developerToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/orgs/default');
    await page.getByText('No projects yet').waitFor();
    await expectAccessible('organization-empty');
  }, 120_000);

  it('keeps the session in an HttpOnly, SameSite=Strict cookie with an expiry, and the token nowhere', async () => {
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'rondo_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/' });
    expect(session!.expires).toBeGreaterThan(Date.now() / 1000);
    expect(session!.value).not.toContain(developerToken);
    const stored = await page.evaluate<string>('JSON.stringify({ ...localStorage, ...sessionStorage })');
    expect(stored).not.toContain(developerToken);
    expect(await page.evaluate<string>('document.cookie')).not.toContain('rondo_session');
  });

  it('creates a project, then shows a refused component as the problem title and fix', async () => {
    await page.getByLabel('Name').fill('shop');
    await page.getByLabel('Description').fill('The shop front');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'shop' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/orgs/default/projects/shop');
    await page.getByText('No components yet').waitFor();

    await page.getByLabel('Name').fill('Not A Name');
    await page.getByLabel('Repository URL').fill('https://example.invalid/repo.git');
    await page.getByRole('button', { name: 'Create component' }).click();
    const problem = page.getByRole('alert');
    await problem.waitFor();
    const text = (await problem.textContent()) ?? '';
    expect(text).toMatch(/not valid|invalid/i);
    expect(text).toContain('name');
    // The field error also sits under the field it is about, which is marked invalid.
    const name = page.getByLabel('Name', { exact: true });
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    const describedBy = await name.getAttribute('aria-describedby');
    expect((await page.locator(`[id="${describedBy}"]`).textContent()) ?? '').toContain('lowercase');
    await expectAccessible('project-problem');
  }, 120_000);

  it('creates an image component and opens its Build area and Deploy view', async () => {
    await page.getByLabel('Name').fill('web');
    await page.getByLabel('Container image').check();
    await page.getByLabel('Image', { exact: true }).fill('nginx:1.27');
    await page.getByLabel('Endpoint port').fill('80');
    await page.getByRole('button', { name: 'Create component' }).click();
    await page.getByRole('heading', { name: 'web' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/orgs/default/projects/shop/components/web/build');
    // Without a data plane the API answers 503; the page says so in the API's words.
    await page.getByRole('alert').first().waitFor();
    await expectAccessible('component-build');

    await page.getByRole('link', { name: 'Deploy' }).click();
    await page.waitForURL('**/components/web/deploy');
    await page.getByRole('alert').first().waitFor();
    await expectAccessible('component-deploy');

    await page.getByRole('link', { name: 'shop' }).click();
    await page.getByRole('link', { name: 'web' }).waitFor();
    expect((await page.getByRole('row', { name: /web/ }).textContent()) ?? '').toContain('service');
    await expectAccessible('project');

    // The organization page: each project's components by state per environment.
    await page.getByRole('link', { name: 'default', exact: true }).click();
    const shop = page.getByRole('row', { name: /shop/ });
    await shop.getByText('development: 1 not deployed').waitFor();
    await expectAccessible('organization');
  }, 120_000);

  it('sets a configuration value and a secret; the secret is never shown again', async () => {
    await page.goto(`${url}/orgs/default/projects/shop/components/web/config`);
    const every = page.getByRole('region', { name: 'Every environment' });
    await every.getByText('No configuration here').waitFor();
    await every.getByLabel('Key', { exact: true }).fill('GREETING');
    await every.getByLabel('Value', { exact: true }).fill('hello');
    await every.getByRole('button', { name: 'Set' }).click();
    await every.getByRole('cell', { name: 'hello', exact: true }).waitFor();

    const dev = page.getByRole('region', { name: 'Environment development' });
    await dev.getByLabel('Key', { exact: true }).fill('API_KEY');
    await dev.getByLabel('Secret').check();
    await dev.getByLabel('Value', { exact: true }).fill('s3cr3t-value-123');
    await dev.getByRole('button', { name: 'Set' }).click();
    await dev.getByRole('cell', { name: 'API_KEY', exact: true }).waitFor();
    expect((await dev.getByRole('row', { name: /API_KEY/ }).textContent()) ?? '').toContain(
      'secret (write-only)',
    );
    await page.reload();
    await page
      .getByRole('region', { name: 'Environment development' })
      .getByRole('cell', { name: 'API_KEY', exact: true })
      .waitFor();
    expect(await page.content()).not.toContain('s3cr3t-value-123');

    await dev.getByLabel('Key', { exact: true }).fill('not a key');
    await dev.getByLabel('Value', { exact: true }).fill('x');
    await dev.getByRole('button', { name: 'Set' }).click();
    await dev.getByRole('alert').waitFor();
    await expectAccessible('component-config');
  }, 60_000);

  it('reloads a deep link in place', async () => {
    await page.goto(`${url}/orgs/default/projects/shop/components/web/deploy`);
    await page.getByRole('heading', { name: 'web' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'web' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/orgs/default/projects/shop/components/web/deploy');
  }, 60_000);

  it("answers another organization's component as not found", async () => {
    await page.goto(`${url}/orgs/other/projects/secret/components/vault/build`);
    const problem = page.getByRole('alert');
    await problem.waitFor();
    expect((await problem.textContent()) ?? '').toMatch(/does not exist|not found/i);
    expect(await page.content()).not.toContain('nginx:1.27');
    await expectAccessible('not-found');
  }, 60_000);

  it('refuses a change made with the cookie but without the CSRF header', async () => {
    const status = await page.evaluate(async () => {
      const res = await fetch('/api/v1/orgs/default/projects', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'forged' }),
      });
      return res.status;
    });
    expect(status).toBe(403);
    expect((await t.call('GET', '/api/v1/orgs/default/projects/forged')).status).toBe(404);
  });

  it('shows organization settings, creates a token shown once, revokes it, and refuses the audit log to a developer', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Organization settings' }).waitFor();
    await page.getByRole('heading', { name: 'Environments' }).waitFor();
    await page.getByRole('cell', { name: 'dev', exact: true }).waitFor();
    await page.getByLabel('Token name').fill('laptop');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByText('New token (shown once');
    await shown.waitFor();
    expect((await shown.textContent()) ?? '').toMatch(/rondo_[A-Za-z0-9_-]{40,}/);
    await page.getByRole('button', { name: 'Revoke laptop' }).click();
    await page.getByRole('cell', { name: 'revoked' }).waitFor();
    await expectAccessible('settings');

    await page.getByRole('link', { name: 'audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const refused = page.getByRole('alert');
    await refused.waitFor();
    expect((await refused.textContent()) ?? '').toContain('Your role does not allow this action');
    await expectAccessible('audit-refused');
  }, 60_000);

  it('works at 390 px wide, in the dark theme, without serious accessibility violations', async () => {
    const narrow = await browser.context({ width: 390, dark: true });
    await narrow.addCookies(await context.cookies());
    const phone = await narrow.newPage();
    await phone.goto(`${url}/orgs/default/projects/shop`);
    await phone.getByRole('link', { name: 'web' }).waitFor();
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await phone.evaluate<string>('document.documentElement.dataset.theme')).toBe('dark');
    await screenshot(phone, 'project-390-dark');
    expect(await seriousViolations(phone)).toEqual([]);
    await narrow.close();
  }, 60_000);

  it('lands on sign-in with the reason when the token behind the session is revoked', async () => {
    const made = await t.call('POST', '/api/v1/users/dev/tokens', { body: { name: 'short-lived' } });
    expect(made.status).toBe(201);
    const other = await browser.context();
    const tab = await other.newPage();
    await tab.goto(`${url}/orgs/default`);
    await tab.getByLabel('Personal access token').fill(made.body.token);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByRole('link', { name: 'shop' }).waitFor();
    expect((await t.call('DELETE', `/api/v1/tokens/${made.body.info.id}`)).status).toBe(204);
    // The page's next read meets the revoked session (which clears the cookie), then a reload.
    await tab.getByRole('link', { name: 'shop' }).click();
    await tab.getByRole('heading', { name: 'Sign in to Rondo' }).waitFor();
    await tab.getByRole('alert').getByText('The console session has ended').waitFor();
    await tab.reload();
    await tab.getByRole('heading', { name: 'Sign in to Rondo' }).waitFor();
    await tab.getByRole('alert').getByText('The console session has ended').waitFor();
    await other.close();
  }, 60_000);

  it("keeps a sign-in made before the page's first session read answered", async () => {
    // The first visit's reads go out without a cookie; held back here (as a loaded machine does),
    // their 401s answer after the person has signed in, and must not sign the page out again.
    const other = await browser.context();
    const tab = await other.newPage();
    let held = 0;
    await tab.route(/\/api\/v1\/(session|me)$/, async (route) => {
      if (route.request().method() !== 'GET' || held >= 2) return route.continue();
      held++;
      // Asked now (without a cookie, as the browser sent it), answered 3 s later.
      const response = await route.fetch();
      await new Promise((r) => setTimeout(r, 3000));
      await route.fulfill({ response });
    });
    await tab.goto(`${url}/orgs/default`);
    await tab.getByLabel('Personal access token').fill(developerToken);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(held).toBe(2);
    // Past the moment the held reads answered: still signed in.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await tab.getByRole('heading', { name: 'Sign in to Rondo' }).count()).toBe(0);
    await tab.getByRole('heading', { name: 'Projects' }).waitFor();
    await other.close();
  }, 60_000);

  it('signs out: back and reload land on sign-in, and the old cookie is refused', async () => {
    const before = (await context.cookies()).find((c) => c.name === 'rondo_session')!;
    await page.goto(`${url}/orgs/default`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Rondo' }).waitFor();
    expect((await context.cookies()).find((c) => c.name === 'rondo_session')).toBeUndefined();
    await page.goBack();
    await page.getByRole('heading', { name: 'Sign in to Rondo' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to Rondo' }).waitFor();
    const replay = await t.call('GET', '/api/v1/me', {
      token: null,
      headers: { cookie: `rondo_session=${before.value}` },
    });
    expect(replay.status).toBe(401);
  }, 60_000);
});
