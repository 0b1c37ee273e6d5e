import type { Store } from '../store/store.js';

const DAY_MS = 86_400_000;

/** Deletes runtime log lines older than `days`, and the resume marks of containers silent that long. */
export async function pruneRuntimeLogs(store: Store, days: number, now = Date.now()): Promise<number> {
  const cutoff = now - days * DAY_MS;
  const r = await store.db
    .deleteFrom('runtime_logs')
    .where('at_us', '<', (BigInt(cutoff) * 1000n).toString())
    .executeTakeFirst();
  await store.db.deleteFrom('runtime_log_sources').where('updated_at', '<', new Date(cutoff)).execute();
  return Number(r.numDeletedRows);
}

/** Deletes gateway log entries older than `days` (the same retention as runtime logs). */
export async function pruneGatewayRequests(store: Store, days: number, now = Date.now()): Promise<number> {
  const r = await store.db
    .deleteFrom('gateway_requests')
    .where('at_us', '<', (BigInt(now - days * DAY_MS) * 1000n).toString())
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
