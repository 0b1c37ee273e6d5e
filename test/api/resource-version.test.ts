import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS, snapshotButAudit } from '../helpers/stores.js';

/** Optimistic concurrency on updates: `resourceVersion` read, sent back, refused when stale. */
describe.each(DRIVERS)('resourceVersion on %s', (driver) => {
  let t: TestRondo;
  beforeAll(async () => {
    t = await startTestRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'api', type: 'service', source: { image: 'busybox:1' } },
    });
    await t.call('POST', '/api/v1/orgs/default/environments', { body: { name: 'staging' } });
    await t.call('POST', '/api/v1/orgs/default/pipelines', {
      body: { name: 'two', environments: ['development', 'staging'] },
    });
  });
  afterAll(() => t.close());

  const resources: [string, string, Record<string, unknown>][] = [
    ['project', '/api/v1/orgs/default/projects/shop', { displayName: 'The shop' }],
    ['component', '/api/v1/orgs/default/projects/shop/components/api', { description: 'orders' }],
    ['environment', '/api/v1/orgs/default/environments/staging', { displayName: 'Staging' }],
    ['pipeline', '/api/v1/orgs/default/pipelines/two', { environments: ['development', 'production'] }],
  ];

  it.each(resources)(
    'a %s: an update with the version read wins and bumps it; the loser gets 409 and changes nothing',
    async (kind, url, change) => {
      const read = await t.call('GET', url);
      const version = read.body.resourceVersion;
      expect(version).toBeGreaterThanOrEqual(1);

      const first = await t.call('PATCH', url, { body: { ...change, resourceVersion: version } });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body.resourceVersion).toBe(version + 1);

      const before = await snapshotButAudit(t.rondo.store);
      const second = await t.call('PATCH', url, { body: { ...change, resourceVersion: version } });
      expect(second.status).toBe(409);
      expect(second.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(second.body.code).toBe('RONDO_ERR_CONFLICT_REVISION');
      expect(second.body.detail).toContain(`${kind} '`);
      expect(second.body.detail).toContain(`resourceVersion ${version}, it is at ${version + 1}`);
      expect(await snapshotButAudit(t.rondo.store)).toBe(before);

      // Without a version the update applies (last writer wins, as before), and still bumps it.
      const blind = await t.call('PATCH', url, { body: change });
      expect(blind.status).toBe(200);
      expect(blind.body.resourceVersion).toBe(version + 2);
    },
  );

  it('two writers that read the same version: exactly one wins', async () => {
    const url = '/api/v1/orgs/default/projects/shop';
    const version = (await t.call('GET', url)).body.resourceVersion;
    const answers = await Promise.all(
      ['first', 'second', 'third'].map((d) =>
        t.call('PATCH', url, { body: { description: d, resourceVersion: version } }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409]);
    const winner = answers.find((a) => a.status === 200)!;
    expect((await t.call('GET', url)).body).toMatchObject({
      description: winner.body.description,
      resourceVersion: version + 1,
    });
  });

  it('refuses a version that is not a positive whole number, naming the field', async () => {
    for (const bad of [0, -1, 1.5, '2']) {
      const res = await t.call('PATCH', '/api/v1/orgs/default/projects/shop', {
        body: { resourceVersion: bad },
      });
      expect(res.status, String(bad)).toBe(400);
      expect(JSON.stringify(res.body.errors)).toContain('resourceVersion');
    }
  });
});
