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
});
