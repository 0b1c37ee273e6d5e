import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import { createSession, csrfTokenOf, endSession } from '../../control/sessions.js';
import { RondoError } from '../../domain/errors.js';
import { type Api, contextOf } from '../api.js';
import { problemResponses } from '../schemas.js';
import { clearSessionCookie, SESSION_COOKIE } from '../session-auth.js';

const tags = ['session'];
const Session = z.object({
  csrfToken: z.string().describe('send as the x-rondo-csrf header with every change made with the cookie'),
  expiresAt: z.string().describe('when the session ends (ISO 8601)'),
});

/**
 * The console's sign-in: `POST /session` with `Authorization: Bearer <token>` answers a session
 * cookie (HttpOnly, SameSite=Strict, Secure over TLS), so the page never keeps the token.
 */
export function sessionRoutes(app: Api, deps: ControlDeps): void {
  app.post(
    '/session',
    {
      schema: {
        tags,
        description: 'Exchanges the bearer token of the request for a console session cookie.',
        response: { 201: Session, ...problemResponses },
      },
    },
    async (req, reply) => {
      if (req.consoleSession) {
        throw new RondoError('RONDO_ERR_AUTH_TOKEN_MISSING', 'sign in with a token, not with a session');
      }
      const grant = await createSession(deps, contextOf(req));
      reply.setCookie(SESSION_COOKIE, grant.secret, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: req.protocol === 'https',
        expires: grant.expiresAt,
      });
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ csrfToken: grant.csrfToken, expiresAt: grant.expiresAt.toISOString() });
    },
  );

  app.get(
    '/session',
    {
      schema: {
        tags,
        description: 'The current console session and its CSRF token (cookie sessions only).',
        response: { 200: Session, ...problemResponses },
      },
    },
    async (req, reply) => {
      const session = req.consoleSession;
      if (!session) throw new RondoError('RONDO_ERR_AUTH_SESSION_ENDED', 'this request carries no session');
      reply.header('cache-control', 'no-store');
      return { csrfToken: csrfTokenOf(session.secret), expiresAt: session.expiresAt.toISOString() };
    },
  );

  app.delete(
    '/session',
    {
      schema: {
        tags,
        description: 'Signs out: the session is revoked server-side and the cookie cleared.',
        response: { 204: z.null().describe('signed out'), ...problemResponses },
      },
    },
    async (req, reply) => {
      const session = req.consoleSession;
      if (!session) throw new RondoError('RONDO_ERR_AUTH_SESSION_ENDED', 'this request carries no session');
      await endSession(deps, contextOf(req), session.id);
      clearSessionCookie(reply);
      return reply.code(204).send(null);
    },
  );
}
