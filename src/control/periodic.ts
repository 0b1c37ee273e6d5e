/**
 * A pass that runs now and then `everyMs` after each pass ends, so passes never overlap.
 * `stop()` cancels the next pass and waits for the one running, after which nothing runs again.
 */
export class Periodic {
  readonly #pass: () => Promise<unknown>;
  readonly #everyMs: number;
  readonly #onError: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = true;

  constructor(pass: () => Promise<unknown>, everyMs: number, onError: (err: unknown) => void) {
    this.#pass = pass;
    this.#everyMs = everyMs;
    this.#onError = onError;
  }

  start(): void {
    this.#stopped = false;
    this.#tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  readonly #tick = (): void => {
    this.#running = this.#pass()
      .then(
        () => undefined,
        (err: unknown) => this.#onError(err),
      )
      .finally(() => {
        if (this.#stopped) return;
        this.#timer = setTimeout(this.#tick, this.#everyMs);
        this.#timer.unref();
      });
  };
}
