import type { Logger } from 'pino';
import { Periodic } from '../control/periodic.js';
import type { Store } from '../store/store.js';

const HOUR_MS = 3_600_000;

/**
 * Webhook delivery history (§9) is kept `days` days, then deleted at start and hourly. A delivery
 * id is refused as a replay only while its record is kept; an older replay at worst asks for a
 * build of a commit already built, which is reused.
 */
export class DeliveryRetention {
  readonly #store: Store;
  readonly #days: number;
  readonly #log: Logger;
  readonly #periodic = new Periodic(
    async () => {
      const n = await this.prune();
      if (n > 0) this.#log.info({ deleted: n }, 'pruned webhook deliveries');
    },
    HOUR_MS,
    (err) => this.#log.warn({ err: String(err) }, 'webhook delivery pruning failed'),
  );

  constructor(store: Store, days: number, logger: Logger) {
    this.#store = store;
    this.#days = days;
    this.#log = logger.child({ part: 'delivery-retention' });
  }

  start(): void {
    this.#periodic.start();
  }

  /** Stops pruning; a pass in progress finishes first. */
  stop(): Promise<void> {
    return this.#periodic.stop();
  }

  /** Deletes deliveries received more than `days` days before `now`; returns how many went. */
  async prune(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.#days * 86_400_000);
    const r = await this.#store.db
      .deleteFrom('webhook_deliveries')
      .where('received_at', '<', cutoff)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
