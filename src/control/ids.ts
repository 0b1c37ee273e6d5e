import { randomBytes } from 'node:crypto';

/** A random, prefixed id such as `cmp_3f9a…`; the prefix says what kind of resource it names. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

/** True when `err` is PostgreSQL's unique_violation (both drivers report SQLSTATE in `code`). */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === '23505';
}
