import type { RequestContext } from '../../control/context.js';
import { RondoError } from '../../domain/errors.js';

/** Resolves `{org}`: a name, or `_` for the caller's default organization. */
export function orgName(ctx: RequestContext, param: string): string {
  if (param !== '_') return param;
  if (!ctx.actor.defaultOrg) {
    throw new RondoError(
      'RONDO_ERR_NOT_FOUND',
      'you have no default organization; name one with --org or RONDO_ORG',
    );
  }
  return ctx.actor.defaultOrg;
}
