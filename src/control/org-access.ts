import type { Transaction } from 'kysely';
import { type Permission, type Role, roleAllows, scopeFor } from '../domain/access.js';
import { notFound, RondoError } from '../domain/errors.js';
import type { Database, OrganizationRow } from '../store/schema.js';
import type { Executor } from '../store/store.js';
import { recordAudit, refuse } from './audit.js';
import type { ControlDeps, RequestContext } from './context.js';

export interface OrgAccess {
  org: OrganizationRow;
  role: Role;
}

/** What a request tried to do, for the audit event of its refusal. */
export interface Attempt {
  action: string;
  resourceType: string;
  resource: string;
}

/**
 * Resolves an organization the caller belongs to. A non-member gets the same 404 as for a missing
 * organization, so names of other tenants do not leak. Both are recorded as platform-level events
 * (org NULL): the organization's own log would show its admins a user outside their tenant, and
 * recording only the existing one would make the answer slower for names that exist.
 */
export async function resolveOrg(
  db: Executor,
  ctx: RequestContext,
  orgName: string,
  attempt: Attempt,
): Promise<OrgAccess> {
  const row = await db
    .selectFrom('organizations as o')
    .leftJoin('memberships as m', (j) =>
      j.onRef('m.org_id', '=', 'o.id').on('m.user_id', '=', ctx.actor.userId),
    )
    .select(['o.id', 'o.name', 'o.display_name', 'o.created_at', 'm.role'])
    .where('o.name', '=', orgName)
    .executeTakeFirst();
  if (row) {
    const { role, ...org } = row;
    // Platform admins administer every organization, as a platform team expects.
    if (role) return { org, role: role as Role };
    if (ctx.actor.platformAdmin) return { org, role: 'admin' };
  }
  // A platform admin sees every organization: a missing one is only a missing resource.
  if (ctx.actor.platformAdmin) throw notFound('organization', orgName);
  return refuse(
    db,
    ctx,
    { ...attempt, org: null, detail: { org: orgName } },
    notFound('organization', orgName),
  );
}

function denial(ctx: RequestContext, role: Role, permission: Permission): RondoError | undefined {
  const scope = scopeFor(permission);
  if (!ctx.actor.scopes.includes(scope) && !ctx.actor.scopes.includes('admin')) {
    return new RondoError(
      'RONDO_ERR_AUTH_SCOPE',
      `this token lacks the '${scope}' scope needed to ${permission}`,
    );
  }
  if (!roleAllows(role, permission)) {
    return new RondoError(
      'RONDO_ERR_AUTH_FORBIDDEN',
      `role '${role}' may not ${permission.replace(':', ' ')}`,
    );
  }
  return undefined;
}

/** Reads inside an organization: resolves it and checks read access; a refusal is audited. */
export async function readInOrg(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  permission: Permission = 'read',
) {
  const attempt = {
    action: permission === 'read' ? 'organization.read' : permission.replace(':', '.'),
    resourceType: 'organization',
    resource: orgName,
  };
  const access = await resolveOrg(deps.store.db, ctx, orgName, attempt);
  const refused = denial(ctx, access.role, permission);
  if (refused) await refuse(deps.store.db, ctx, { ...attempt, org: access.org.name }, refused);
  return access;
}

export interface MutationSpec {
  permission: Permission;
  action: string;
  resourceType: string;
  resource: string;
}

/**
 * Runs one mutation inside an organization: authorize, change, and record the audit event in the
 * same transaction as the change. A refusal by authorization is recorded too (outcome `denied`).
 */
export async function mutateInOrg<T>(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  spec: MutationSpec,
  change: (tx: Transaction<Database>, access: OrgAccess) => Promise<T>,
): Promise<T> {
  const { permission, ...attempt } = spec;
  const access = await resolveOrg(deps.store.db, ctx, orgName, attempt);
  const refused = denial(ctx, access.role, permission);
  if (refused) await refuse(deps.store.db, ctx, { ...attempt, org: access.org.name }, refused);
  return deps.store.db.transaction().execute(async (tx) => {
    const result = await change(tx, access);
    await recordAudit(tx, ctx, { ...attempt, org: access.org.name, outcome: 'success', detail: {} });
    return result;
  });
}

/** A mutation outside any organization (users, organizations themselves): platform admins only. */
export async function mutateAsPlatformAdmin<T>(
  deps: ControlDeps,
  ctx: RequestContext,
  spec: Omit<MutationSpec, 'permission'>,
  change: (tx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  const allowed = ctx.actor.platformAdmin && ctx.actor.scopes.includes('admin');
  if (!allowed) {
    const refused = ctx.actor.platformAdmin
      ? new RondoError('RONDO_ERR_AUTH_SCOPE', `this token lacks the 'admin' scope needed to ${spec.action}`)
      : new RondoError('RONDO_ERR_AUTH_FORBIDDEN', `only platform admins may ${spec.action}`);
    await refuse(deps.store.db, ctx, { ...spec, org: null }, refused);
  }
  return deps.store.db.transaction().execute(async (tx) => {
    const result = await change(tx);
    await recordAudit(tx, ctx, { ...spec, org: null, outcome: 'success', detail: {} });
    return result;
  });
}
