import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuildInputs } from '../../src/builds/build-inputs.js';
import { BUILD_SCOPE, storeValue } from '../../src/configuration/config-entries.js';
import { materialize } from '../../src/configuration/materialize.js';
import { Keyring } from '../../src/secrets/envelope.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';

/**
 * `__proto__` and `constructor` are valid environment variable names. Collected into a plain
 * object, `__proto__` vanished (an assignment to the prototype) and the variable was lost.
 */
describe('configuration keys named like Object.prototype members', () => {
  let t: TestRondo;
  const keyring = new Keyring(randomBytes(32));
  let componentId: string;
  let orgId: string;

  beforeAll(async () => {
    t = await startTestRondo('pglite');
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    const c = await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'api',
        type: 'service',
        source: { repoUrl: 'https://github.com/acme/shop.git' },
        buildPreset: 'nodejs',
      },
    });
    expect(c.status).toBe(201);
    componentId = c.body.id;
    orgId = (await t.rondo.store.db.selectFrom('organizations').select('id').executeTakeFirstOrThrow()).id;
  });
  afterAll(() => t.close());

  async function entry(key: string, secret: boolean) {
    const valueId = await storeValue(t.rondo.store.db, keyring, orgId, componentId, Buffer.from(`v-${key}`));
    await t.rondo.store.db
      .insertInto('config_entries')
      .values({
        component_id: componentId,
        environment_id: BUILD_SCOPE,
        key,
        kind: 'env',
        secret,
        value_id: valueId,
        version: 1,
        updated_by: 'test',
      })
      .execute();
    return { key, kind: 'env' as const, secret, valueId, version: 1 };
  }

  it('keeps every variable in what a replica gets and what a build gets', async () => {
    const items = [
      await entry('__proto__', false),
      await entry('constructor', true),
      await entry('PATH_X', false),
    ];
    const config = await materialize(t.rondo.store.db, keyring, items);
    expect(Object.entries({ ...config.env }).sort()).toEqual([
      ['PATH_X', 'v-PATH_X'],
      ['__proto__', 'v-__proto__'],
      ['constructor', 'v-constructor'],
    ]);

    const inputs = await loadBuildInputs(t.rondo.store.db, keyring, componentId);
    expect(Object.entries(inputs.args).sort()).toEqual([
      ['PATH_X', 'v-PATH_X'],
      ['__proto__', 'v-__proto__'],
    ]);
    expect(Object.entries(inputs.secrets)).toEqual([['constructor', 'v-constructor']]);
  });
});
