import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createRondo, type Rondo } from '../../src/server.js';
import { injector, startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS, snapshot } from '../helpers/stores.js';

const COMPONENTS = '/api/v1/orgs/default/projects/shop/components';
const SECRET = 'hunter2-Zq9';
const git = (repoUrl: string, name = 'api') => ({
  name,
  type: 'service',
  source: { repoUrl },
  buildPreset: 'nodejs',
  buildConfigs: { buildPackLangVersion: '20' },
});

/** G2 #9–#11: repository URLs that must be refused at the API, with nothing stored. */
describe.each(DRIVERS)('repository URLs on %s', (driver) => {
  let t: TestRondo;
  beforeAll(async () => {
    t = await startTestRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', COMPONENTS, { body: git('https://github.com/acme/shop.git', 'existing') });
  });
  afterAll(() => t.close());

  async function refusedUrl(method: string, url: string, body: unknown, message: RegExp) {
    const before = await snapshot(t.rondo.store);
    const res = await t.call(method, url, { body });
    expect(res.status).toBe(400);
    expect(res.body.errors).toContainEqual({
      field: 'source.repoUrl',
      message: expect.stringMatching(message),
    });
    expect(await snapshot(t.rondo.store)).toBe(before);
    return res;
  }

  it.each([
    `https://deploy:${SECRET}@github.com/acme/shop.git`,
    `https://${SECRET}@github.com/acme/shop.git`,
    `ssh://git:${SECRET}@github.com/acme/shop.git`,
  ])('refuses credentials in %s, pointing at source-token set, without echoing them', async (repoUrl) => {
    const res = await refusedUrl('POST', COMPONENTS, git(repoUrl), /rondo source-token set/);
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    const patch = await refusedUrl(
      'PATCH',
      `${COMPONENTS}/existing`,
      { source: { repoUrl } },
      /must not carry credentials/,
    );
    expect(JSON.stringify(patch.body)).not.toContain(SECRET);
  });

  it.each(['file:///tmp/../etc', 'file:///srv/git/%2e%2e/etc'])(
    'refuses %s (".." as sent)',
    async (repoUrl) => {
      await refusedUrl('POST', COMPONENTS, git(repoUrl), /must not contain "\.\."/);
    },
  );

  it.each([
    'http://169.254.169.254/latest/meta-data',
    'http://[fe80::a:1]/repo',
    'http://metadata.google.internal/computeMetadata/v1',
    'git://2852039166/repo',
  ])('refuses the link-local or metadata host of %s by default', async (repoUrl) => {
    await refusedUrl('POST', COMPONENTS, git(repoUrl), /RONDO_ALLOW_LINK_LOCAL_REPOSITORIES/);
  });

  it('never shows a credential an older record still holds', async () => {
    // A record written before the check: its URL still carries a password.
    const row = await t.rondo.store.db
      .selectFrom('components')
      .select(['id', 'source'])
      .where('name', '=', 'existing')
      .executeTakeFirstOrThrow();
    await t.rondo.store.db
      .updateTable('components')
      .set({
        source: JSON.stringify({
          ...(row.source as object),
          repoUrl: `https://deploy:${SECRET}@github.com/acme/shop.git`,
        }),
      })
      .where('id', '=', row.id)
      .execute();
    const shown = await t.call('GET', `${COMPONENTS}/existing`);
    expect(shown.status).toBe(200);
    expect(shown.body.source.repoUrl).toBe('https://***:***@github.com/acme/shop.git');
    const list = await t.call('GET', COMPONENTS);
    expect(JSON.stringify(list.body)).not.toContain(SECRET);
    const hook = await t.call('GET', `${COMPONENTS}/existing/webhook`);
    expect(hook.status).toBe(200);
    expect(hook.body.repository).toBe('https://***:***@github.com/acme/shop.git');
    const rotated = await t.call('POST', `${COMPONENTS}/existing/webhook/secret`);
    expect(JSON.stringify(rotated.body)).not.toContain(SECRET);
    const audit = await t.call('GET', '/api/v1/orgs/default/audit');
    expect(JSON.stringify(audit.body)).not.toContain(SECRET);
  });
});

describe('a site that allows link-local repositories', () => {
  let rondo: Rondo;
  let call: TestRondo['call'];
  beforeAll(async () => {
    const token = `rondo_test_${Math.random().toString(36).slice(2)}_admin_token`;
    rondo = await createRondo(
      {
        ...loadConfig(
          { port: 0, dataDir: 'memory://' },
          { RONDO_ALLOW_LINK_LOCAL_REPOSITORIES: 'true', RONDO_PLATFORM: 'off' },
        ),
        bootstrapToken: token,
      },
      pino({ level: 'silent' }),
    );
    call = injector(rondo, token);
    await call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
  });
  afterAll(() => rondo.close());

  it('accepts a link-local repository host, and still refuses credentials', async () => {
    const res = await call('POST', COMPONENTS, { body: git('http://169.254.10.20/git/shop.git') });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const refused = await call('POST', COMPONENTS, { body: git(`http://u:${SECRET}@169.254.10.20/r`, 'b') });
    expect(refused.status).toBe(400);
  });
});
