import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Where reading a file stands: which file (device:inode) and the offset after the last whole line. */
export interface FilePosition {
  fileId: string;
  offset: number;
}

/** Whole lines read from a file, and the position after the last of them. */
export interface LineChunk {
  lines: string[];
  /** The position after each line (same length as `lines`), for stores that keep it per batch. */
  ends: number[];
  position: FilePosition;
  /** Lines longer than the chunk limit, skipped whole. */
  oversized: number;
}

const fileIdOf = (s: { dev: number; ino: number }) => `${s.dev}:${s.ino}`;

/**
 * Reads a log file that another process appends to, line by line, across rotation (the file is
 * renamed and a new one created: the old one is read to its end first) and truncation (read again
 * from the start). Only whole lines are returned; a line still being written waits for its end.
 * The position it hands out can be stored and given back to `resume` after a restart, even if
 * the file was rotated meanwhile (the rotated file is found by its inode next to the new one).
 */
export class AccessLogFile {
  readonly #path: string;
  readonly #chunkBytes: number;
  #handle: FileHandle | undefined;
  #position: FilePosition | undefined;
  /** A rotated-away file still to finish, as found at resume. */
  #rotated: string | undefined;
  #skippingLongLine = false;

  constructor(path: string, chunkBytes = 2 * 1024 * 1024) {
    this.#path = path;
    this.#chunkBytes = chunkBytes;
  }

  /** Starts from a stored position (or the start of the file when there is none). */
  async resume(from: FilePosition | undefined): Promise<void> {
    await this.close();
    this.#position = from;
    if (!from) return;
    const now = await stat(this.#path).catch(() => undefined);
    if (now && fileIdOf(now) === from.fileId) return;
    // Rotated while nobody read it: finish the old file if it is still there.
    this.#rotated = await this.#findById(from.fileId);
    if (!this.#rotated) this.#position = undefined;
  }

  async #findById(fileId: string): Promise<string | undefined> {
    const dir = dirname(this.#path);
    const stem = basename(this.#path).replace(/\.[^.]*$/, '');
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith(stem)) continue;
      const s = await stat(join(dir, name)).catch(() => undefined);
      if (s && fileIdOf(s) === fileId) return join(dir, name);
    }
    return undefined;
  }

  /** The next whole lines, or none when nothing new was written. */
  async read(): Promise<LineChunk> {
    for (;;) {
      const current = await stat(this.#path).catch(() => undefined);
      if (!this.#handle) {
        const target = this.#rotated ?? (current ? this.#path : undefined);
        if (!target) return this.#empty();
        this.#handle = await open(target, 'r');
        const s = await this.#handle.stat();
        if (!this.#position || this.#position.fileId !== fileIdOf(s))
          this.#position = { fileId: fileIdOf(s), offset: 0 };
      }
      const mine = await this.#handle.stat();
      const pos = this.#position!;
      if (mine.size < pos.offset || !(await this.#atLineStart(pos.offset))) {
        // Truncated in place (and perhaps written again past where we were): what is there is new.
        this.#position = { fileId: pos.fileId, offset: 0 };
        this.#skippingLongLine = false;
      }
      const chunk = await this.#readFrom(this.#position!);
      if (chunk.lines.length > 0 || chunk.oversized > 0 || chunk.position.offset !== pos.offset) return chunk;
      // Nothing more in this file: if another one took its name, go on with that one.
      const replaced = this.#rotated !== undefined || (current && fileIdOf(current) !== pos.fileId);
      if (!replaced) return chunk;
      await this.#handle.close();
      this.#handle = undefined;
      this.#rotated = undefined;
      this.#position = undefined;
      this.#skippingLongLine = false;
    }
  }

  /** A stored position is always just after a line end; a file where it is not was rewritten. */
  async #atLineStart(offset: number): Promise<boolean> {
    if (offset === 0 || this.#skippingLongLine) return true;
    const byte = Buffer.alloc(1);
    const { bytesRead } = await this.#handle!.read(byte, 0, 1, offset - 1);
    return bytesRead === 1 && byte[0] === 10;
  }

  async #readFrom(pos: FilePosition): Promise<LineChunk> {
    const buf = Buffer.alloc(this.#chunkBytes);
    const { bytesRead } = await this.#handle!.read(buf, 0, buf.length, pos.offset);
    const data = buf.subarray(0, bytesRead);
    const lines: string[] = [];
    const ends: number[] = [];
    let oversized = 0;
    let start = 0;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
      if (this.#skippingLongLine) {
        // The end of a line too long to hold: it was counted when it was cut.
        this.#skippingLongLine = false;
      } else {
        lines.push(data.toString('utf8', start, nl));
        ends.push(pos.offset + nl + 1);
      }
      start = nl + 1;
    }
    let offset = pos.offset + start;
    if (start === 0 && bytesRead === buf.length) {
      // A whole chunk without a line end: that line is dropped, up to its end.
      if (!this.#skippingLongLine) oversized++;
      this.#skippingLongLine = true;
      offset = pos.offset + bytesRead;
    }
    this.#position = { fileId: pos.fileId, offset };
    return { lines, ends, position: this.#position, oversized };
  }

  #empty(): LineChunk {
    return { lines: [], ends: [], position: this.#position ?? { fileId: '', offset: 0 }, oversized: 0 };
  }

  async close(): Promise<void> {
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
  }
}
