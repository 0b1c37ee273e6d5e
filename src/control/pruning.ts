import type { Logger } from 'pino';
import { Periodic } from './periodic.js';

const HOUR_MS = 3_600_000;

/** One kind of history retention: deletes what is no longer kept and says how many rows went. */
export interface PruneJob {
  /** What goes, for the log ("execution history"). */
  what: string;
  prune: () => Promise<number>;
}

/** Runs history retention at start and hourly; stopping waits for a pass in progress. */
export class Pruning {
  readonly #periodic: Periodic;

  constructor(jobs: PruneJob[], logger: Logger) {
    const log = logger.child({ part: 'pruning' });
    this.#periodic = new Periodic(
      async () => {
        for (const job of jobs) {
          const deleted = await job.prune();
          if (deleted > 0) log.info({ deleted }, `pruned ${job.what}`);
        }
      },
      HOUR_MS,
      (err) => log.warn({ err: String(err) }, 'pruning failed'),
    );
  }

  start(): void {
    this.#periodic.start();
  }

  stop(): Promise<void> {
    return this.#periodic.stop();
  }
}
