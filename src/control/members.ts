import type { Role } from '../domain/access.js';
import { alreadyExists, notFound, RondoError } from '../domain/errors.js';
import type { Member, User } from '../domain/resources.js';
import type { Executor } from '../store/store.js';
import { refuse } from './audit.js';
import type { ControlDeps, RequestContext } from './context.js';
import { isUniqueViolation, newId } from './ids.js';
import { toMember, toUser } from './mappers.js';
import { mutateAsPlatformAdmin, mutateInOrg, readInOrg } from './org-access.js';

export async function listMembers(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
): Promise<Member[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const rows = await membersOf(deps.store.db, org.id).orderBy('u.name').execute();
  return rows.map(toMember);
}

function membersOf(db: Executor, orgId: string) {
  return db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['u.name as user_name', 'm.role', 'm.created_at', 'u.id as user_id'])
    .where('m.org_id', '=', orgId);
}

/**
 * Adds a user to the organization with a role, or changes their role. An organization admin sees
 * only the users who share one of their organizations: any other name, existing or not, is the same
 * 404, so adding members cannot enumerate the platform's users. Platform admins see every user.
 */
export async function setMember(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  userName: string,
  role: Role,
): Promise<Member> {
  const spec = {
    permission: 'member:write',
    action: 'member.set',
    resourceType: 'member',
    resource: userName,
  } as const;
  const unknown = notFound('user', userName);
  try {
    return await mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
      const user = await visibleUser(tx, ctx, userName);
      if (!user) throw unknown;
      if (role !== 'admin') await keepAnAdmin(tx, org.id, user.id);
      await tx
        .insertInto('memberships')
        .values({ org_id: org.id, user_id: user.id, role })
        .onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ role }))
        .execute();
      await tx
        .updateTable('users')
        .set({ default_org: org.name })
        .where('id', '=', user.id)
        .where('default_org', 'is', null)
        .execute();
      return toMember(await membersOf(tx, org.id).where('u.id', '=', user.id).executeTakeFirstOrThrow());
    });
  } catch (err) {
    // Probing for names is recorded where only platform admins read it (org NULL).
    if (err === unknown && !ctx.actor.platformAdmin) {
      const { action, resourceType, resource } = spec;
      const event = { org: null, action, resourceType, resource, detail: { org: orgName } };
      await refuse(deps.store.db, ctx, event, unknown);
    }
    throw err;
  }
}

/** The user named, if the caller may see them: platform admins see all, others their co-members. */
function visibleUser(db: Executor, ctx: RequestContext, userName: string) {
  let q = db.selectFrom('users as u').select('u.id').where('u.name', '=', userName);
  if (!ctx.actor.platformAdmin) {
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('memberships as theirs')
          .innerJoin('memberships as mine', 'mine.org_id', 'theirs.org_id')
          .select('theirs.user_id')
          .whereRef('theirs.user_id', '=', 'u.id')
          .where('mine.user_id', '=', ctx.actor.userId),
      ),
    );
  }
  return q.executeTakeFirst();
}

export async function removeMember(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  userName: string,
): Promise<void> {
  const spec = {
    permission: 'member:write',
    action: 'member.remove',
    resourceType: 'member',
    resource: userName,
  } as const;
  await mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const member = await membersOf(tx, org.id).where('u.name', '=', userName).executeTakeFirst();
    if (!member) throw notFound('member', userName);
    await keepAnAdmin(tx, org.id, member.user_id);
    await tx
      .deleteFrom('memberships')
      .where('org_id', '=', org.id)
      .where('user_id', '=', member.user_id)
      .execute();
  });
}

/** Refuses a change that would leave the organization without an admin. */
async function keepAnAdmin(db: Executor, orgId: string, losingUserId: string): Promise<void> {
  const admins = await db
    .selectFrom('memberships')
    .select('user_id')
    .where('org_id', '=', orgId)
    .where('role', '=', 'admin')
    .execute();
  if (admins.length === 1 && admins[0]?.user_id === losingUserId) {
    throw new RondoError(
      'RONDO_ERR_CONFLICT_LAST_ADMIN',
      'this is the last admin of the organization; make another member an admin first',
    );
  }
}

export interface UserInput {
  name: string;
  displayName?: string;
  platformAdmin?: boolean;
}

export async function createUser(deps: ControlDeps, ctx: RequestContext, input: UserInput): Promise<User> {
  return mutateAsPlatformAdmin(
    deps,
    ctx,
    { action: 'user.create', resourceType: 'user', resource: input.name },
    async (tx) => {
      try {
        const row = await tx
          .insertInto('users')
          .values({
            id: newId('usr'),
            name: input.name,
            display_name: input.displayName ?? input.name,
            platform_admin: input.platformAdmin ?? false,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toUser(row);
      } catch (err) {
        if (isUniqueViolation(err)) throw alreadyExists('user', input.name);
        throw err;
      }
    },
  );
}

export async function listUsers(deps: ControlDeps, ctx: RequestContext): Promise<User[]> {
  if (!ctx.actor.platformAdmin) {
    await refuse(
      deps.store.db,
      ctx,
      { org: null, action: 'user.list', resourceType: 'user', resource: '*' },
      new RondoError('RONDO_ERR_AUTH_FORBIDDEN', 'only platform admins may list all users'),
    );
  }
  return (await deps.store.db.selectFrom('users').selectAll().orderBy('name').execute()).map(toUser);
}

/** The caller, with the organizations they belong to. */
export async function whoAmI(deps: ControlDeps, ctx: RequestContext) {
  const user = await deps.store.db
    .selectFrom('users')
    .selectAll()
    .where('id', '=', ctx.actor.userId)
    .executeTakeFirstOrThrow();
  const orgs = await deps.store.db
    .selectFrom('memberships as m')
    .innerJoin('organizations as o', 'o.id', 'm.org_id')
    .select(['o.name', 'm.role'])
    .where('m.user_id', '=', user.id)
    .orderBy('o.name')
    .execute();
  return {
    ...toUser(user),
    organizations: orgs.map((o) => ({ name: o.name, role: o.role as Role })),
    scopes: [...ctx.actor.scopes],
  };
}
