import { RondoError } from '../domain/errors.js';

/**
 * Optimistic concurrency on projects, components, environments and pipelines: every update bumps
 * `resource_version`; a client that sends the `resourceVersion` it read is refused (409) when
 * someone changed the resource since. Updates are compare-and-set on the version they read, so
 * two writers that read the same version cannot both win, whether or not they sent one.
 */
export interface Versioned {
  resourceVersion?: number | undefined;
}

/** The 409 for a stale version. */
export function staleVersion(
  kind: string,
  name: string,
  sent: number | string,
  now: number | string,
): RondoError {
  return new RondoError(
    'RONDO_ERR_CONFLICT_REVISION',
    `${kind} '${name}' changed since you read it (you sent resourceVersion ${sent}, it is at ${now}); read it again, reapply your change and send that resourceVersion`,
  );
}

/** Refuses a `resourceVersion` that is not the current one. */
export function checkResourceVersion(
  kind: string,
  name: string,
  current: number,
  sent: number | undefined,
): void {
  if (sent !== undefined && sent !== current) throw staleVersion(kind, name, sent, current);
}

/** After a compare-and-set update: no row matched means another writer bumped the version first. */
export function changedOrConflict(
  result: readonly { numUpdatedRows: bigint }[],
  kind: string,
  name: string,
  read: number,
): void {
  if (result.every((r) => r.numUpdatedRows === 0n)) throw staleVersion(kind, name, read, 'a newer version');
}
