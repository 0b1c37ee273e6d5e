import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Actor, RequestContext } from '../control/context.js';
import { RondoError } from '../domain/errors.js';

// What every route plugin shares with the API's assembly (app.ts), kept apart so route files
// never import the file that imports them.

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a token (health, the OpenAPI document). */
    public?: boolean;
  }
}

export type Api = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  import('fastify').FastifyBaseLogger,
  ZodTypeProvider
>;

/** The request as the control layer sees it; only call on authenticated routes. */
export function contextOf(request: FastifyRequest): RequestContext {
  if (!request.actor) throw new RondoError('RONDO_ERR_AUTH_TOKEN_MISSING', 'this route needs a token');
  return { actor: request.actor, requestId: request.id, sourceIp: request.ip };
}
