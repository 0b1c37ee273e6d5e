import { alreadyExists, notFound, RondoError } from '../domain/errors.js';
import type { DataPlane } from '../domain/resources.js';
import type { ControlDeps, RequestContext } from './context.js';
import { newId } from './ids.js';
import { toDataPlane } from './mappers.js';
import { mutateInOrg, readInOrg } from './org-access.js';

export async function listDataPlanes(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
): Promise<DataPlane[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const rows = await deps.store.db
    .selectFrom('data_planes')
    .selectAll()
    .where('org_id', '=', org.id)
    .orderBy('name')
    .execute();
  return rows.map(toDataPlane);
}

export async function getDataPlane(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
): Promise<DataPlane> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const row = await deps.store.db
    .selectFrom('data_planes')
    .selectAll()
    .where('org_id', '=', org.id)
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw notFound('data plane', name);
  return toDataPlane(row);
}

export interface DataPlaneInput {
  name: string;
  type: 'docker';
  /** For `docker`: the engine's socket (Docker or Podman); default the local engine. */
  config: { socketPath?: string };
}

export async function createDataPlane(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  input: DataPlaneInput,
): Promise<DataPlane> {
  const spec = {
    permission: 'dataplane:write',
    action: 'dataplane.create',
    resourceType: 'dataplane',
    resource: input.name,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const taken = await tx
      .selectFrom('data_planes')
      .select('id')
      .where('org_id', '=', org.id)
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (taken) throw alreadyExists('data plane', input.name);
    const row = await tx
      .insertInto('data_planes')
      .values({
        id: newId('dp'),
        org_id: org.id,
        name: input.name,
        type: input.type,
        config: JSON.stringify(input.config),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDataPlane(row);
  });
}

export async function deleteDataPlane(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
): Promise<void> {
  const spec = {
    permission: 'dataplane:write',
    action: 'dataplane.delete',
    resourceType: 'dataplane',
    resource: name,
  } as const;
  await mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const row = await tx
      .selectFrom('data_planes')
      .select('id')
      .where('org_id', '=', org.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound('data plane', name);
    const envs = await tx
      .selectFrom('environments')
      .select('name')
      .where('data_plane_id', '=', row.id)
      .limit(5)
      .execute();
    if (envs.length > 0) {
      throw new RondoError(
        'RONDO_ERR_CONFLICT_IN_USE',
        `data plane '${name}' hosts environment(s) ${envs.map((e) => e.name).join(', ')}; move them first`,
      );
    }
    await tx.deleteFrom('data_planes').where('id', '=', row.id).execute();
  });
}
