/**
 * Wakes the runtime log followers in this process when the collector has stored a batch, so a
 * follower reads the store when there is something new instead of on a short timer.
 */
export class LogChanges {
  #waiting = new Set<() => void>();

  /** Called after a batch was committed. */
  stored(): void {
    const wake = this.#waiting;
    this.#waiting = new Set();
    for (const w of wake) w();
  }

  /** Resolves at the next stored batch, after `ms` at the latest (another control plane may write), or on abort. */
  next(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms).unref();
      this.#waiting.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
