import type { Store } from '../store/store.js';

/**
 * Webhook delivery history (§9) is kept `days` days. A delivery id is refused as a replay only
 * while its record is kept; an older replay at worst asks for a build of a commit already built,
 * which is reused. Returns how many deliveries went.
 */
export async function pruneDeliveries(store: Store, days: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000);
  const r = await store.db
    .deleteFrom('webhook_deliveries')
    .where('received_at', '<', cutoff)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
