import { invalid } from '../domain/errors.js';
import { unstorableTextProblem } from '../domain/text.js';

/** A page of a list and the cursor for the next one (absent on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

export const DEFAULT_PAGE_SIZE = 50;

/** Decodes an opaque cursor into the sort key it continues after. */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    // A cursor is the client's to send: what it decodes to reaches a query (NUL would answer 500).
    if (
      parsed &&
      typeof parsed === 'object' &&
      'after' in parsed &&
      typeof parsed.after === 'string' &&
      unstorableTextProblem(parsed.after) === undefined
    ) {
      return parsed.after;
    }
  } catch {
    // falls through to the error below
  }
  throw invalid([{ field: 'cursor', message: 'is not a cursor this API returned; start again without it' }]);
}

function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ after }), 'utf8').toString('base64url');
}

/** Turns `limit + 1` fetched rows into a page; the extra row only says whether there is more. */
export function toPage<R, T>(rows: R[], limit: number, key: (row: R) => string, map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const page: Page<T> = { items: kept.map(map) };
  const last = kept[kept.length - 1];
  if (more && last !== undefined) page.nextCursor = encodeCursor(key(last));
  return page;
}
