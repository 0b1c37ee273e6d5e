/**
 * The last `limit` bytes of an execution's output: the end of a log is what explains how a run
 * ended, so the start is what gets dropped when a run says too much.
 */
export class LogTail {
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #dropped = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#chunks.push(buf);
    this.#size += buf.length;
    while (this.#size > this.#limit && this.#chunks.length > 0) {
      const first = this.#chunks[0]!;
      const excess = this.#size - this.#limit;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
        this.#dropped += first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
        this.#dropped += excess;
      }
    }
  }

  /**
   * Adds what `last` (the engine's final lines, read after the exit) has beyond the kept text:
   * a follow stream can end before the engine flushes a last line that has no newline.
   */
  completeWith(last: string): void {
    const missing = missingTail(Buffer.concat(this.#chunks).toString('utf8'), last);
    if (missing) this.push(missing);
  }

  get truncated(): boolean {
    return this.#dropped > 0;
  }

  /** The kept text, with a first line saying how much was dropped when anything was. */
  text(): string {
    const kept = Buffer.concat(this.#chunks).toString('utf8');
    if (!this.truncated) return kept;
    return `[rondo: the first ${this.#dropped} bytes of this log were dropped; an execution keeps its last ${this.#limit} bytes]\n${kept}`;
  }
}

/** The part of `last` that `text` does not already end with (the longest overlap counts). */
export function missingTail(text: string, last: string): string {
  for (let k = Math.min(last.length, text.length); k > 0; k--)
    if (text.endsWith(last.slice(0, k))) return last.slice(k);
  return last;
}
