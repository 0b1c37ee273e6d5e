import { sql } from 'kysely';
import type { Store } from '../store/store.js';

const DAY_MS = 86_400_000;
/** Lines newer than this are never swept as orphans: their component may have been made just now. */
const ORPHAN_GRACE_MS = 10 * 60_000;

/** Deletes runtime log lines older than `days`, and the resume marks of containers silent that long. */
export async function pruneRuntimeLogs(store: Store, days: number, now = Date.now()): Promise<number> {
  const cutoff = now - days * DAY_MS;
  const logs = store.logs.db;
  const r = await logs
    .deleteFrom('runtime_logs')
    .where('at_us', '<', (BigInt(cutoff) * 1000n).toString())
    .executeTakeFirst();
  await logs.deleteFrom('runtime_log_sources').where('updated_at', '<', new Date(cutoff)).execute();
  return Number(r.numDeletedRows) + (await sweepOrphans(store, 'runtime_logs', now));
}

/** Deletes gateway log entries older than `days` (the same retention as runtime logs). */
export async function pruneGatewayRequests(store: Store, days: number, now = Date.now()): Promise<number> {
  const r = await store.logs.db
    .deleteFrom('gateway_requests')
    .where('at_us', '<', (BigInt(now - days * DAY_MS) * 1000n).toString())
    .executeTakeFirst();
  return Number(r.numDeletedRows) + (await sweepOrphans(store, 'gateway_requests', now));
}

/**
 * In a log database of its own, the lines of components or environments deleted since the last
 * pass: no foreign key removed them. They were unreachable at once (queries find the component
 * first); this frees their space. Only lines older than a grace period are swept, so a component
 * made after the live ids were read keeps its first lines.
 */
async function sweepOrphans(
  store: Store,
  table: 'runtime_logs' | 'gateway_requests',
  now: number,
): Promise<number> {
  if (!store.logs.own) return 0;
  const components = (await store.db.selectFrom('components').select('id').execute()).map((r) => r.id);
  const environments = (await store.db.selectFrom('environments').select('id').execute()).map((r) => r.id);
  const before = (BigInt(now - ORPHAN_GRACE_MS) * 1000n).toString();
  const r = await store.logs.db
    .deleteFrom(table)
    .where('at_us', '<', before)
    .where(
      sql<boolean>`(component_id <> all(${components}::text[]) or environment_id <> all(${environments}::text[]))`,
    )
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
