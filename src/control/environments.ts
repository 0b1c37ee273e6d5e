import type { Transaction } from 'kysely';
import { ROLES } from '../domain/access.js';
import { alreadyExists, type FieldError, invalid, notFound, RondoError } from '../domain/errors.js';
import type { Environment } from '../domain/resources.js';
import type { Database } from '../store/schema.js';
import type { Executor } from '../store/store.js';
import type { ControlDeps, RequestContext } from './context.js';
import { newId } from './ids.js';
import { toEnvironment } from './mappers.js';
import { mutateInOrg, readInOrg } from './org-access.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, type Page, type PageRequest, toPage } from './pagination.js';
import { changedOrConflict, checkResourceVersion, type Versioned } from './resource-version.js';

/** The next free internal-gateway slot (the environment's listener is base port + slot). */
export async function nextGatewaySlot(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('environments')
    .select((eb) => eb.fn.max('gateway_slot').as('max'))
    .executeTakeFirst();
  return row?.max === null || row?.max === undefined ? 0 : Number(row.max) + 1;
}

/** Deployment states that mean "something runs, or is about to run, here". */
export const LIVE_DEPLOYMENT_STATES = ['pending', 'rolling-out', 'active'] as const;

function environmentsOf(db: Executor, orgId: string) {
  return db
    .selectFrom('environments as e')
    .innerJoin('data_planes as d', 'd.id', 'e.data_plane_id')
    .selectAll('e')
    .select('d.name as data_plane_name')
    .where('e.org_id', '=', orgId);
}

async function findEnvironment(db: Executor, orgId: string, name: string) {
  const row = await environmentsOf(db, orgId).where('e.name', '=', name).executeTakeFirst();
  if (!row) throw notFound('environment', name);
  return row;
}

async function findDataPlaneId(tx: Transaction<Database>, orgId: string, name: string): Promise<string> {
  const row = await tx
    .selectFrom('data_planes')
    .select('id')
    .where('org_id', '=', orgId)
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row)
    throw invalid([
      { field: 'dataPlane', message: `data plane '${name}' does not exist in this organization` },
    ]);
  return row.id;
}

export async function listEnvironments(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  page: PageRequest & { production?: boolean },
): Promise<Page<Environment>> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const limit = page.limit ?? DEFAULT_PAGE_SIZE;
  const after = decodeCursor(page.cursor);
  let q = environmentsOf(deps.store.db, org.id);
  if (after !== undefined) q = q.where('e.name', '>', after);
  if (page.production !== undefined) q = q.where('e.production', '=', page.production);
  const rows = await q
    .orderBy('e.name')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, (r) => r.name, toEnvironment);
}

export async function getEnvironment(deps: ControlDeps, ctx: RequestContext, orgName: string, name: string) {
  const { org } = await readInOrg(deps, ctx, orgName);
  return toEnvironment(await findEnvironment(deps.store.db, org.id, name));
}

export interface CreateEnvironmentInput {
  name: string;
  displayName?: string;
  production?: boolean;
  dataPlane?: string;
  /** Set with the environment, in the same change (null on an update removes it). */
  approvalPolicy?: ApprovalPolicyInput | null;
}

export async function createEnvironment(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  input: CreateEnvironmentInput,
): Promise<Environment> {
  const spec = {
    permission: 'environment:write',
    action: 'environment.create',
    resourceType: 'environment',
    resource: input.name,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const taken = await tx
      .selectFrom('environments')
      .select('id')
      .where('org_id', '=', org.id)
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (taken) throw alreadyExists('environment', input.name);
    const dataPlaneId = await findDataPlaneId(tx, org.id, input.dataPlane ?? 'local');
    const policy = input.approvalPolicy
      ? await checkedApprovalPolicy(tx, org, input.approvalPolicy, 'approvalPolicy.')
      : null;
    await tx
      .insertInto('environments')
      .values({
        id: newId('env'),
        org_id: org.id,
        name: input.name,
        display_name: input.displayName ?? input.name,
        production: input.production ?? false,
        data_plane_id: dataPlaneId,
        gateway_slot: await nextGatewaySlot(tx),
        approval: policy ? JSON.stringify(policy) : null,
      })
      .execute();
    return toEnvironment(await findEnvironment(tx, org.id, input.name));
  });
}

export async function updateEnvironment(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
  patch: Omit<CreateEnvironmentInput, 'name'> & Versioned,
): Promise<Environment> {
  const spec = {
    permission: 'environment:write',
    action: 'environment.update',
    resourceType: 'environment',
    resource: name,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const env = await findEnvironment(tx, org.id, name);
    checkResourceVersion('environment', name, env.resource_version, patch.resourceVersion);
    const dataPlaneId = patch.dataPlane
      ? await findDataPlaneId(tx, org.id, patch.dataPlane)
      : env.data_plane_id;
    if (dataPlaneId !== env.data_plane_id)
      await refuseIfLive(tx, env.id, name, 'move it to another data plane');
    const policy =
      patch.approvalPolicy && (await checkedApprovalPolicy(tx, org, patch.approvalPolicy, 'approvalPolicy.'));
    const result = await tx
      .updateTable('environments')
      .set((eb) => ({
        ...(policy !== undefined ? { approval: policy ? JSON.stringify(policy) : null } : {}),
        display_name: patch.displayName ?? env.display_name,
        production: patch.production ?? env.production,
        data_plane_id: dataPlaneId,
        updated_at: new Date(),
        resource_version: eb('resource_version', '+', 1),
      }))
      .where('id', '=', env.id)
      .where('resource_version', '=', env.resource_version)
      .execute();
    changedOrConflict(result, 'environment', name, env.resource_version);
    return toEnvironment(await findEnvironment(tx, org.id, name));
  });
}

async function refuseIfLive(db: Executor, envId: string, envName: string, what: string): Promise<void> {
  const live = await db
    .selectFrom('deployments as d')
    .innerJoin('components as c', 'c.id', 'd.component_id')
    .select('c.name')
    .where('d.environment_id', '=', envId)
    .where('d.status', 'in', LIVE_DEPLOYMENT_STATES)
    .limit(5)
    .execute();
  if (live.length > 0) {
    const names = live.map((r) => r.name).join(', ');
    throw new RondoError(
      'RONDO_ERR_CONFLICT_IN_USE',
      `cannot ${what}: environment '${envName}' has components deployed (${names}); undeploy them first`,
    );
  }
}

/** Deletes an environment; refused while anything is deployed there or a pipeline goes through it. */
export async function deleteEnvironment(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
): Promise<void> {
  const spec = {
    permission: 'environment:write',
    action: 'environment.delete',
    resourceType: 'environment',
    resource: name,
  } as const;
  await mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const env = await findEnvironment(tx, org.id, name);
    await refuseIfLive(tx, env.id, name, 'delete it');
    const pipelines = await tx
      .selectFrom('pipelines')
      .select(['name', 'environment_ids'])
      .where('org_id', '=', org.id)
      .execute();
    const using = pipelines.filter((p) => p.environment_ids.includes(env.id)).map((p) => p.name);
    if (using.length > 0) {
      throw new RondoError(
        'RONDO_ERR_CONFLICT_IN_USE',
        `cannot delete environment '${name}': pipeline(s) ${using.join(', ')} go through it; remove it from them first`,
      );
    }
    await tx.deleteFrom('deployments').where('environment_id', '=', env.id).execute();
    await tx.deleteFrom('environments').where('id', '=', env.id).execute();
  });
}

export interface ApprovalPolicyInput {
  users?: string[];
  roles?: string[];
  required: number;
}

/**
 * An approval policy checked against the organization: reviewers named, roles that exist, named
 * users who are members, and enough reviewers for `required`. Field names start with `at`.
 */
async function checkedApprovalPolicy(
  db: Executor,
  org: { id: string; name: string },
  input: ApprovalPolicyInput,
  at = '',
) {
  const policy = {
    users: [...new Set(input.users ?? [])],
    roles: [...new Set(input.roles ?? [])],
    required: input.required,
  };
  const fields: FieldError[] = [];
  if (policy.users.length === 0 && policy.roles.length === 0)
    fields.push({ field: `${at}users`, message: 'name at least one reviewer: users and/or roles' });
  policy.roles.forEach((r, i) => {
    if (!(ROLES as readonly string[]).includes(r))
      fields.push({ field: `${at}roles[${i}]`, message: `'${r}' is not a role; use ${ROLES.join(', ')}` });
  });
  const members = policy.users.length
    ? await db
        .selectFrom('memberships as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select('u.name')
        .where('m.org_id', '=', org.id)
        .where('u.name', 'in', policy.users)
        .execute()
    : [];
  policy.users.forEach((u, i) => {
    if (!members.some((m) => m.name === u))
      fields.push({
        field: `${at}users[${i}]`,
        message: `'${u}' is not a member of ${org.name}; add them first`,
      });
  });
  if (policy.roles.length === 0 && policy.users.length < policy.required)
    fields.push({
      field: `${at}required`,
      message: `${policy.required} approvals are required but only ${policy.users.length} reviewer(s) are named`,
    });
  if (fields.length) throw invalid(fields);
  return policy;
}

/**
 * Sets who must approve promotions into an environment (§6.5), or removes the requirement (null).
 * Named users must be members of the organization; a policy that nobody could satisfy is refused.
 */
export async function setApprovalPolicy(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
  input: ApprovalPolicyInput | null,
) {
  const { org } = await readInOrg(deps, ctx, orgName);
  await findEnvironment(deps.store.db, org.id, name);
  const policy = input && (await checkedApprovalPolicy(deps.store.db, org, input));
  const audit = {
    permission: 'environment:write',
    action: policy ? 'environment.approval-policy.set' : 'environment.approval-policy.remove',
    resourceType: 'environment',
    resource: name,
  } as const;
  await mutateInOrg(deps, ctx, orgName, audit, (tx) =>
    tx
      .updateTable('environments')
      .set({ approval: policy ? JSON.stringify(policy) : null, updated_at: new Date() })
      .where('org_id', '=', org.id)
      .where('name', '=', name)
      .execute(),
  );
  return toEnvironment(await findEnvironment(deps.store.db, org.id, name));
}
