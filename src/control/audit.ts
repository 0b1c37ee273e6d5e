import type { AuditEvent } from '../domain/resources.js';
import type { Executor } from '../store/store.js';
import type { ControlDeps, RequestContext } from './context.js';
import { readInOrg } from './org-access.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, type Page, toPage } from './pagination.js';

export interface AuditRecord {
  org: string | null;
  action: string;
  resourceType: string;
  resource: string;
  outcome: 'success' | 'denied';
  detail: Record<string, unknown>;
}

/** Writes one audit event on `db`, which is the mutation's own transaction when it succeeded. */
export async function recordAudit(db: Executor, ctx: RequestContext, event: AuditRecord): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      org: event.org,
      actor: ctx.actor.userName,
      action: event.action,
      resource_type: event.resourceType,
      resource: event.resource,
      outcome: event.outcome,
      request_id: ctx.requestId,
      source_ip: ctx.sourceIp,
      detail: JSON.stringify(event.detail),
    })
    .execute();
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
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const after = decodeCursor(query.cursor);
  let q = deps.store.db.selectFrom('audit_events').selectAll().where('org', '=', org.name);
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
