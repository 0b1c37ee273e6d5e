import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneDeliveries } from '../../src/git/delivery-retention.js';
import { DRIVERS, openTestStore } from '../helpers/stores.js';

describe.each(DRIVERS)('webhook delivery retention on %s', (driver) => {
  let handle: Awaited<ReturnType<typeof openTestStore>>;
  beforeAll(async () => {
    handle = await openTestStore(driver);
  });
  afterAll(() => handle.cleanup());

  it('deletes deliveries older than the kept days and keeps the rest', async () => {
    const now = new Date('2026-11-22T12:00:00Z');
    const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
    const delivery = (id: string, received: Date) => ({
      id,
      hook_id: null,
      org_id: null,
      provider: 'github',
      delivery_id: id,
      status: 202,
      outcome: 'queued',
      detail: JSON.stringify({}),
      received_at: received,
    });
    await handle.store.db
      .insertInto('webhook_deliveries')
      .values([
        delivery('whd_old', daysAgo(31)),
        delivery('whd_edge', daysAgo(29.9)),
        delivery('whd_new', daysAgo(1)),
      ])
      .execute();
    expect(await pruneDeliveries(handle.store, 30, now)).toBe(1);
    const left = await handle.store.db.selectFrom('webhook_deliveries').select('id').orderBy('id').execute();
    expect(left.map((r) => r.id)).toEqual(['whd_edge', 'whd_new']);
    expect(await pruneDeliveries(handle.store, 30, now)).toBe(0);
  });
});
