import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordDeploymentCondition, recordingCondition } from '../../src/deploy/deployment-conditions.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS } from '../helpers/stores.js';

describe.each(DRIVERS)('deployment conditions (%s)', (driver) => {
  let t: TestRondo;
  const events = async () =>
    t.rondo.store.db
      .selectFrom('deployment_events')
      .select(['kind', 'message'])
      .where('deployment_id', '=', 'dep_cond')
      .orderBy('id')
      .execute();

  beforeAll(async () => {
    t = await startTestRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'api', type: 'service', source: { image: 'busybox:1' } },
    });
    const { db } = t.rondo.store;
    const c = await db.selectFrom('components').select(['id', 'org_id']).executeTakeFirstOrThrow();
    const e = await db
      .selectFrom('environments')
      .select('id')
      .where('name', '=', 'development')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('deployments')
      .values({
        id: 'dep_cond',
        org_id: c.org_id,
        component_id: c.id,
        environment_id: e.id,
        status: 'rolling-out',
        name: '20261130-1.0.1',
        spec: JSON.stringify({ config: [] }),
        created_at: new Date(),
        updated_at: new Date(),
      } as never)
      .execute();
  });
  afterAll(() => t?.close());

  it('records a condition once per message in its window, storable, and passes the error on', async () => {
    const pull = recordingCondition(t.rondo.store, 'dep_cond', 'image-pull-failed');
    const failure = new Error('cannot pull image x:1: manifest unknown \u0000\u001b[31m');
    await expect(pull(failure)).rejects.toBe(failure);
    await expect(pull(failure)).rejects.toBe(failure);
    await recordDeploymentCondition(t.rondo.store, 'dep_cond', 'readiness-failed', 'the probe answered: A');
    await recordDeploymentCondition(t.rondo.store, 'dep_cond', 'readiness-failed', 'the probe answered: B');
    expect(await events()).toEqual([
      { kind: 'image-pull-failed', message: 'cannot pull image x:1: manifest unknown \ufffd' },
      { kind: 'readiness-failed', message: 'the probe answered: A' },
      { kind: 'readiness-failed', message: 'the probe answered: B' },
    ]);
  });

  it('never throws, even when the event cannot be written', async () => {
    await expect(
      recordDeploymentCondition(t.rondo.store, 'dep_missing', 'config-error', 'no such deployment'),
    ).resolves.toBeUndefined();
  });
});
