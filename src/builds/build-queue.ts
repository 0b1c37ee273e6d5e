import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeTerminalState } from '../control/terminal-write.js';
import { storableError } from '../domain/storable-text.js';
import type { Store } from '../store/store.js';

/**
 * Runs builds up to `concurrency` at a time, oldest first. After a restart, builds that were
 * running are failed as interrupted (their containers are gone with the engine's build) and
 * queued ones run. A build whose run ended here without recording its end (it crashed) is failed
 * then, so no build stays `running` with nothing behind it.
 */
export class BuildQueue {
  readonly #pending: string[] = [];
  #running = 0;
  readonly #run: (id: string) => Promise<void>;
  readonly #concurrency: number;
  readonly #log: Logger;
  readonly #active = new Set<Promise<void>>();

  readonly #store: Store;

  constructor(run: (id: string) => Promise<void>, concurrency: number, logger: Logger, store: Store) {
    this.#run = run;
    this.#concurrency = concurrency;
    this.#log = logger;
    this.#store = store;
  }

  /** Fails the builds a stopped control plane left running (and drops their checkouts); queues the rest. */
  async recover(store: Store, workDir: string): Promise<void> {
    const interrupted = await store.db
      .updateTable('builds')
      .set({
        status: 'failed',
        reason: 'interrupted: the control plane stopped during the build',
        finished_at: new Date(),
      })
      .where('status', '=', 'running')
      .returning('id')
      .execute();
    // A checkout may be in memory (a tmpfs): nothing else would ever remove it.
    for (const b of interrupted) rmSync(join(workDir, b.id), { recursive: true, force: true });
    const queued = await store.db
      .selectFrom('builds')
      .select('id')
      .where('status', '=', 'queued')
      .orderBy('created_at')
      .execute();
    for (const q of queued) this.enqueue(q.id);
  }

  enqueue(id: string): void {
    if (!this.#pending.includes(id)) this.#pending.push(id);
    this.#pump();
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#pending.length > 0) {
      const id = this.#pending.shift()!;
      this.#running++;
      const p = this.#run(id)
        .then(
          () => this.#failIfRunning(id, 'the build stopped without recording how it ended'),
          (err: unknown) => {
            this.#log.error({ err, build: id }, 'build crashed');
            return this.#failIfRunning(id, `the build crashed: ${storableError(err)}`);
          },
        )
        .finally(() => {
          this.#running--;
          this.#active.delete(p);
          this.#pump();
        });
      this.#active.add(p);
    }
  }

  /** Records `reason` as the end of a build its run left `running` (retried; see `writeTerminalState`). */
  async #failIfRunning(id: string, reason: string): Promise<void> {
    const fail = (why: string) =>
      this.#store.db
        .updateTable('builds')
        .set({ status: 'failed', reason: why, finished_at: new Date() })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .execute();
    await writeTerminalState(
      this.#log,
      `build ${id}`,
      () => fail(reason),
      () => fail(reason),
    );
  }

  /** Waits for the builds in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#active.size > 0) await Promise.allSettled([...this.#active]);
  }
}
