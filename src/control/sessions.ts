import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenScope } from '../domain/access.js';
import { RondoError } from '../domain/errors.js';
import { recordAudit, recordAuditFrom } from './audit.js';
import type { Actor, ControlDeps, RequestContext } from './context.js';
import { newId } from './ids.js';
import { hashToken, type RequestSource } from './tokens.js';

/** How long a console sign-in lasts at most; a token that expires sooner ends it sooner. */
export const SESSION_HOURS = 12;

export interface SessionGrant {
  /** The cookie's value: 32 random bytes, stored only as its SHA-256. */
  secret: string;
  csrfToken: string;
  expiresAt: Date;
}

export interface SessionInfo {
  id: string;
  expiresAt: Date;
}

/**
 * The CSRF token of a session, derived from its secret: a page of this origin learns it from
 * `GET /api/v1/session`; another origin can neither read that answer nor the cookie.
 */
export function csrfTokenOf(secret: string): string {
  return createHash('sha256').update(`rondo-csrf\0${secret}`, 'utf8').digest('base64url');
}

export function csrfMatches(sent: string | undefined, secret: string): boolean {
  if (!sent) return false;
  const a = Buffer.from(sent, 'utf8');
  const b = Buffer.from(csrfTokenOf(secret), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Exchanges the caller's token (already authenticated) for a session that lives and dies with it. */
export async function createSession(deps: ControlDeps, ctx: RequestContext): Promise<SessionGrant> {
  const now = deps.now?.() ?? new Date();
  const token = await deps.store.db
    .selectFrom('tokens')
    .select('expires_at')
    .where('id', '=', ctx.actor.tokenId)
    .executeTakeFirst();
  let expiresAt = new Date(now.getTime() + SESSION_HOURS * 3_600_000);
  if (token?.expires_at && token.expires_at < expiresAt) expiresAt = token.expires_at;
  const secret = randomBytes(32).toString('base64url');
  const id = newId('ses');
  await deps.store.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('sessions')
      .values({
        id,
        user_id: ctx.actor.userId,
        token_id: ctx.actor.tokenId,
        hash: hashToken(secret),
        scopes: JSON.stringify(ctx.actor.scopes),
        expires_at: expiresAt,
      })
      .execute();
    await recordAudit(tx, ctx, {
      org: null,
      action: 'session.create',
      resourceType: 'session',
      resource: id,
      outcome: 'success',
      detail: { tokenId: ctx.actor.tokenId, expiresAt: expiresAt.toISOString() },
    });
  });
  return { secret, csrfToken: csrfTokenOf(secret), expiresAt };
}

function ended(why: string): RondoError {
  return new RondoError('RONDO_ERR_AUTH_SESSION_ENDED', why);
}

/**
 * Resolves a session cookie to its actor. A session ends when it expires, is signed out, or the
 * token it was made from is revoked or expires. An unknown secret is audited like a bad token.
 */
export async function authenticateSession(
  deps: ControlDeps,
  secret: string,
  source: RequestSource,
): Promise<{ actor: Actor; session: SessionInfo }> {
  const row = await deps.store.db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .leftJoin('tokens as t', 't.id', 's.token_id')
    .select([
      's.id',
      's.token_id',
      's.scopes',
      's.expires_at',
      's.revoked_at',
      't.revoked_at as token_revoked_at',
      't.expires_at as token_expires_at',
      'u.id as user_id',
      'u.name',
      'u.platform_admin',
      'u.default_org',
    ])
    .where('s.hash', '=', hashToken(secret))
    .executeTakeFirst();
  if (!row) {
    await recordAuditFrom(
      deps.store.db,
      { actorName: 'anonymous', ...source },
      {
        org: null,
        action: 'session.authenticate',
        resourceType: 'session',
        resource: 'unknown',
        outcome: 'denied',
        detail: { code: 'RONDO_ERR_AUTH_SESSION_ENDED' },
      },
    );
    throw ended('the console session is not known; sign in again');
  }
  const now = deps.now?.() ?? new Date();
  if (row.revoked_at) throw ended('you signed out of this console session');
  if (row.expires_at <= now) throw ended(`the console session expired at ${row.expires_at.toISOString()}`);
  if (row.token_revoked_at) throw ended('the token this session was signed in with was revoked');
  if (row.token_expires_at && row.token_expires_at <= now) {
    throw ended('the token this session was signed in with has expired');
  }
  return {
    actor: {
      userId: row.user_id,
      userName: row.name,
      platformAdmin: row.platform_admin,
      defaultOrg: row.default_org,
      tokenId: row.token_id ?? row.id,
      scopes: row.scopes as TokenScope[],
    },
    session: { id: row.id, expiresAt: row.expires_at },
  };
}

/** Signs a session out: it is refused from the next request on, whoever holds the cookie. */
export async function endSession(deps: ControlDeps, ctx: RequestContext, sessionId: string): Promise<void> {
  await deps.store.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('sessions')
      .set({ revoked_at: deps.now?.() ?? new Date() })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .execute();
    await recordAudit(tx, ctx, {
      org: null,
      action: 'session.delete',
      resourceType: 'session',
      resource: sessionId,
      outcome: 'success',
      detail: {},
    });
  });
}
