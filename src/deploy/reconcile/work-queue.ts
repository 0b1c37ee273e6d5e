/**
 * A deduplicating work queue of keys (controller-runtime's workqueue, in small): a key waits at
 * most once, is never handled twice at once, and one added while it is being handled runs once
 * more after. A handler's `requeueAfter` schedules the key again (a wait, not an error); a thrown
 * error retries it with exponential backoff.
 */
export interface QueueResult {
  /** Handle the key again after this many milliseconds (it is waiting for something). */
  requeueAfter?: number;
}

export type QueueHandler<K> = (key: K, signal: AbortSignal) => Promise<QueueResult>;

export interface WorkQueueSettings {
  /** Keys handled at the same time. */
  concurrency: number;
  /** First retry delay after an error; doubles per consecutive error of the key. */
  backoffMs: number;
  maxBackoffMs: number;
  onError: (key: string, err: unknown) => void;
}

interface Timer {
  at: number;
  handle: NodeJS.Timeout;
  /** A requeue (the key is waiting for a step) rather than a retry after an error. */
  waiting: boolean;
}

export class WorkQueue<K> {
  readonly #handler: QueueHandler<K>;
  readonly #settings: WorkQueueSettings;
  readonly #idOf: (key: K) => string;
  /** Keys ready to be handled, in order; `#queued` mirrors it for deduplication. */
  readonly #ready: string[] = [];
  readonly #queued = new Map<string, K>();
  readonly #active = new Map<string, Promise<void>>();
  /** Added while being handled: handle once more when done. */
  readonly #dirty = new Map<string, K>();
  readonly #timers = new Map<string, Timer>();
  readonly #failures = new Map<string, number>();
  readonly #abort = new AbortController();
  readonly #idleWaiters: (() => void)[] = [];

  constructor(idOf: (key: K) => string, handler: QueueHandler<K>, settings: WorkQueueSettings) {
    this.#idOf = idOf;
    this.#handler = handler;
    this.#settings = settings;
  }

  get stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Handles `key` as soon as a worker is free (at once if none is busy with it). */
  add(key: K): void {
    if (this.stopped) return;
    const id = this.#idOf(key);
    if (this.#active.has(id)) {
      this.#dirty.set(id, key);
      return;
    }
    this.#clearTimer(id);
    if (this.#queued.has(id)) return;
    this.#queued.set(id, key);
    this.#ready.push(id);
    this.#pump();
  }

  /** Handles `key` after `ms`, unless something adds it sooner. */
  addAfter(key: K, ms: number, waiting = true): void {
    if (this.stopped) return;
    const id = this.#idOf(key);
    const at = Date.now() + ms;
    const existing = this.#timers.get(id);
    if (existing && existing.at <= at) return;
    this.#clearTimer(id);
    const handle = setTimeout(() => {
      this.#timers.delete(id);
      this.add(key);
      this.#checkIdle();
    }, ms);
    handle.unref?.();
    this.#timers.set(id, { at, handle, waiting });
  }

  /**
   * Resolves when nothing is handled, queued, or waiting for a step (a requeue); retries after an
   * error do not count, or a key that keeps failing would keep the queue busy forever.
   */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking keys, aborts handlers in progress and waits for them. */
  async stop(): Promise<void> {
    this.#abort.abort();
    for (const id of [...this.#timers.keys()]) this.#clearTimer(id);
    this.#ready.length = 0;
    this.#queued.clear();
    this.#dirty.clear();
    await Promise.allSettled([...this.#active.values()]);
    this.#checkIdle();
  }

  #isIdle(): boolean {
    return (
      this.#active.size === 0 && this.#queued.size === 0 && ![...this.#timers.values()].some((t) => t.waiting)
    );
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  #clearTimer(id: string): void {
    const t = this.#timers.get(id);
    if (!t) return;
    clearTimeout(t.handle);
    this.#timers.delete(id);
  }

  #pump(): void {
    while (this.#active.size < this.#settings.concurrency && this.#ready.length > 0) {
      const id = this.#ready.shift() as string;
      const key = this.#queued.get(id) as K;
      this.#queued.delete(id);
      this.#active.set(id, this.#run(id, key));
    }
  }

  async #run(id: string, key: K): Promise<void> {
    let result: QueueResult = {};
    let failed = false;
    try {
      result = await this.#handler(key, this.#abort.signal);
      this.#failures.delete(id);
    } catch (err) {
      failed = true;
      if (!this.stopped) this.#settings.onError(id, err);
    }
    this.#active.delete(id);
    const again = this.#dirty.get(id);
    this.#dirty.delete(id);
    if (again !== undefined) this.add(again);
    else if (failed) {
      const n = (this.#failures.get(id) ?? 0) + 1;
      this.#failures.set(id, n);
      const delay = Math.min(this.#settings.backoffMs * 2 ** (n - 1), this.#settings.maxBackoffMs);
      this.addAfter(key, delay, false);
    } else if (result.requeueAfter !== undefined) this.addAfter(key, result.requeueAfter);
    this.#pump();
    this.#checkIdle();
  }
}
