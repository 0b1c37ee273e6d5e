import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo, userWithRole } from '../helpers/rondo.js';
import { DRIVERS, snapshot } from '../helpers/stores.js';

const CONFIG = '/api/v1/orgs/default/projects/shop/components/api/config';

/** Configuration and secrets through the API (§5), on both store drivers. */
describe.each(DRIVERS)('configuration on %s', (driver) => {
  let t: TestRondo;
  let dev: string;
  const planted = `planted-${Math.random().toString(36).slice(2)}-secret-value`;
  beforeAll(async () => {
    t = await startTestRondo(driver);
    dev = await userWithRole(t, 'dana', 'developer');
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'api', type: 'service', source: { image: 'busybox:1' } },
    });
  });
  afterAll(() => t.close());

  it('stores env vars and files per scope, returns non-secret values and never secret ones', async () => {
    const set = await t.call('PATCH', CONFIG, {
      body: {
        set: [
          { key: 'GREETING', value: 'hello' },
          { key: 'API_TOKEN', value: planted, secret: true },
          {
            key: '/etc/app/logo.bin',
            value: Buffer.from([0, 1, 2, 255]).toString('base64'),
            encoding: 'base64',
          },
        ],
      },
    });
    expect(set.status).toBe(200);
    expect(set.body.revision).toBe(1);
    expect(set.body.scope).toBe('component');
    const byKey = Object.fromEntries(set.body.items.map((i: { key: string }) => [i.key, i]));
    expect(byKey.GREETING).toMatchObject({ kind: 'env', secret: false, value: 'hello', version: 1 });
    expect(byKey.API_TOKEN).toMatchObject({ kind: 'env', secret: true, version: 1 });
    expect(byKey.API_TOKEN.value).toBeUndefined();
    expect(byKey['/etc/app/logo.bin']).toMatchObject({ kind: 'file', encoding: 'base64', value: 'AAEC/w==' });

    const dev1 = await t.call('PATCH', CONFIG, {
      body: { environment: 'development', set: [{ key: 'GREETING', value: 'hello dev' }] },
    });
    expect(dev1.body).toMatchObject({ scope: 'development', revision: 1 });
    const list = await t.call('GET', `${CONFIG}?environment=development`);
    expect(list.body.items.map((i: { key: string; value: string }) => `${i.key}=${i.value}`)).toEqual([
      'GREETING=hello dev',
    ]);
    // Overwriting a secret keeps it secret and bumps its version.
    const again = await t.call('PATCH', CONFIG, {
      body: { set: [{ key: 'API_TOKEN', value: `${planted}-2` }] },
    });
    expect(again.body.items.find((i: { key: string }) => i.key === 'API_TOKEN')).toMatchObject({
      secret: true,
      version: 2,
    });
    expect(JSON.stringify(again.body)).not.toContain(planted);
  });

  it('keeps every value encrypted at rest: no table and no audit event holds a planted secret', async () => {
    const everything = await snapshot(t.rondo.store);
    expect(everything).toContain('API_TOKEN');
    expect(everything).not.toContain(planted);
    expect(everything).not.toContain('hello dev');
    expect(everything).not.toContain(Buffer.from(planted).toString('base64'));
  });

  it('refuses a change made against an old revision and keeps the winner’s change whole', async () => {
    const before = await t.call('GET', CONFIG);
    const rev = before.body.revision;
    const winner = await t.call('PATCH', CONFIG, {
      body: { revision: rev, set: [{ key: 'WINNER', value: '1' }] },
    });
    expect(winner.status).toBe(200);
    const loser = await t.call('PATCH', CONFIG, {
      body: { revision: rev, set: [{ key: 'LOSER', value: '1' }], unset: ['WINNER'] },
    });
    expect(loser.status).toBe(409);
    expect(loser.body.code).toBe('RONDO_ERR_CONFLICT_REVISION');
    expect(loser.body.detail).toContain(`revision ${rev + 1}`);
    const after = await t.call('GET', CONFIG);
    const keys = after.body.items.map((i: { key: string }) => i.key);
    expect(keys).toContain('WINNER');
    expect(keys).not.toContain('LOSER');
    expect(after.body.revision).toBe(rev + 1);
  });

  it('rejects bad keys, values and mounts before changing anything', async () => {
    const state = await snapshot(t.rondo.store);
    const cases: [unknown, number, RegExp][] = [
      [{ set: [{ key: '1BAD', value: 'x' }] }, 400, /set\[0\]\.key.*not a valid environment variable name/],
      [{ set: [{ key: 'MY-VAR', value: 'x' }] }, 400, /not a valid environment variable name/],
      [{ set: [{ key: 'RONDO_X', value: 'x' }] }, 400, /reserved/],
      [{ set: [{ key: 'etc/app.yaml', value: 'x' }] }, 400, /not a valid environment variable name/],
      [{ set: [{ key: '/etc/../app.yaml', value: 'x' }] }, 400, /normalized absolute file path/],
      [{ set: [{ key: '/proc/self/x', value: 'x' }] }, 400, /runtime owns/],
      [
        {
          set: [
            { key: '/etc/app', value: 'a' },
            { key: '/etc/app/x.yaml', value: 'b' },
          ],
        },
        400,
        /collide/,
      ],
      [
        {
          set: [
            { key: '/etc/app/logo.bin', value: 'a' },
            { key: '/etc/app/logo.bin/y', value: 'b' },
          ],
        },
        400,
        /collide/,
      ],
      [{ set: [{ key: 'BIG', value: 'x'.repeat(1024 * 1024 + 1) }] }, 400, /at most 1 MB/],
      [{ set: [{ key: '/etc/bin', value: 'a\u0000b' }] }, 400, /base64/],
      [{ set: [{ key: '/etc/bin', value: '!!notbase64', encoding: 'base64' }] }, 400, /not valid base64/],
      [
        {
          set: [
            { key: 'A', value: '1' },
            { key: 'A', value: '2' },
          ],
        },
        400,
        /set twice/,
      ],
      [{ unset: ['NOPE'] }, 404, /NOPE/],
      [{}, 400, /at least one key/],
      [{ set: [{ key: 'A', value: '1', extra: true }] }, 400, /extra/],
      [{ environment: 'nowhere', set: [{ key: 'A', value: '1' }] }, 404, /nowhere/],
    ];
    for (const [body, status, message] of cases) {
      const res = await t.call('PATCH', CONFIG, { body });
      expect(res.status, JSON.stringify(body).slice(0, 100)).toBe(status);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(JSON.stringify(res.body)).toMatch(message);
    }
    // A component-scope mount that collides with an environment-scope one is refused too.
    expect(
      (
        await t.call('PATCH', CONFIG, {
          body: { environment: 'development', set: [{ key: '/etc/app/logo.bin/z', value: 'x' }] },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await t.call('PATCH', '/api/v1/orgs/default/projects/shop/components/nope/config', {
          body: { set: [{ key: 'A', value: '1' }] },
        })
      ).status,
    ).toBe(404);
    expect(await snapshot(t.rondo.store)).toBe(state);
  });

  it('lets developers configure non-production environments but not production', async () => {
    expect(
      (
        await t.call('PATCH', CONFIG, {
          body: { environment: 'development', set: [{ key: 'D', value: '1' }] },
          token: dev,
        })
      ).status,
    ).toBe(200);
    const prod = await t.call('PATCH', CONFIG, {
      body: { environment: 'production', set: [{ key: 'D', value: '1' }] },
      token: dev,
    });
    expect(prod.status).toBe(403);
    expect(prod.body.detail).toMatch(/developer/);
  });

  it('rotates the master key: values stay readable, every data key is re-wrapped, only platform admins may', async () => {
    const keyIds = async () =>
      new Set(
        (await t.rondo.store.db.selectFrom('config_values').select('key_id').execute()).map((r) => r.key_id),
      );
    const before = await keyIds();
    expect(before.size).toBe(1);
    expect((await t.call('POST', '/api/v1/admin/master-key/rotate', { body: {}, token: dev })).status).toBe(
      403,
    );
    const rotated = await t.call('POST', '/api/v1/admin/master-key/rotate', { body: {} });
    expect(rotated.status).toBe(200);
    expect(rotated.body.rewrapped).toBeGreaterThan(3);
    const after = await keyIds();
    expect([...after]).toEqual([rotated.body.keyId]);
    expect(before.has(rotated.body.keyId)).toBe(false);
    const list = await t.call('GET', `${CONFIG}?environment=development`);
    expect(list.body.items.find((i: { key: string }) => i.key === 'GREETING').value).toBe('hello dev');
  });
});
