import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ControlDeps } from '../control/context.js';
import { authenticateSession, csrfMatches, type SessionInfo } from '../control/sessions.js';
import { RondoError } from '../domain/errors.js';
import type { Api } from './api.js';

export const SESSION_COOKIE = 'rondo_session';
export const CSRF_HEADER = 'x-rondo-csrf';

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session the request was authenticated with; null for bearer tokens. */
    consoleSession: (SessionInfo & { secret: string }) | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Clears the session cookie in the browser (sign-out, or a session that has ended). */
export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

/**
 * Authentication by bearer token (the CLI, unchanged) or by the console's session cookie. A bearer
 * header wins when both are sent. With the cookie, every request that can change something must
 * also carry the session's CSRF token in `x-rondo-csrf`: a cross-site form or fetch can make the
 * browser send the cookie (SameSite=Strict already stops most) but can never know the token.
 */
export async function registerSessionAuthentication(app: Api, deps: ControlDeps, bearer: Hook) {
  await app.register(cookie);
  app.decorateRequest('consoleSession', null);
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.public) return;
    const secret = request.cookies[SESSION_COOKIE];
    if (request.headers.authorization || !secret) return bearer(request, reply);
    try {
      const { actor, session } = await authenticateSession(deps, secret, {
        requestId: request.id,
        sourceIp: request.ip,
      });
      request.actor = actor;
      request.consoleSession = { ...session, secret };
    } catch (err) {
      if (err instanceof RondoError && err.code === 'RONDO_ERR_AUTH_SESSION_ENDED') clearSessionCookie(reply);
      throw err;
    }
    if (!SAFE_METHODS.has(request.method) && !csrfMatches(headerOf(request, CSRF_HEADER), secret)) {
      throw new RondoError(
        'RONDO_ERR_AUTH_CSRF',
        `${request.method} with a session cookie needs the ${CSRF_HEADER} header`,
      );
    }
  });
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}
