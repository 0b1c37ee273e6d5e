/**
 * Tells the log followers in this process that a build's record changed (steps, logs, status), so
 * a follower reads it when there is something new instead of polling the store on a timer.
 */
export class BuildChanges {
  readonly #waiting = new Map<string, Set<() => void>>();
  readonly #progress = new Map<string, string>();

  /**
   * The running step's progress line (`push 12 s: layer 3f2a… 12.3 MB / 41.2 MB`), kept in memory
   * only: followers show it live, the stored log never holds it. `undefined` clears it.
   */
  progress(buildId: string, line: string | undefined): void {
    if (this.#progress.get(buildId) === line) return;
    if (line === undefined) this.#progress.delete(buildId);
    else this.#progress.set(buildId, line);
    this.changed(buildId);
  }

  progressOf(buildId: string): string | undefined {
    return this.#progress.get(buildId);
  }

  /** Called after the build's row was written. */
  changed(buildId: string): void {
    const wake = this.#waiting.get(buildId);
    if (!wake) return;
    this.#waiting.delete(buildId);
    for (const w of wake) w();
  }

  /**
   * Resolves at the build's next change, or after `ms` at the latest: a build cancelled or run by
   * another control plane on the same store changes without telling this process.
   */
  next(buildId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = this.#waiting.get(buildId) ?? new Set<() => void>();
      this.#waiting.set(buildId, wake);
      const done = () => {
        clearTimeout(timer);
        wake.delete(done);
        if (wake.size === 0 && this.#waiting.get(buildId) === wake) this.#waiting.delete(buildId);
        resolve();
      };
      // A follower that went away must not hold the process open.
      const timer = setTimeout(done, ms).unref();
      wake.add(done);
    });
  }
}
