import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS, snapshot } from '../helpers/stores.js';

const ORG = '/api/v1/orgs/default';
const COMPONENTS = `${ORG}/projects/shop/components`;
const CONFIG = `${COMPONENTS}/existing/config`;
const git = (overrides: Record<string, unknown> = {}) => ({
  name: 'api',
  type: 'service',
  source: { repoUrl: 'https://github.com/acme/shop.git' },
  buildPreset: 'nodejs',
  buildConfigs: { buildPackLangVersion: '20' },
  ...overrides,
});

/**
 * The probe's hostile inputs (G2 #5–#7, #12): each answered 500 or was stored as sent. Each is
 * now a 400 problem+json naming the field, and the store is exactly as it was.
 */
describe.each(DRIVERS)('hostile input on %s', (driver) => {
  let t: TestRondo;
  beforeAll(async () => {
    t = await startTestRondo(driver);
    await t.call('POST', `${ORG}/projects`, { body: { name: 'shop' } });
    await t.call('POST', COMPONENTS, { body: git({ name: 'existing' }) });
  });
  afterAll(() => t.close());

  async function refused(
    method: string,
    url: string,
    body: unknown,
    field: string,
    message: RegExp,
  ): Promise<void> {
    const before = await snapshot(t.rondo.store);
    const res = await t.call(method, url, body === undefined ? {} : { body });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('RONDO_ERR_INPUT_INVALID');
    expect(res.body.instance).toBe(res.headers['x-request-id']);
    const named = res.body.errors.find((e: { field: string }) => e.field === field);
    expect(named, `fields: ${JSON.stringify(res.body.errors)}`).toBeDefined();
    expect(named.message).toMatch(message);
    expect(await snapshot(t.rondo.store)).toBe(before);
  }

  const NUL = /NUL character/;
  it.each([
    ['GET', `${ORG.replace('default', '%00')}/projects`, undefined, 'params.org'],
    ['GET', `${ORG}/projects/%00`, undefined, 'params.project'],
    ['DELETE', `${COMPONENTS}/ex%00isting`, undefined, 'params.component'],
    ['GET', `${ORG}/components?project=%00`, undefined, 'querystring.project'],
    ['POST', `${ORG}/projects`, { name: 'p1', displayName: 'a\u0000b' }, 'displayName'],
    ['POST', `${ORG}/projects`, { name: 'p1', description: 'a\u0000b' }, 'description'],
    ['POST', '/api/v1/tokens', { name: 'ci\u0000' }, 'name'],
    [
      'PUT',
      `${ORG}/environments/production/approval-policy`,
      { users: ['ann\u0000'], required: 1 },
      'users.0',
    ],
    ['PATCH', CONFIG, { environment: 'dev\u0000', set: [{ key: 'A', value: 'b' }] }, 'environment'],
    ['POST', COMPONENTS, git({ buildConfigs: { 'buildPack\u0000LangVersion': '20' } }), 'buildConfigs'],
    ['POST', '/hooks/github/%00', undefined, 'params.hook'],
  ])('refuses NUL: %s %s (%#)', async (method, url, body, field) => {
    await refused(method, url, body, field, NUL);
  });

  it.each([`${ORG}/projects`, `${ORG}/components`, `${ORG}/audit`])(
    'refuses a cursor that decodes to text with NUL: %s',
    async (url) => {
      const cursor = Buffer.from(JSON.stringify({ after: 'shop\u0000' })).toString('base64url');
      await refused('GET', `${url}?cursor=${cursor}`, undefined, 'cursor', /not a cursor this API returned/);
    },
  );

  const SURROGATE = /lone UTF-16 surrogate/;
  it.each([
    [git({ source: { repoUrl: 'https://h/r', branch: 'main\ud800' } }), 'source.branch'],
    [git({ source: { repoUrl: 'https://h/r', path: 'svc/\udc00' } }), 'source.path'],
    [
      git({ buildConfigs: { buildPackLangVersion: '20', runCommand: 'node \ud800' } }),
      'buildConfigs.runCommand',
    ],
    [git({ watchPaths: ['lib', 'x\ud800'] }), 'watchPaths.1'],
    [git({ displayName: '\ud83d' }), 'displayName'],
  ])('refuses a lone surrogate in %j (%#)', async (body, field) => {
    await refused('POST', COMPONENTS, body, field, SURROGATE);
  });

  it('refuses a lone surrogate in a patch of a stored component', async () => {
    await refused('PATCH', `${COMPONENTS}/existing`, { watchPaths: ['\ud800'] }, 'watchPaths.0', SURROGATE);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    'refuses component type %s as not a type',
    async (type) => {
      await refused('POST', COMPONENTS, git({ type }), 'type', /is not a component type/);
      const list = await t.call('GET', `${ORG}/components?type=${type}`);
      expect(list.status).toBe(200);
      expect(list.body.items).toEqual([]);
    },
  );

  it.each(['constructor', 'toString', 'valueOf'])('refuses a build config called %s', async (key) => {
    await refused(
      'POST',
      COMPONENTS,
      git({ buildConfigs: { buildPackLangVersion: '20', [key]: 'x' } }),
      `buildConfigs.${key}`,
      /not a build config of preset/,
    );
  });

  const ONE_LINE = /one line without control characters/;
  it.each([
    ['POST', `${ORG}/projects`, { name: 'p2', displayName: '\u001b[2J\u001b[31mowned' }, 'displayName'],
    ['POST', `${ORG}/projects`, { name: 'p2', description: 'first\nsecond' }, 'description'],
    ['PATCH', `${ORG}/projects/shop`, { displayName: 'tab\there' }, 'displayName'],
    ['POST', COMPONENTS, git({ description: 'a\rb' }), 'description'],
    ['POST', `${ORG}/environments`, { name: 'qa', displayName: 'QA\u009b31m' }, 'displayName'],
    ['PATCH', ORG, { displayName: 'line\u2028break' }, 'displayName'],
    ['POST', '/api/v1/tokens', { name: 'ci\u001b]0;title\u0007' }, 'name'],
    ['POST', '/api/v1/users/admin/tokens', { name: 'ci\nfake row' }, 'name'],
  ])('refuses control characters in single-line fields: %s %s (%#)', async (method, url, body, field) => {
    await refused(method, url, body, field, ONE_LINE);
  });
});
