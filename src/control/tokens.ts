import { createHash, randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { TokenScope } from '../domain/access.js';
import { invalid, notFound, RondoError } from '../domain/errors.js';
import type { AccessToken } from '../domain/resources.js';
import type { Database } from '../store/schema.js';
import type { Executor } from '../store/store.js';
import { recordAudit, recordAuditFrom, refuse } from './audit.js';
import type { Actor, ControlDeps, RequestContext } from './context.js';
import { newId } from './ids.js';
import { toToken } from './mappers.js';
import type { Attempt } from './org-access.js';

/** Tokens are 32 random bytes; high entropy makes a plain SHA-256 a safe way to store them. */
export function generateToken(): string {
  return `rondo_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface TokenInput {
  name: string;
  scopes?: TokenScope[];
  expiresInDays?: number;
}

/** Stores a token's hash for `userId`; the caller shows `token` once and forgets it. */
export async function insertToken(tx: Executor, userId: string, input: TokenInput, token: string, now: Date) {
  const expires =
    input.expiresInDays === undefined ? null : new Date(now.getTime() + input.expiresInDays * 86_400_000);
  const id = newId('tok');
  await tx
    .insertInto('tokens')
    .values({
      id,
      user_id: userId,
      name: input.name,
      hash: hashToken(token),
      scopes: JSON.stringify(input.scopes ?? ['read', 'write']),
      expires_at: expires,
    })
    .execute();
  return id;
}

async function findTokenView(db: Executor, id: string): Promise<AccessToken> {
  const row = await db
    .selectFrom('tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .selectAll('t')
    .select('u.name as user_name')
    .where('t.id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('token', id);
  return toToken(row);
}

/**
 * Token administration is a change: it needs the `write` scope. Acting on another user's tokens is
 * platform administration: a platform admin with the `admin` scope. A refusal is audited.
 */
async function authorizeTokenChange(
  deps: ControlDeps,
  ctx: RequestContext,
  event: Attempt,
  forOther: boolean,
): Promise<void> {
  const has = (scope: TokenScope) => ctx.actor.scopes.includes(scope) || ctx.actor.scopes.includes('admin');
  const what = event.action === 'token.create' ? 'create tokens' : 'revoke tokens';
  let refused: RondoError | undefined;
  if (!has('write')) {
    refused = new RondoError('RONDO_ERR_AUTH_SCOPE', `this token lacks the 'write' scope needed to ${what}`);
  } else if (forOther && !ctx.actor.platformAdmin) {
    refused = new RondoError(
      'RONDO_ERR_AUTH_FORBIDDEN',
      "only platform admins may manage other users' tokens",
    );
  } else if (forOther && !ctx.actor.scopes.includes('admin')) {
    refused = new RondoError(
      'RONDO_ERR_AUTH_SCOPE',
      `this token lacks the 'admin' scope needed to ${what} of another user`,
    );
  }
  if (refused) await refuse(deps.store.db, ctx, { ...event, org: null }, refused);
}

/**
 * Creates a token for the caller, or, for a platform admin, for another user (onboarding). A token
 * cannot carry a scope its creator's token lacks.
 */
export async function createToken(
  deps: ControlDeps,
  ctx: RequestContext,
  input: TokenInput & { user?: string },
): Promise<{ token: string; info: AccessToken }> {
  const forOther = input.user !== undefined && input.user !== ctx.actor.userName;
  const audit = {
    action: 'token.create',
    resourceType: 'token',
    resource: `${input.user ?? ctx.actor.userName}/${input.name}`,
  };
  await authorizeTokenChange(deps, ctx, audit, forOther);
  const scopes = input.scopes ?? ['read', 'write'];
  const beyond = scopes.filter((s) => !ctx.actor.scopes.includes(s));
  if (beyond.length > 0) {
    throw invalid([
      {
        field: 'scopes',
        message: `your token lacks ${beyond.join(', ')}; a new token cannot have more scopes than yours`,
      },
    ]);
  }
  const token = generateToken();
  return deps.store.db.transaction().execute(async (tx) => {
    let userId = ctx.actor.userId;
    if (forOther) {
      const user = await tx
        .selectFrom('users')
        .select('id')
        .where('name', '=', input.user!)
        .executeTakeFirst();
      if (!user) throw notFound('user', input.user!);
      userId = user.id;
    }
    const id = await insertToken(tx, userId, { ...input, scopes }, token, deps.now?.() ?? new Date());
    await recordAudit(tx, ctx, { ...audit, org: null, outcome: 'success', detail: { tokenId: id, scopes } });
    return { token, info: await findTokenView(tx, id) };
  });
}

/** The caller's tokens (never the token values; those exist only at creation). */
export async function listTokens(deps: ControlDeps, ctx: RequestContext): Promise<AccessToken[]> {
  const rows = await deps.store.db
    .selectFrom('tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .selectAll('t')
    .select('u.name as user_name')
    .where('t.user_id', '=', ctx.actor.userId)
    .orderBy('t.created_at')
    .execute();
  return rows.map(toToken);
}

/** Revokes one of the caller's tokens (platform admins: anyone's). Revoked tokens answer 401 at once. */
export async function revokeToken(deps: ControlDeps, ctx: RequestContext, id: string): Promise<void> {
  const row = await deps.store.db
    .selectFrom('tokens')
    .select(['id', 'user_id'])
    .where('id', '=', id)
    .executeTakeFirst();
  const own = row?.user_id === ctx.actor.userId;
  // Another user's token is as missing as an unknown one to anyone but a platform admin.
  if (!row || !(own || ctx.actor.platformAdmin)) {
    await authorizeTokenChange(deps, ctx, revocation(id), false);
    throw notFound('token', id);
  }
  await authorizeTokenChange(deps, ctx, revocation(id), !own);
  await deps.store.db.transaction().execute(async (tx: Transaction<Database>) => {
    await tx
      .updateTable('tokens')
      .set({ revoked_at: deps.now?.() ?? new Date() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
    await recordAudit(tx, ctx, { ...revocation(id), org: null, outcome: 'success', detail: {} });
  });
}

function revocation(id: string): Attempt {
  return { action: 'token.revoke', resourceType: 'token', resource: id };
}

/** Where a request came from, for the audit event of a failed authentication. */
export interface RequestSource {
  requestId: string;
  sourceIp: string;
}

/**
 * Records a failed authentication as a platform-level event: the token's user and id when the token
 * is known (revoked, expired), never any part of the token itself. Then throws the refusal.
 */
export async function refuseAuthentication(
  deps: ControlDeps,
  request: RequestSource,
  refusal: RondoError,
  token?: { id: string; userName: string },
): Promise<never> {
  await recordAuditFrom(
    deps.store.db,
    { actorName: token?.userName ?? 'anonymous', ...request },
    {
      org: null,
      action: 'token.authenticate',
      resourceType: 'token',
      resource: token?.id ?? 'unknown',
      outcome: 'denied',
      detail: { code: refusal.code },
    },
  );
  throw refusal;
}

/** Resolves a bearer token to its actor, or records and throws the 401 that says why it is not accepted. */
export async function authenticate(deps: ControlDeps, token: string, request: RequestSource): Promise<Actor> {
  const row = await deps.store.db
    .selectFrom('tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select([
      't.id',
      't.scopes',
      't.expires_at',
      't.revoked_at',
      't.last_used_at',
      'u.id as user_id',
      'u.name',
      'u.platform_admin',
      'u.default_org',
    ])
    .where('t.hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!row)
    return refuseAuthentication(
      deps,
      request,
      new RondoError('RONDO_ERR_AUTH_TOKEN_INVALID', 'the access token is not valid'),
    );
  const known = { id: row.id, userName: row.name };
  const now = deps.now?.() ?? new Date();
  if (row.revoked_at) {
    const at = row.revoked_at.toISOString();
    const refusal = new RondoError('RONDO_ERR_AUTH_TOKEN_REVOKED', `the access token was revoked at ${at}`);
    return refuseAuthentication(deps, request, refusal, known);
  }
  if (row.expires_at && row.expires_at <= now) {
    const at = row.expires_at.toISOString();
    const refusal = new RondoError('RONDO_ERR_AUTH_TOKEN_EXPIRED', `the access token expired at ${at}`);
    return refuseAuthentication(deps, request, refusal, known);
  }
  // Record use at most once a minute: a write per request would double the cost of every read.
  if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > 60_000) {
    await deps.store.db.updateTable('tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
  }
  return {
    userId: row.user_id,
    userName: row.name,
    platformAdmin: row.platform_admin,
    defaultOrg: row.default_org,
    tokenId: row.id,
    scopes: row.scopes as TokenScope[],
  };
}
