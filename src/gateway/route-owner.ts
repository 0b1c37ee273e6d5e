import type { RouteOwner } from '../domain/gateway-routes.js';

/**
 * What every gateway's access log carries whatever the proxy: the owner of the route that
 * answered, as one key the route sets and clients never see, and the outcome code of §7 the
 * gateway answered with (a response header the log reads).
 */

const KEY_PREFIX = 'rondo1';
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The response header that carries the outcome code, so the access log records it. */
export const OUTCOME_HEADER = 'X-Rondo-Outcome';

/** The text a route logs as its owner: `rondo1;org;project;component;environment;deployment|-`. */
export function ownerKey(o: RouteOwner): string {
  return [KEY_PREFIX, o.orgId, o.projectId, o.componentId, o.environmentId, o.deploymentId ?? '-'].join(';');
}

/** The inverse of `ownerKey`; undefined for anything that is not one. */
export function parseOwnerKey(key: string): RouteOwner | undefined {
  const parts = key.split(';');
  if (parts.length !== 6 || parts[0] !== KEY_PREFIX) return undefined;
  const [, orgId = '', projectId = '', componentId = '', environmentId = '', deployment = ''] = parts;
  if (![orgId, projectId, componentId, environmentId, deployment].every((p) => ID.test(p))) return undefined;
  return {
    orgId,
    projectId,
    componentId,
    environmentId,
    deploymentId: deployment === '-' ? null : deployment,
  };
}
