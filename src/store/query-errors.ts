import type { LogEvent } from 'kysely';

/**
 * Database errors as the log may show them. PostgreSQL's and PGlite's errors carry the values a
 * query was given (PGlite's `params`, pg's `detail` "Key (name)=(…)", `where` "portal parameter
 * $1 = '…'", data-exception messages quoting the value): those may be secrets or personal data.
 * The log keeps what locates the fault: the SQLSTATE, the query's shape (SQL with $n
 * placeholders) and the schema objects involved.
 */

const QUERY = Symbol('rondo.query');

/** Kysely's log hook: remembers on a failed query's error the SQL it ran (never the values). */
export function rememberFailedQuery(event: LogEvent): void {
  if (event.level !== 'error') return;
  const err = event.error;
  if (err !== null && typeof err === 'object' && !Object.hasOwn(err, QUERY))
    Object.defineProperty(err, QUERY, { value: event.query.sql, enumerable: false });
}

interface DatabaseErrorFields {
  code: string;
  severity: string;
  message?: string;
  query?: unknown;
  hint?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  [QUERY]?: string;
}

function isDatabaseError(err: unknown): err is DatabaseErrorFields {
  const e = err as Partial<DatabaseErrorFields> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.severity === 'string' &&
    typeof e.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(e.code)
  );
}

function isErrorLike(err: unknown): err is Error {
  return (
    err instanceof Error || (typeof err === 'object' && err !== null && 'message' in err && 'stack' in err)
  );
}

/** A database error without the values: SQLSTATE, message, query shape, schema objects. */
function databaseView(e: DatabaseErrorFields): Record<string, unknown> {
  // Class 22 (data exception) messages quote the offending value: `… for type uuid: "…"`.
  const message = e.code.startsWith('22') ? (e.message ?? '').replace(/"[^"]*"/g, '"…"') : e.message;
  const view: Record<string, unknown> = { type: 'DatabaseError', code: e.code, message };
  const query = e[QUERY] ?? (typeof e.query === 'string' ? e.query : undefined);
  if (query) view.query = query;
  for (const key of ['hint', 'schema', 'table', 'column', 'dataType', 'constraint'] as const)
    if (e[key]) view[key] = e[key];
  return view;
}

/**
 * pino's `err` serializer, safe for database errors anywhere in the cause chain: other errors
 * keep their message, stack and fields; database errors are reduced to `databaseView`.
 */
export function logSafeError(err: unknown, depth = 0): unknown {
  if (isDatabaseError(err)) return databaseView(err);
  if (!isErrorLike(err) || depth > 5) return err;
  const out: Record<string, unknown> = {
    type: err.constructor?.name ?? err.name,
    message: err.message,
    stack: err.stack,
  };
  for (const key in err) {
    if (key === 'cause' || out[key] !== undefined) continue;
    const value = (err as unknown as Record<string, unknown>)[key];
    out[key] = isErrorLike(value) || isDatabaseError(value) ? logSafeError(value, depth + 1) : value;
  }
  if (err.cause !== undefined) out.cause = logSafeError(err.cause, depth + 1);
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors)) out.errors = errors.map((e) => logSafeError(e, depth + 1));
  return out;
}
