import type { TaskSettings } from '../platform-config.js';
import type { Store } from '../store/store.js';

/**
 * Execution history retention (§8): ended executions older than `retentionDays`, and beyond the
 * newest `retentionCount` of each component, are deleted. Running ones are never touched.
 * Returns how many executions went.
 */
export async function pruneExecutions(
  store: Store,
  settings: Pick<TaskSettings, 'retentionDays' | 'retentionCount'>,
  now = new Date(),
): Promise<number> {
  const db = store.db;
  const cutoff = new Date(now.getTime() - settings.retentionDays * 86_400_000);
  const old = await db
    .deleteFrom('executions')
    .where('status', '!=', 'running')
    .where('created_at', '<', cutoff)
    .executeTakeFirst();
  let deleted = Number(old.numDeletedRows);
  const crowded = await db
    .selectFrom('executions')
    .select(['component_id', (eb) => eb.fn.countAll<string>().as('n')])
    .groupBy('component_id')
    .having((eb) => eb.fn.countAll(), '>', settings.retentionCount)
    .execute();
  for (const c of crowded) {
    const keep = db
      .selectFrom('executions')
      .select('id')
      .where('component_id', '=', c.component_id)
      .orderBy('created_at', 'desc')
      .limit(settings.retentionCount);
    const r = await db
      .deleteFrom('executions')
      .where('component_id', '=', c.component_id)
      .where('status', '!=', 'running')
      .where('id', 'not in', keep)
      .executeTakeFirst();
    deleted += Number(r.numDeletedRows);
  }
  return deleted;
}
