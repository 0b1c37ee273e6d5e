import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo, userWithRole } from '../helpers/rondo.js';
import { DRIVERS, snapshot } from '../helpers/stores.js';

const POLICY = '/api/v1/orgs/default/environments/production/approval-policy';

describe.each(DRIVERS)('approval policies on %s', (driver) => {
  let t: TestRondo;
  let dev: string;
  beforeAll(async () => {
    t = await startTestRondo(driver);
    dev = await userWithRole(t, 'dana', 'developer');
    await userWithRole(t, 'rita', 'admin');
  });
  afterAll(() => t.close());

  it('names reviewers by user and role, shows them on the environment, and can be removed', async () => {
    const set = await t.call('PUT', POLICY, {
      body: { users: ['rita', 'dana'], roles: ['admin'], required: 2 },
    });
    expect(set.status).toBe(200);
    expect(set.body.approvalPolicy).toEqual({ users: ['rita', 'dana'], roles: ['admin'], required: 2 });
    expect((await t.call('GET', '/api/v1/orgs/default/environments/production')).body.approvalPolicy).toEqual(
      set.body.approvalPolicy,
    );
    const removed = await t.call('DELETE', POLICY);
    expect(removed.body.approvalPolicy).toBeNull();
  });

  it('refuses policies nobody could satisfy, unknown reviewers and non-admins, changing nothing', async () => {
    const before = await snapshot(t.rondo.store);
    const cases: [unknown, number, RegExp][] = [
      [{ required: 1 }, 400, /at least one reviewer/],
      [{ users: ['ghost'], required: 1 }, 400, /'ghost' is not a member/],
      [{ roles: ['owner'], required: 1 }, 400, /'owner' is not a role/],
      [{ users: ['rita'], required: 2 }, 400, /only 1 reviewer/],
      [{ users: ['rita'], required: 0 }, 400, /required/],
      [{ users: ['rita'], required: 1, extra: 1 }, 400, /extra/],
    ];
    for (const [body, status, message] of cases) {
      const res = await t.call('PUT', POLICY, { body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(JSON.stringify(res.body)).toMatch(message);
    }
    expect(
      (
        await t.call('PUT', '/api/v1/orgs/default/environments/nowhere/approval-policy', {
          body: { users: ['rita'], required: 1 },
        })
      ).status,
    ).toBe(404);
    expect(await snapshot(t.rondo.store)).toBe(before);
    const denied = await t.call('PUT', POLICY, { body: { users: ['rita'], required: 1 }, token: dev });
    expect(denied.status).toBe(403);
  });

  it('is set with an environment in one change: created with it, changed or removed by a PATCH, or all refused', async () => {
    const ENVS = '/api/v1/orgs/default/environments';
    const before = await snapshot(t.rondo.store);
    const refused = await t.call('POST', ENVS, {
      body: { name: 'qa', approvalPolicy: { users: ['rita', 'ghost'], required: 1 } },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      expect.objectContaining({
        field: 'approvalPolicy.users[1]',
        message: expect.stringMatching(/'ghost'/),
      }),
    ]);
    expect(await snapshot(t.rondo.store)).toBe(before);

    const created = await t.call('POST', ENVS, {
      body: { name: 'qa', approvalPolicy: { users: ['rita'], required: 1 } },
    });
    expect(created.status).toBe(201);
    expect(created.body.approvalPolicy).toEqual({ users: ['rita'], roles: [], required: 1 });
    const kept = await t.call('PATCH', `${ENVS}/qa`, {
      body: { displayName: 'QA', approvalPolicy: { users: ['rita'], required: 2 } },
    });
    expect(kept.status).toBe(400);
    expect(kept.body.errors[0].field).toBe('approvalPolicy.required');
    expect((await t.call('GET', `${ENVS}/qa`)).body).toMatchObject({
      displayName: 'qa',
      approvalPolicy: { users: ['rita'], required: 1 },
    });
    const changed = await t.call('PATCH', `${ENVS}/qa`, {
      body: { approvalPolicy: { users: ['rita', 'dana'], roles: ['admin'], required: 2 } },
    });
    expect(changed.body.approvalPolicy).toEqual({ users: ['rita', 'dana'], roles: ['admin'], required: 2 });
    const untouched = await t.call('PATCH', `${ENVS}/qa`, { body: { displayName: 'QA' } });
    expect(untouched.body.approvalPolicy).toEqual(changed.body.approvalPolicy);
    const removed = await t.call('PATCH', `${ENVS}/qa`, { body: { approvalPolicy: null } });
    expect(removed.body).toMatchObject({ displayName: 'QA', approvalPolicy: null });
  });
});
