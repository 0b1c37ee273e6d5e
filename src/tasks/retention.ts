import type { Logger } from 'pino';
import { Periodic } from '../control/periodic.js';
import type { TaskSettings } from '../platform-config.js';
import type { Store } from '../store/store.js';

const HOUR_MS = 3_600_000;

/**
 * Execution history retention (§8): ended executions older than `retentionDays`, and beyond the
 * newest `retentionCount` of each component, are deleted at start and then hourly. Running ones
 * are never touched.
 */
export class ExecutionRetention {
  readonly #store: Store;
  readonly #settings: Pick<TaskSettings, 'retentionDays' | 'retentionCount'>;
  readonly #log: Logger;
  readonly #periodic = new Periodic(
    async () => {
      const n = await this.prune();
      if (n > 0) this.#log.info({ deleted: n }, 'pruned execution history');
    },
    HOUR_MS,
    (err) => this.#log.warn({ err: String(err) }, 'execution pruning failed'),
  );

  constructor(
    store: Store,
    settings: Pick<TaskSettings, 'retentionDays' | 'retentionCount'>,
    logger: Logger,
  ) {
    this.#store = store;
    this.#settings = settings;
    this.#log = logger.child({ part: 'execution-retention' });
  }

  start(): void {
    this.#periodic.start();
  }

  /** Stops pruning; a pass in progress finishes first. */
  stop(): Promise<void> {
    return this.#periodic.stop();
  }

  /** Deletes what retention no longer keeps; returns how many executions went. */
  async prune(now = new Date()): Promise<number> {
    const db = this.#store.db;
    const cutoff = new Date(now.getTime() - this.#settings.retentionDays * 86_400_000);
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
      .having((eb) => eb.fn.countAll(), '>', this.#settings.retentionCount)
      .execute();
    for (const c of crowded) {
      const keep = db
        .selectFrom('executions')
        .select('id')
        .where('component_id', '=', c.component_id)
        .orderBy('created_at', 'desc')
        .limit(this.#settings.retentionCount);
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
}
