import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo, userWithRole } from '../helpers/rondo.js';
import { DRIVERS, snapshot, snapshotButAudit } from '../helpers/stores.js';

const COMPONENTS = '/api/v1/orgs/default/projects/shop/components';
const git = (overrides: Record<string, unknown> = {}) => ({
  name: 'api',
  type: 'service',
  source: { repoUrl: 'https://github.com/acme/shop.git' },
  buildPreset: 'nodejs',
  buildConfigs: { buildPackLangVersion: '20' },
  ...overrides,
});

/**
 * Each case is refused with problem+json naming the field, and the store is byte-for-byte the
 * same afterwards (no row written, no audit event).
 */
describe.each(DRIVERS)('bad input on %s', (driver) => {
  let t: TestRondo;
  let viewer: string;
  beforeAll(async () => {
    t = await startTestRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', COMPONENTS, { body: git({ name: 'existing' }) });
    viewer = await userWithRole(t, 'vic', 'viewer');
  });
  afterAll(() => t.close());

  async function refused(
    method: string,
    url: string,
    options: Parameters<TestRondo['call']>[2],
    status: number,
    field?: string | RegExp,
  ) {
    // Refusals by authentication (401) are audited: everything else stays the same.
    const state = status === 401 ? snapshotButAudit : snapshot;
    const before = await state(t.rondo.store);
    const res = await t.call(method, url, options);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      status,
      code: expect.stringMatching(/^RONDO_ERR_/),
      detail: expect.any(String),
      fix: expect.any(String),
    });
    if (field) {
      const fields = (res.body.errors ?? []).map((e: { field: string }) => e.field);
      expect(
        fields.some((f: string) => (typeof field === 'string' ? f === field : field.test(f))),
        `fields ${fields}`,
      ).toBe(true);
    }
    if (status !== 403) expect(await state(t.rondo.store)).toBe(before);
    return res;
  }

  it.each([
    ['uppercase', 'Shop'],
    ['64 characters', 'a'.repeat(64)],
    ['leading dash', '-shop'],
    ['unicode', 'caf\u00e9'],
    ['empty', ''],
  ])('rejects a %s name', async (_what, name) => {
    await refused('POST', '/api/v1/orgs/default/projects', { body: { name } }, 400, 'name');
    await refused('POST', COMPONENTS, { body: git({ name }) }, 400, 'name');
    await refused('POST', '/api/v1/orgs/default/environments', { body: { name } }, 400, 'name');
  });

  it('rejects unknown fields, wrong types and missing required fields', async () => {
    await refused(
      'POST',
      '/api/v1/orgs/default/projects',
      { body: { name: 'x', colour: 'red' } },
      400,
      'colour',
    );
    await refused(
      'POST',
      COMPONENTS,
      { body: git({ source: { repoUrl: 'https://h/r', tag: 'v1' } }) },
      400,
      'source.tag',
    );
    await refused(
      'POST',
      '/api/v1/orgs/default/environments',
      { body: { name: 'qa', production: 'yes' } },
      400,
      'production',
    );
    await refused('POST', COMPONENTS, { body: git({ autoBuild: 1 }) }, 400, 'autoBuild');
    const missing = await refused('POST', COMPONENTS, { body: { name: 'x', source: {} } }, 400, 'type');
    expect(missing.body.errors.find((e: { field: string }) => e.field === 'type').message).toBe(
      'is required',
    );
    await refused(
      'POST',
      COMPONENTS,
      { body: { name: 'x', type: 'service', source: {} } },
      400,
      'source.repoUrl',
    );
    await refused('POST', COMPONENTS, { body: git({ type: 'lambda' }) }, 400, 'type');
  });

  it('rejects build configs that do not belong to the preset', async () => {
    const res = await refused(
      'POST',
      COMPONENTS,
      { body: git({ buildConfigs: { buildPackLangVersion: '20', dockerFilePath: 'Dockerfile' } }) },
      400,
      'buildConfigs.dockerFilePath',
    );
    expect(res.body.detail).toMatch(/accepted keys: buildPackLangVersion/);
    await refused(
      'POST',
      COMPONENTS,
      { body: git({ buildPreset: 'dockerfile', buildConfigs: {} }) },
      400,
      'buildConfigs.dockerFilePath',
    );
    await refused(
      'POST',
      COMPONENTS,
      { body: git({ buildConfigs: { buildPackLangVersion: '$(reboot)' } }) },
      400,
      'buildConfigs.buildPackLangVersion',
    );
    await refused('POST', COMPONENTS, { body: git({ buildPreset: 'gradle' }) }, 400, 'buildPreset');
  });

  it.each([
    ['ext:: transport', 'ext::sh -c touch% /tmp/pwned'],
    ['leading dash', '-u/tmp/x'],
    ['option-like', '--upload-pack=touch /tmp/pwned'],
    ['ftp scheme', 'ftp://example.com/r.git'],
    ['newline', 'https://github.com/a/b\n--x'],
    ['space', 'https://github.com/a/b c'],
  ])('rejects a repo URL with %s', async (_what, repoUrl) => {
    await refused('POST', COMPONENTS, { body: git({ source: { repoUrl } }) }, 400, 'source.repoUrl');
  });

  it.each([['../../etc'], ['/etc/passwd'], ['a/../../b']])('rejects component path %s', async (path) => {
    await refused(
      'POST',
      COMPONENTS,
      { body: git({ source: { repoUrl: 'https://h/r', path } }) },
      400,
      'source.path',
    );
  });

  it('rejects an image reference that is not one, and build settings on an image component', async () => {
    await refused(
      'POST',
      COMPONENTS,
      { body: { name: 'img', type: 'service', source: { image: 'Not An Image' } } },
      400,
      'source.image',
    );
    await refused(
      'POST',
      COMPONENTS,
      { body: { name: 'img', type: 'service', source: { image: 'nginx', repoUrl: 'https://h/r' } } },
      400,
      'source',
    );
  });

  it('rejects bodies over 10 MB with 413', async () => {
    const big = JSON.stringify({ name: 'x', description: 'a'.repeat(10 * 1024 * 1024) });
    const res = await refused(
      'POST',
      '/api/v1/orgs/default/projects',
      { raw: big, headers: { 'content-type': 'application/json' } },
      413,
    );
    expect(res.body.code).toBe('RONDO_ERR_INPUT_BODY_TOO_LARGE');
  });

  it('rejects malformed JSON', async () => {
    const res = await refused(
      'POST',
      '/api/v1/orgs/default/projects',
      { raw: '{"name": "x",', headers: { 'content-type': 'application/json' } },
      400,
    );
    expect(res.body.code).toBe('RONDO_ERR_INPUT_MALFORMED_JSON');
  });

  it('rejects duplicate names with 409', async () => {
    await refused('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } }, 409, 'name');
    await refused('POST', COMPONENTS, { body: git({ name: 'existing' }) }, 409, 'name');
    await refused(
      'POST',
      '/api/v1/orgs/default/environments',
      { body: { name: 'development' } },
      409,
      'name',
    );
  });

  it('answers unknown ids with 404 naming them', async () => {
    const a = await refused('GET', '/api/v1/orgs/default/projects/ghost', {}, 404);
    expect(a.body.detail).toBe("project 'ghost' was not found");
    await refused('GET', `${COMPONENTS}/ghost`, {}, 404);
    await refused('POST', '/api/v1/orgs/default/projects/ghost/components', { body: git() }, 404);
    await refused('DELETE', '/api/v1/orgs/default/environments/ghost', {}, 404);
    await refused('PATCH', '/api/v1/orgs/nowhere/projects/shop', { body: {} }, 404);
    await refused('DELETE', '/api/v1/tokens/tok_nope', {}, 404);
    await refused('GET', '/api/v1/no/such/route', {}, 404);
  });

  it('rejects a viewer’s mutation with 403 and changes nothing but the audit log', async () => {
    const before = await t.rondo.store.db.selectFrom('projects').selectAll().execute();
    await refused('POST', '/api/v1/orgs/default/projects', { body: { name: 'sneaky' }, token: viewer }, 403);
    await refused('DELETE', `${COMPONENTS}/existing`, { token: viewer }, 403);
    expect(await t.rondo.store.db.selectFrom('projects').selectAll().execute()).toEqual(before);
    expect((await t.call('GET', `${COMPONENTS}/existing`)).status).toBe(200);
  });

  it('rejects missing, wrong, expired and revoked tokens with 401', async () => {
    expect((await refused('GET', '/api/v1/orgs/default/projects', { token: null }, 401)).body.code).toBe(
      'RONDO_ERR_AUTH_TOKEN_MISSING',
    );
    expect(
      (await refused('GET', '/api/v1/orgs/default/projects', { token: 'rondo_wrong' }, 401)).body.code,
    ).toBe('RONDO_ERR_AUTH_TOKEN_INVALID');
    expect(
      (
        await refused(
          'GET',
          '/api/v1/orgs/default/projects',
          { headers: { authorization: 'Basic abc' }, token: null },
          401,
        )
      ).body.code,
    ).toBe('RONDO_ERR_AUTH_TOKEN_INVALID');

    const created = await t.call('POST', '/api/v1/tokens', { body: { name: 'short', expiresInDays: 1 } });
    await t.rondo.store.db
      .updateTable('tokens')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', created.body.info.id)
      .execute();
    expect((await refused('GET', '/api/v1/me', { token: created.body.token }, 401)).body.code).toBe(
      'RONDO_ERR_AUTH_TOKEN_EXPIRED',
    );

    const other = await t.call('POST', '/api/v1/tokens', { body: { name: 'revoke-me' } });
    expect((await t.call('GET', '/api/v1/me', { token: other.body.token })).status).toBe(200);
    expect((await t.call('DELETE', `/api/v1/tokens/${other.body.info.id}`)).status).toBe(204);
    expect((await refused('GET', '/api/v1/me', { token: other.body.token }, 401)).body.code).toBe(
      'RONDO_ERR_AUTH_TOKEN_REVOKED',
    );
  });

  it('rejects out-of-range query parameters', async () => {
    await refused('GET', '/api/v1/orgs/default/projects?limit=0', {}, 400, 'querystring.limit');
    await refused('GET', '/api/v1/orgs/default/projects?limit=abc', {}, 400, 'querystring.limit');
    await refused('GET', '/api/v1/orgs/default/audit?since=yesterday', {}, 400, 'querystring.since');
  });
});
