import type { Transaction } from 'kysely';
import { alreadyExists, RondoError } from '../domain/errors.js';
import type { Organization } from '../domain/resources.js';
import type { Database } from '../store/schema.js';
import type { ControlDeps, RequestContext } from './context.js';
import { nextGatewaySlot } from './environments.js';
import { newId } from './ids.js';
import { toOrganization } from './mappers.js';
import { mutateAsPlatformAdmin, mutateInOrg, readInOrg } from './org-access.js';

export interface CreateOrganizationInput {
  name: string;
  displayName?: string;
}

/**
 * Creates an organization with what every organization starts with (§1): the `local` Docker data
 * plane, environments `development` and `production` (production: true), the default pipeline
 * development → production, and `adminUserId` as its admin.
 */
export async function insertOrganization(
  tx: Transaction<Database>,
  input: CreateOrganizationInput,
  adminUserId: string,
): Promise<Organization> {
  const taken = await tx
    .selectFrom('organizations')
    .select('id')
    .where('name', '=', input.name)
    .executeTakeFirst();
  if (taken) throw alreadyExists('organization', input.name);
  const org = await tx
    .insertInto('organizations')
    .values({ id: newId('org'), name: input.name, display_name: input.displayName ?? input.name })
    .returningAll()
    .executeTakeFirstOrThrow();
  const dataPlaneId = newId('dp');
  await tx
    .insertInto('data_planes')
    .values({ id: dataPlaneId, org_id: org.id, name: 'local', type: 'docker', config: JSON.stringify({}) })
    .execute();
  const slot = await nextGatewaySlot(tx);
  const envs = [
    {
      id: newId('env'),
      name: 'development',
      display_name: 'Development',
      production: false,
      gateway_slot: slot,
    },
    {
      id: newId('env'),
      name: 'production',
      display_name: 'Production',
      production: true,
      gateway_slot: slot + 1,
    },
  ];
  await tx
    .insertInto('environments')
    .values(envs.map((e) => ({ ...e, org_id: org.id, data_plane_id: dataPlaneId })))
    .execute();
  await tx
    .insertInto('pipelines')
    .values({
      id: newId('pl'),
      org_id: org.id,
      name: 'default',
      environment_ids: JSON.stringify(envs.map((e) => e.id)),
      is_default: true,
    })
    .execute();
  await tx
    .insertInto('memberships')
    .values({ org_id: org.id, user_id: adminUserId, role: 'admin' })
    .execute();
  return toOrganization(org);
}

export async function createOrganization(
  deps: ControlDeps,
  ctx: RequestContext,
  input: CreateOrganizationInput,
): Promise<Organization> {
  return mutateAsPlatformAdmin(
    deps,
    ctx,
    { action: 'organization.create', resourceType: 'organization', resource: input.name },
    (tx) => insertOrganization(tx, input, ctx.actor.userId),
  );
}

/** The organizations the caller is a member of (platform admins see all). */
export async function listOrganizations(deps: ControlDeps, ctx: RequestContext): Promise<Organization[]> {
  let q = deps.store.db.selectFrom('organizations as o').selectAll('o').orderBy('o.name');
  if (!ctx.actor.platformAdmin) {
    q = q.innerJoin('memberships as m', 'm.org_id', 'o.id').where('m.user_id', '=', ctx.actor.userId);
  }
  return (await q.execute()).map(toOrganization);
}

export async function getOrganization(
  deps: ControlDeps,
  ctx: RequestContext,
  name: string,
): Promise<Organization> {
  return toOrganization((await readInOrg(deps, ctx, name)).org);
}

export async function updateOrganization(
  deps: ControlDeps,
  ctx: RequestContext,
  name: string,
  patch: { displayName?: string },
): Promise<Organization> {
  const spec = {
    permission: 'organization:write',
    action: 'organization.update',
    resourceType: 'organization',
    resource: name,
  } as const;
  return mutateInOrg(deps, ctx, name, spec, async (tx, { org }) => {
    const row = await tx
      .updateTable('organizations')
      .set({ display_name: patch.displayName ?? org.display_name })
      .where('id', '=', org.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toOrganization(row);
  });
}

/** Deletes an organization that has no projects left. */
export async function deleteOrganization(
  deps: ControlDeps,
  ctx: RequestContext,
  name: string,
): Promise<void> {
  const spec = {
    permission: 'organization:write',
    action: 'organization.delete',
    resourceType: 'organization',
    resource: name,
  } as const;
  await mutateInOrg(deps, ctx, name, spec, async (tx, { org }) => {
    const projects = await tx
      .selectFrom('projects')
      .select('name')
      .where('org_id', '=', org.id)
      .limit(3)
      .execute();
    if (projects.length > 0) {
      const names = projects.map((p) => p.name).join(', ');
      throw new RondoError(
        'RONDO_ERR_CONFLICT_IN_USE',
        `organization '${name}' still has projects (${names}); delete them first`,
      );
    }
    await tx.deleteFrom('organizations').where('id', '=', org.id).execute();
  });
}
