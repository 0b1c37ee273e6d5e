/**
 * Lines for a person: lasting lines scroll as usual; on a terminal, live lines (one per task in
 * flight) stay below them and are rewritten in place. Off a terminal (a log file) live lines are
 * not written, so the file never holds the same status twice.
 */
export class LiveLines {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #live = new Map<string, string>();
  /** How many live lines are on the screen now. */
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  get tty(): boolean {
    return this.#tty;
  }

  /** A lasting line. */
  line(text: string): void {
    if (!this.#tty) return void this.#out.write(`${text}\n`);
    this.#out.write(`${this.#erase()}${text}\n${this.#render()}`);
  }

  /** Sets (or, with `undefined`, removes) the live line `key`; the screen follows within 100 ms. */
  set(key: string, text: string | undefined): void {
    if (!this.#tty) return;
    if (text === undefined) this.#live.delete(key);
    else this.#live.set(key, text);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#out.write(`${this.#erase()}${this.#render()}`);
    }, 100);
  }

  /** Removes every live line from the screen. */
  done(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#live.clear();
    if (this.#tty) this.#out.write(this.#erase());
  }

  #erase(): string {
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : '';
    this.#drawn = 0;
    return `${up}\r\x1b[J`;
  }

  #render(): string {
    // A line wider than the terminal wraps and would break the count of lines to go back up.
    const width = Math.max(20, (this.#out.columns || 80) - 1);
    const lines = [...this.#live.values()].map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
    this.#drawn = lines.length;
    return lines.map((l) => `${l}\n`).join('');
  }
}

/** How often a progress line is written off a terminal (a log file keeps a few, not one a second). */
const LOGGED_PROGRESS_MS = 10_000;

/**
 * Writes a followed build log: lines that start with `\r` are the running step's progress,
 * rewritten in place on a terminal and written every 10 s at most elsewhere.
 */
export function buildLogWriter(out: NodeJS.WriteStream): { write(chunk: string): void; end(): void } {
  const live = new LiveLines(out);
  let partial = '';
  let loggedAt = 0;
  return {
    write(chunk) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('\r')) {
          // A new step's header: the last step's progress is over.
          if (line.startsWith('--- ')) live.set('progress', undefined);
          live.line(line);
          continue;
        }
        const progress = `… ${line.slice(1)}`;
        if (live.tty) live.set('progress', progress);
        else if (Date.now() - loggedAt >= LOGGED_PROGRESS_MS) {
          loggedAt = Date.now();
          out.write(`${progress}\n`);
        }
      }
    },
    end() {
      live.done();
      if (partial) out.write(partial);
      partial = '';
    },
  };
}
