import { z } from 'zod';
import { listAudit, listPlatformAudit } from '../../control/audit.js';
import type { ControlDeps } from '../../control/context.js';
import { AuditEvent } from '../../domain/resources.js';
import { type Api, contextOf } from '../api.js';
import { OrgParam, PageQuery, pageOf, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

const AuditFilters = z.strictObject({
  ...PageQuery,
  actor: z.string().max(63).optional(),
  action: z.string().max(100).optional(),
  resourceType: z.string().max(63).optional(),
  resource: z.string().max(200).optional(),
  outcome: z.enum(['success', 'denied']).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

function auditQuery(query: z.infer<typeof AuditFilters>) {
  const { since, until, ...rest } = query;
  return {
    ...rest,
    ...(since ? { since: new Date(since) } : {}),
    ...(until ? { until: new Date(until) } : {}),
  };
}

export function auditRoutes(app: Api, deps: ControlDeps): void {
  app.get(
    '/orgs/:org/audit',
    {
      schema: {
        tags: ['audit'],
        description: 'Audit events of the organization, newest first. Admins only.',
        params: z.object({ org: OrgParam }),
        querystring: AuditFilters,
        response: { 200: pageOf(AuditEvent), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return listAudit(deps, ctx, orgName(ctx, req.params.org), auditQuery(req.query));
    },
  );

  app.get(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        description:
          'Platform-level audit events (no organization): users, organizations, tokens, failed authentication, requests naming an organization the caller cannot see. Platform admins only.',
        querystring: AuditFilters,
        response: { 200: pageOf(AuditEvent), ...problemResponses },
      },
    },
    async (req) => listPlatformAudit(deps, contextOf(req), auditQuery(req.query)),
  );
}
