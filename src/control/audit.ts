import { RondoError } from '../domain/errors.js';
import type { AuditEvent } from '../domain/resources.js';
import type { Executor } from '../store/store.js';
import type { ControlDeps, RequestContext } from './context.js';
import { readInOrg } from './org-access.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, type Page, toPage } from './pagination.js';

export interface AuditRecord {
  /** The organization, or null for a platform-level event (users, tokens, authentication). */
  org: string | null;
  action: string;
  resourceType: string;
  resource: string;
  outcome: 'success' | 'denied';
  detail: Record<string, unknown>;
}

/** Who an event is about when no token was accepted: the request, not an actor. */
export interface AuditSource {
  actorName: string;
  requestId: string;
  sourceIp: string;
}

/** Writes one audit event on `db`, which is the mutation's own transaction when it succeeded. */
export async function recordAudit(db: Executor, ctx: RequestContext, event: AuditRecord): Promise<void> {
  await recordAuditFrom(
    db,
    { actorName: ctx.actor.userName, requestId: ctx.requestId, sourceIp: ctx.sourceIp },
    event,
  );
}

export async function recordAuditFrom(db: Executor, source: AuditSource, event: AuditRecord): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      org: event.org,
      actor: source.actorName,
      action: event.action,
      resource_type: event.resourceType,
      resource: event.resource,
      outcome: event.outcome,
      request_id: source.requestId,
      source_ip: source.sourceIp,
      detail: JSON.stringify(event.detail),
    })
    .execute();
}

/** Records a refusal (outcome `denied`, with its code), then throws it. */
export async function refuse(
  db: Executor,
  ctx: RequestContext,
  event: Omit<AuditRecord, 'outcome' | 'detail'> & { detail?: Record<string, unknown> },
  refusal: RondoError,
): Promise<never> {
  await recordAudit(db, ctx, {
    ...event,
    outcome: 'denied',
    detail: { ...event.detail, code: refusal.code },
  });
  throw refusal;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  resourceType?: string;
  resource?: string;
  outcome?: 'success' | 'denied';
  since?: Date;
  until?: Date;
  limit?: number;
  cursor?: string;
}

/** The organization's audit log, newest first, filtered. Cursors continue after an event id. */
export async function listAudit(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  query: AuditQuery,
): Promise<Page<AuditEvent>> {
  const { org } = await readInOrg(deps, ctx, orgName, 'audit:read');
  return queryAudit(deps, org.name, query);
}

/**
 * Platform-level events (org NULL): users, organizations, tokens, failed authentication, and
 * requests naming an organization the caller cannot see. Platform admins only.
 */
export async function listPlatformAudit(
  deps: ControlDeps,
  ctx: RequestContext,
  query: AuditQuery,
): Promise<Page<AuditEvent>> {
  const event = { org: null, action: 'audit.read', resourceType: 'audit', resource: 'platform' };
  if (!ctx.actor.platformAdmin) {
    await refuse(
      deps.store.db,
      ctx,
      event,
      new RondoError('RONDO_ERR_AUTH_FORBIDDEN', 'only platform admins may read the platform audit log'),
    );
  }
  if (!ctx.actor.scopes.includes('read') && !ctx.actor.scopes.includes('admin')) {
    await refuse(
      deps.store.db,
      ctx,
      event,
      new RondoError(
        'RONDO_ERR_AUTH_SCOPE',
        "this token lacks the 'read' scope needed to read the audit log",
      ),
    );
  }
  return queryAudit(deps, null, query);
}

async function queryAudit(
  deps: ControlDeps,
  org: string | null,
  query: AuditQuery,
): Promise<Page<AuditEvent>> {
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const after = decodeCursor(query.cursor);
  let q = deps.store.db
    .selectFrom('audit_events')
    .selectAll()
    .where('org', org === null ? 'is' : '=', org);
  if (query.actor) q = q.where('actor', '=', query.actor);
  if (query.action) q = q.where('action', '=', query.action);
  if (query.resourceType) q = q.where('resource_type', '=', query.resourceType);
  if (query.resource) q = q.where('resource', '=', query.resource);
  if (query.outcome) q = q.where('outcome', '=', query.outcome);
  if (query.since) q = q.where('created_at', '>=', query.since);
  if (query.until) q = q.where('created_at', '<', query.until);
  if (after !== undefined) q = q.where('id', '<', after);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  return toPage(
    rows,
    limit,
    (r) => String(r.id),
    (r) => ({
      id: String(r.id),
      org: r.org,
      actor: r.actor,
      action: r.action,
      resourceType: r.resource_type,
      resource: r.resource,
      outcome: r.outcome as AuditEvent['outcome'],
      requestId: r.request_id,
      sourceIp: r.source_ip,
      detail: r.detail,
      createdAt: r.created_at.toISOString(),
    }),
  );
}
