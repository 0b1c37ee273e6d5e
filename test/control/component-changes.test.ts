import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComponentChanges } from '../../src/control/component-changes.js';
import { openStore, type Store } from '../../src/store/store.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS } from '../helpers/stores.js';

/** The change signal behind the console's live views: the store's triggers, LISTEN, the watchers. */
describe.each(DRIVERS)('component changes (%s)', (driver) => {
  let t: TestRondo;
  let changes: ComponentChanges;
  const ids = { org: '', env: '', api: '', web: '' };
  let n = 0;
  const deployment = (store: Store, component: string) =>
    store.db
      .insertInto('deployments')
      .values({
        id: `dep_changes_${++n}`,
        org_id: ids.org,
        component_id: component,
        environment_id: ids.env,
        status: 'failed',
        name: `20261130-1.0.${n}`,
        spec: JSON.stringify({ config: [] }),
        created_at: new Date(),
        updated_at: new Date(),
      } as never)
      .returning('id')
      .executeTakeFirstOrThrow();

  /** What changed until each of `kinds` was heard (PostgreSQL delivers each NOTIFY on its own). */
  const heard = async (watch: ReturnType<ComponentChanges['watch']>, kinds: string[]) => {
    const all = new Set<string>();
    const deadline = Date.now() + 20_000;
    while (!kinds.every((k) => all.has(k)) && Date.now() < deadline)
      for (const k of await watch.take(deadline - Date.now())) all.add(k);
    return [...all].sort();
  };

  beforeAll(async () => {
    t = await startTestRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    for (const name of ['api', 'web'])
      await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
        body: { name, type: 'service', source: { image: 'busybox:1' } },
      });
    const { db } = t.rondo.store;
    for (const c of await db.selectFrom('components').select(['id', 'org_id', 'name']).execute()) {
      ids.org = c.org_id;
      ids[c.name as 'api' | 'web'] = c.id;
    }
    ids.env = (
      await db
        .selectFrom('environments')
        .select('id')
        .where('name', '=', 'development')
        .executeTakeFirstOrThrow()
    ).id;
    changes = new ComponentChanges(t.rondo.store);
    await changes.start();
  });
  afterAll(async () => {
    await changes?.stop();
    await t?.close();
  });

  it('wakes a watcher at a write of its component, with what was written, and not at another component’s', async () => {
    const stop = new AbortController();
    const watch = changes.watch(ids.api, stop.signal);
    await deployment(t.rondo.store, ids.web);
    expect([...(await watch.take(300))]).toEqual([]);
    const d = await deployment(t.rondo.store, ids.api);
    expect(await heard(watch, ['deployments'])).toEqual(['deployments']);
    await t.rondo.store.db
      .insertInto('deployment_events')
      .values({ deployment_id: d.id, kind: 'readiness-failed', message: 'x', created_at: new Date() })
      .execute();
    await t.rondo.store.db
      .updateTable('deployments')
      .set({ status: 'active' })
      .where('id', '=', d.id)
      .execute();
    expect(await heard(watch, ['deployment_events', 'deployments'])).toEqual([
      'deployment_events',
      'deployments',
    ]);
    stop.abort();
  });

  it('says nothing of a transaction that rolled back, and a stopped watcher hears nothing more', async () => {
    const stop = new AbortController();
    const watch = changes.watch(ids.api, stop.signal);
    await t.rondo.store.db
      .transaction()
      .execute(async (tx) => {
        await tx
          .updateTable('deployments')
          .set({ status: 'failed' })
          .where('component_id', '=', ids.api)
          .execute();
        throw new Error('rolled back');
      })
      .catch(() => {});
    expect([...(await watch.take(500))]).toEqual([]);
    stop.abort();
    // Once a watcher still listening has heard the write, the stopped one must not have.
    const still = new AbortController();
    const listening = changes.watch(ids.api, still.signal);
    await deployment(t.rondo.store, ids.api);
    expect(await heard(listening, ['deployments'])).toEqual(['deployments']);
    still.abort();
    expect([...(await watch.take(0))]).toEqual([]);
  });

  it.runIf(driver === 'postgres')('hears what another control plane on the same database wrote', async () => {
    const other = await openStore({ driver: 'postgres', url: t.storeUrl ?? '' });
    try {
      const stop = new AbortController();
      const watch = changes.watch(ids.web, stop.signal);
      await deployment(other, ids.web);
      expect(await heard(watch, ['deployments'])).toEqual(['deployments']);
      stop.abort();
    } finally {
      await other.close();
    }
  });
});
