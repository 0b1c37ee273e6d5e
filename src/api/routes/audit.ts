import { z } from 'zod';
import { listAudit } from '../../control/audit.js';
import type { ControlDeps } from '../../control/context.js';
import { AuditEvent } from '../../domain/resources.js';
import { type Api, contextOf } from '../app.js';
import { OrgParam, PageQuery, pageOf, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';

export function auditRoutes(app: Api, deps: ControlDeps): void {
  app.get(
    '/orgs/:org/audit',
    {
      schema: {
        tags: ['audit'],
        description: 'Audit events of the organization, newest first. Admins only.',
        params: z.object({ org: OrgParam }),
        querystring: z.strictObject({
          ...PageQuery,
          actor: z.string().max(63).optional(),
          action: z.string().max(100).optional(),
          resourceType: z.string().max(63).optional(),
          resource: z.string().max(200).optional(),
          outcome: z.enum(['success', 'denied']).optional(),
          since: z.iso.datetime({ offset: true }).optional(),
          until: z.iso.datetime({ offset: true }).optional(),
        }),
        response: { 200: pageOf(AuditEvent), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      const { since, until, ...rest } = req.query;
      return listAudit(deps, ctx, orgName(ctx, req.params.org), {
        ...rest,
        ...(since ? { since: new Date(since) } : {}),
        ...(until ? { until: new Date(until) } : {}),
      });
    },
  );
}
