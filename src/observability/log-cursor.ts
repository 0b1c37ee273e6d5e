/**
 * Positions in a component's runtime log: a line's time in microseconds and its id, so that lines
 * written in the same microsecond still have an order. Cursors are opaque to clients.
 */
export interface LogPosition {
  atUs: string;
  id: string;
  /** Which way the page that made it went: `forward` (older to newer) or `backward`. */
  direction: 'forward' | 'backward';
}

const DIGITS = /^\d{1,20}$/;

export function encodeCursor(p: LogPosition): string {
  return Buffer.from(`${p.direction === 'forward' ? 'f' : 'b'}:${p.atUs}:${p.id}`).toString('base64url');
}

/** The position a cursor stands for, or undefined when it is not one Rondo made. */
export function decodeCursor(cursor: string): LogPosition | undefined {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(cursor)) return undefined;
  const [d, atUs, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  if (rest.length || (d !== 'f' && d !== 'b') || !DIGITS.test(atUs ?? '') || !DIGITS.test(id ?? ''))
    return undefined;
  return { direction: d === 'f' ? 'forward' : 'backward', atUs: atUs!, id: id! };
}

const UNIT_MS = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 } as const;

/**
 * `value`: an ISO time (`2026-11-30T10:00:00Z`, a date alone is midnight UTC) or a duration back
 * from `now` (`90s`, `30m`, `6h`, `7d`); undefined when it is neither.
 */
export function parseLogTime(value: string, now = Date.now()): Date | undefined {
  const m = /^(\d{1,9})([smhd])$/.exec(value);
  if (m) return new Date(now - Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? new Date(t) : undefined;
}

/** An ISO time with microseconds from microseconds since the epoch. */
export function isoFromMicros(atUs: string): string {
  const us = BigInt(atUs);
  const iso = new Date(Number(us / 1000n)).toISOString();
  return `${iso.slice(0, 23)}${(us % 1000n).toString().padStart(3, '0')}Z`;
}
