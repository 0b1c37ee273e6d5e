import { z } from 'zod';
import {
  decideApprovalRequest,
  getApprovalRequest,
  listApprovalRequests,
  type Verdict,
} from '../../deploy/approvals.js';
import type { DeployDeps } from '../../deploy/deployments.js';
import { ApprovalRequest } from '../../domain/resources.js';
import { type Api, contextOf } from '../api.js';
import { OrgParam, problemResponses } from '../schemas.js';
import { orgName } from './org-param.js';
import { platformOnly } from './platform-only.js';

const tags = ['approvals'];

/** Approval requests for promotions (§6.5). */
export function approvalRoutes(app: Api, deploy: DeployDeps | undefined): void {
  const need = platformOnly(deploy);
  const idParams = z.object({ org: OrgParam, id: z.string().max(100) });

  app.get(
    '/orgs/:org/approvals',
    {
      schema: {
        tags,
        params: z.object({ org: OrgParam }),
        querystring: z.strictObject({
          status: z.enum(['pending', 'approved', 'rejected', 'cancelled']).optional(),
          component: z.string().max(63).optional(),
        }),
        response: { 200: z.object({ items: z.array(ApprovalRequest) }), ...problemResponses },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      return { items: await listApprovalRequests(need(), ctx, orgName(ctx, req.params.org), req.query) };
    },
  );

  app.get(
    '/orgs/:org/approvals/:id',
    { schema: { tags, params: idParams, response: { 200: ApprovalRequest, ...problemResponses } } },
    async (req) => {
      const ctx = contextOf(req);
      return getApprovalRequest(need(), ctx, orgName(ctx, req.params.org), req.params.id);
    },
  );

  for (const verdict of ['approve', 'reject', 'cancel'] as const satisfies readonly Verdict[]) {
    app.post(
      `/orgs/:org/approvals/:id/${verdict}`,
      {
        schema: {
          tags,
          description:
            verdict === 'cancel'
              ? 'The requester (or an admin) withdraws the request.'
              : `A reviewer ${verdict}s; the requester cannot. Approval starts the promotion once enough reviewers agree.`,
          params: idParams,
          body: z.strictObject({ comment: z.string().max(2000).optional() }).optional(),
          response: { 200: ApprovalRequest, ...problemResponses },
        },
      },
      async (req) => {
        const ctx = contextOf(req);
        return decideApprovalRequest(
          need(),
          ctx,
          orgName(ctx, req.params.org),
          req.params.id,
          verdict,
          req.body?.comment ?? '',
        );
      },
    );
  }
}
