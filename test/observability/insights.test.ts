import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentStatus } from '../../src/domain/deployment-spec.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS } from '../helpers/stores.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const INSIGHTS = '/api/v1/orgs/default/projects/shop/components/api/insights';

describe.each(DRIVERS)('DORA insights from Rondo’s records (%s)', (driver) => {
  let t: TestRondo;
  let ids: { org: string; component: string; prod: string };
  let n = 0;

  /** A build with a commit time, its release, and a deployment of it in production. */
  async function deployment(o: {
    status: DeploymentStatus;
    action: string;
    createdAt: Date;
    updatedAt?: Date;
    activatedAt?: Date | null;
    committedAt?: Date;
  }): Promise<string> {
    const { db } = t.rondo.store;
    n++;
    await db
      .insertInto('builds')
      .values({
        id: `bld_${n}`,
        org_id: ids.org,
        component_id: ids.component,
        commit: `${n}`.padStart(40, 'a'),
        requested_ref: 'branch:main',
        config_hash: 'h',
        status: 'succeeded',
        steps: '[]',
        image: 'img',
        created_by: 'admin',
        created_at: o.createdAt,
        committed_at: o.committedAt ?? null,
      })
      .execute();
    await db
      .insertInto('releases')
      .values({
        id: `rel_${n}`,
        org_id: ids.org,
        component_id: ids.component,
        name: `20261101-${n}`,
        build_id: `bld_${n}`,
        image: 'img',
        commit: null,
        spec: '{}',
        config: '[]',
        config_revision: 0,
        created_by: 'admin',
        created_at: o.createdAt,
      })
      .execute();
    await db
      .insertInto('deployments')
      .values({
        id: `dep_${n}`,
        org_id: ids.org,
        component_id: ids.component,
        environment_id: ids.prod,
        status: o.status,
        spec: JSON.stringify({ image: 'busybox', replicas: 1, endpoints: [], env: {} }),
        release_id: `rel_${n}`,
        name: `20261101-${n}.0.1`,
        action: o.action,
        created_at: o.createdAt,
        updated_at: o.updatedAt ?? o.createdAt,
        activated_at: o.activatedAt === undefined ? o.createdAt : o.activatedAt,
      })
      .execute();
    return `dep_${n}`;
  }

  beforeAll(async () => {
    t = await startTestRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'api', type: 'service', source: { image: 'busybox:1' } },
    });
    const { db } = t.rondo.store;
    const c = await db
      .selectFrom('components')
      .select(['id', 'org_id'])
      .where('name', '=', 'api')
      .executeTakeFirstOrThrow();
    const prod = await db
      .selectFrom('environments')
      .select('id')
      .where('name', '=', 'production')
      .executeTakeFirstOrThrow();
    ids = { org: c.org_id, component: c.id, prod: prod.id };
    const now = Date.now();
    const at = (ms: number) => new Date(now - ms);
    // d1: committed 2 h before it went live; d2: 1 h, then rolled back 30 min later by d3.
    await deployment({
      status: 'superseded',
      action: 'promote',
      createdAt: at(10 * DAY),
      committedAt: at(10 * DAY + 2 * HOUR),
    });
    await deployment({
      status: 'superseded',
      action: 'promote',
      createdAt: at(5 * DAY),
      committedAt: at(5 * DAY + HOUR),
    });
    await deployment({
      status: 'superseded',
      action: 'rollback',
      createdAt: at(5 * DAY - HOUR / 2),
      committedAt: at(10 * DAY + 2 * HOUR),
    });
    // d4 failed 3 days ago (the previous version kept serving).
    await deployment({
      status: 'failed',
      action: 'promote',
      createdAt: at(3 * DAY + HOUR / 6),
      updatedAt: at(3 * DAY),
      activatedAt: null,
    });
    // d5: pending, then made active now: the database records when (a trigger).
    const d5 = await deployment({
      status: 'pending',
      action: 'promote',
      createdAt: at(2 * DAY),
      activatedAt: null,
      committedAt: at(4 * HOUR),
    });
    await db
      .updateTable('deployments')
      .set({ status: 'superseded' })
      .where('status', '=', 'active')
      .execute();
    await db.updateTable('deployments').set({ status: 'active' }).where('id', '=', d5).execute();
  });
  afterAll(() => t.close());

  it('records when a deployment becomes active', async () => {
    const d = await t.rondo.store.db
      .selectFrom('deployments')
      .select(['activated_at'])
      .where('id', '=', 'dep_5')
      .executeTakeFirstOrThrow();
    expect(d.activated_at).not.toBeNull();
    expect(Math.abs(d.activated_at!.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('answers frequency, lead time, change failure rate and time to restore of the production end', async () => {
    const r = await t.call('GET', INSIGHTS);
    expect(r.status).toBe(200);
    expect(r.body.environment).toBe('production');
    expect(r.body.deploymentFrequency.deployments).toBe(4);
    expect(r.body.deploymentFrequency.perWeek).toBeCloseTo((4 / 30) * 7, 2);
    // Lead times 1 h, 2 h, ~4 h (the rollback is not a change).
    expect(r.body.leadTimeForChange.measured).toBe(3);
    expect(r.body.leadTimeForChange.medianSeconds).toBe(7200);
    expect(r.body.leadTimeForChange.p95Seconds).toBeGreaterThanOrEqual(14_400);
    expect(r.body.leadTimeForChange.p95Seconds).toBeLessThan(14_400 + 120);
    // Changes: d1, d2, d5 and the failed d4; failures: d4 and d2 (rolled back).
    expect(r.body.changeFailureRate).toEqual({ changes: 4, failed: 1, rolledBack: 1, rate: 0.5 });
    // Restored after 30 min (the rollback) and ~3 days (d5 after d4 failed): median 30 min.
    expect(r.body.timeToRestore).toMatchObject({ failures: 2, restored: 2, medianSeconds: 1800 });
  });

  it('narrows to a window and another environment', async () => {
    const recent = await t.call('GET', `${INSIGHTS}?since=4d&environment=production`);
    expect(recent.body.deploymentFrequency.deployments).toBe(1);
    expect(recent.body.changeFailureRate).toEqual({ changes: 2, failed: 1, rolledBack: 0, rate: 0.5 });
    const dev = await t.call('GET', `${INSIGHTS}?environment=development`);
    expect(dev.status).toBe(200);
    expect(dev.body.deploymentFrequency.deployments).toBe(0);
    expect(dev.body.changeFailureRate.rate).toBeNull();
    expect(dev.body.leadTimeForChange.medianSeconds).toBeNull();
  });

  it('refuses bad input naming the field, and answers 404 for unknown or foreign components', async () => {
    for (const since of ['garbage', '400d', '2020-01-01']) {
      const r = await t.call('GET', `${INSIGHTS}?since=${since}`);
      expect(r.status).toBe(400);
      expect(r.body.errors.map((e: { field: string }) => e.field)).toEqual(['since']);
    }
    const env = await t.call('GET', `${INSIGHTS}?environment=Bad_Name`);
    expect(env.status).toBe(400);
    expect(env.body.errors[0].field).toBe('querystring.environment');
    expect((await t.call('GET', `${INSIGHTS}?environment=nowhere`)).status).toBe(404);
    expect((await t.call('GET', '/api/v1/orgs/default/projects/shop/components/nope/insights')).status).toBe(
      404,
    );
    await t.call('POST', '/api/v1/orgs', { body: { name: 'rival' } });
    await t.call('POST', '/api/v1/users', { body: { name: 'otto' } });
    await t.call('PUT', '/api/v1/orgs/rival/members/otto', { body: { role: 'admin' } });
    const outsider = (await t.call('POST', '/api/v1/users/otto/tokens', { body: { name: 't' } })).body.token;
    expect((await t.call('GET', INSIGHTS, { token: outsider })).status).toBe(404);
  });
});
