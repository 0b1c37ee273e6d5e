import type { LogLine } from './engine.js';

const STREAMS = { 1: 'stdout', 2: 'stderr' } as const;
/** `2026-11-30T12:00:00.123456789Z ` (Docker pads the nanoseconds to nine digits). */
const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z /;

/** Nanoseconds since the epoch of an RFC 3339 UTC time with up to nine fraction digits. */
export function stampNanos(seconds: string, fraction = ''): bigint {
  const ms = Date.parse(`${seconds}Z`);
  return BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
}

/** Docker's `since` for a time in nanoseconds: `seconds.nanoseconds` (inclusive). */
export function dockerSince(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/**
 * Splits Docker's multiplexed log stream (8-byte frame headers; requested with timestamps) into
 * lines with their stream and time. Frames may be cut anywhere by the transport: the remainder
 * waits for the next chunk.
 */
export async function* logFrames(raw: AsyncIterable<Buffer | string>): AsyncGenerator<LogLine> {
  const decoder = new TextDecoder();
  let buf: Buffer = Buffer.alloc(0);
  let lastNs = 0n;
  for await (const chunk of raw) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    buf = buf.length ? Buffer.concat([buf, bytes]) : bytes;
    let i = 0;
    while (i + 8 <= buf.length) {
      const size = buf.readUInt32BE(i + 4);
      if (i + 8 + size > buf.length) break;
      const stream = STREAMS[buf[i] as 1 | 2] ?? 'stdout';
      const payload = decoder.decode(buf.subarray(i + 8, i + 8 + size));
      i += 8 + size;
      for (const line of payload.replace(/\n$/, '').split('\n')) {
        const m = STAMP.exec(line);
        // Every frame starts with its time; a line without one (a message with inner newlines) takes the last.
        if (m) lastNs = stampNanos(m[1]!, m[2]);
        yield { stream, ns: lastNs, text: m ? line.slice(m[0].length) : line };
      }
    }
    buf = buf.subarray(i);
  }
}
