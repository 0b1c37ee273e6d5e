import type { RequestContext } from '../control/context.js';
import { isUniqueViolation, newId } from '../control/ids.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import { notFound, RondoError } from '../domain/errors.js';
import type { ApprovalRequest } from '../domain/resources.js';
import type { ApprovalDecision, ApprovalPolicy } from '../store/schema.js';
import type { Executor } from '../store/store.js';
import type { DeployDeps } from './deployments.js';
import { startPromotion } from './promotions.js';
import type { ReleaseRow } from './releases.js';

export function approvalRequestsOf(db: Executor, orgId: string) {
  return db
    .selectFrom('approval_requests as a')
    .innerJoin('components as c', 'c.id', 'a.component_id')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .innerJoin('environments as e', 'e.id', 'a.environment_id')
    .innerJoin('releases as r', 'r.id', 'a.release_id')
    .innerJoin('deployments as s', 's.id', 'a.source_deployment_id')
    .innerJoin('environments as se', 'se.id', 's.environment_id')
    .selectAll('a')
    .select(['c.name as component', 'p.name as project', 'e.name as environment', 'se.name as from'])
    .select(['r.name as release', 'e.approval as policy', 'e.production'])
    .where('a.org_id', '=', orgId);
}

type Row = Awaited<ReturnType<ReturnType<typeof approvalRequestsOf>['executeTakeFirstOrThrow']>>;

export function toApprovalRequest(r: Row): ApprovalRequest {
  return {
    id: r.id,
    project: r.project,
    component: r.component,
    environment: r.environment,
    from: r.from,
    release: r.release,
    status: r.status as ApprovalRequest['status'],
    required: r.required,
    approvals: r.decisions.filter((d) => d.decision === 'approved').length,
    requestedBy: r.requested_by,
    comment: r.comment,
    decisions: r.decisions,
    deployment: r.deployment_id,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** Records a request to promote `release` into an environment with an approval policy. */
export async function requestApproval(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  r: {
    orgId: string;
    componentId: string;
    environmentId: string;
    policy: ApprovalPolicy;
    sourceDeploymentId: string;
    release: ReleaseRow;
    comment: string;
    resource: string;
  },
): Promise<ApprovalRequest> {
  const id = newId('apr');
  const audit = {
    permission: 'deploy',
    action: 'approval.request',
    resourceType: 'approval-request',
    resource: `${r.resource} (release ${r.release.name})`,
  } as const;
  try {
    await mutateInOrg(deps, ctx, orgName, audit, (tx) =>
      tx
        .insertInto('approval_requests')
        .values({
          id,
          org_id: r.orgId,
          component_id: r.componentId,
          environment_id: r.environmentId,
          source_deployment_id: r.sourceDeploymentId,
          release_id: r.release.id,
          status: 'pending',
          required: r.policy.required,
          requested_by: ctx.actor.userName,
          requested_by_id: ctx.actor.userId,
          comment: r.comment,
          decisions: JSON.stringify([]),
        })
        .execute(),
    );
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const pending = await deps.store.db
      .selectFrom('approval_requests')
      .select('id')
      .where('component_id', '=', r.componentId)
      .where('environment_id', '=', r.environmentId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    throw new RondoError(
      'RONDO_ERR_CONFLICT_IN_PROGRESS',
      `a request to promote into this environment is already pending (${pending?.id ?? 'see rondo list approvals'}); cancel it or wait for its reviewers`,
    );
  }
  return toApprovalRequest(
    await approvalRequestsOf(deps.store.db, r.orgId).where('a.id', '=', id).executeTakeFirstOrThrow(),
  );
}

export async function listApprovalRequests(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  filter: { status?: string; component?: string },
): Promise<ApprovalRequest[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  let q = approvalRequestsOf(deps.store.db, org.id);
  if (filter.status) q = q.where('a.status', '=', filter.status);
  if (filter.component) q = q.where('c.name', '=', filter.component);
  return (await q.orderBy('a.created_at', 'desc').limit(200).execute()).map(toApprovalRequest);
}

export async function getApprovalRequest(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
): Promise<ApprovalRequest> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const row = await approvalRequestsOf(deps.store.db, org.id).where('a.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('approval request', id);
  return toApprovalRequest(row);
}

export type Verdict = 'approve' | 'reject' | 'cancel';

/**
 * Decides a pending request (§6.5). Reviewers are the policy's users and roles; the requester may
 * not approve or reject their own request but may cancel it. When the approvals reach the count,
 * the promotion of the requested release starts in the same transaction.
 */
export async function decideApprovalRequest(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
  verdict: Verdict,
  comment: string,
): Promise<ApprovalRequest> {
  const { org, role } = await readInOrg(deps, ctx, orgName);
  const row = await approvalRequestsOf(deps.store.db, org.id).where('a.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('approval request', id);
  if (row.status !== 'pending')
    throw new RondoError('RONDO_ERR_CONFLICT_STATE', `approval request ${id} is already ${row.status}`);
  const own = row.requested_by_id === ctx.actor.userId;
  if (verdict === 'cancel') {
    if (!own && role !== 'admin')
      throw new RondoError(
        'RONDO_ERR_AUTH_FORBIDDEN',
        `only ${row.requested_by}, who asked, or an admin may cancel it`,
      );
  } else {
    if (own)
      throw new RondoError(
        'RONDO_ERR_APPROVAL_SELF',
        `you asked for request ${id}; another reviewer must ${verdict} it`,
      );
    const policy = row.policy ?? { users: [], roles: ['admin'], required: row.required };
    if (!policy.users.includes(ctx.actor.userName) && !policy.roles.includes(role))
      throw new RondoError(
        'RONDO_ERR_AUTH_FORBIDDEN',
        `you are not a reviewer for ${row.environment}: the policy names users [${policy.users.join(', ')}] and roles [${policy.roles.join(', ')}]`,
      );
    if (row.decisions.some((d) => d.user === ctx.actor.userName))
      throw new RondoError('RONDO_ERR_CONFLICT_STATE', `you already decided on request ${id}`);
  }
  const decisions: ApprovalDecision[] =
    verdict === 'cancel'
      ? row.decisions
      : [
          ...row.decisions,
          {
            user: ctx.actor.userName,
            decision: verdict === 'approve' ? 'approved' : 'rejected',
            comment,
            at: new Date().toISOString(),
          },
        ];
  const approvals = decisions.filter((d) => d.decision === 'approved').length;
  const status =
    verdict === 'cancel'
      ? 'cancelled'
      : verdict === 'reject'
        ? 'rejected'
        : approvals >= row.required
          ? 'approved'
          : 'pending';
  const audit = {
    permission: 'approve',
    action: `approval.${verdict}`,
    resourceType: 'approval-request',
    resource: `${row.project}/${row.component}@${row.environment} (release ${row.release}, ${id})`,
  } as const;
  let deploymentId: string | null = null;
  await mutateInOrg(deps, ctx, orgName, audit, async (tx) => {
    if (status === 'approved') {
      const release = await tx
        .selectFrom('releases')
        .selectAll()
        .where('id', '=', row.release_id)
        .executeTakeFirstOrThrow();
      deploymentId = await startPromotion(tx, {
        orgId: org.id,
        componentId: row.component_id,
        environment: { id: row.environment_id, name: row.environment },
        release,
        sourceId: row.source_deployment_id,
        createdBy: `${row.requested_by} (approved by ${decisions
          .filter((d) => d.decision === 'approved')
          .map((d) => d.user)
          .join(', ')})`,
      });
    }
    const updated = await tx
      .updateTable('approval_requests')
      .set({
        status,
        decisions: JSON.stringify(decisions),
        deployment_id: deploymentId,
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    // Two reviewers deciding at once: the one whose update found the row no longer pending loses.
    if (Number(updated.numUpdatedRows) !== 1)
      throw new RondoError(
        'RONDO_ERR_CONFLICT_STATE',
        `approval request ${id} was decided meanwhile; read it again`,
      );
  });
  if (deploymentId) deps.enqueue(deploymentId);
  return getApprovalRequest(deps, ctx, orgName, id);
}
