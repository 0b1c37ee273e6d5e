import { sql } from 'kysely';
import { sealKubeconfig } from '../dataplane/kubernetes/credentials.js';
import type { ClusterRegistry } from '../dataplane/kubernetes/images.js';
import { parseKubeconfig } from '../dataplane/kubernetes/kubeconfig.js';
import type { DataPlaneRegistry } from '../dataplane/registry.js';
import { alreadyExists, notFound, RondoError } from '../domain/errors.js';
import type { DataPlane } from '../domain/resources.js';
import type { Keyring } from '../secrets/envelope.js';
import type { Executor } from '../store/store.js';
import type { ControlDeps, RequestContext } from './context.js';
import { checkDataPlane } from './data-plane-status.js';
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
  const users = await environmentsOn(
    deps.store.db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toDataPlane(r, users.get(r.id) ?? []));
}

/** The names of the environments each data plane hosts, by data plane id. */
async function environmentsOn(db: Executor, ids: string[]): Promise<Map<string, string[]>> {
  const byPlane = new Map<string, string[]>();
  if (ids.length === 0) return byPlane;
  const envs = await db
    .selectFrom('environments')
    .select(['data_plane_id', 'name'])
    .where('data_plane_id', 'in', ids)
    .orderBy('name')
    .execute();
  for (const e of envs) byPlane.set(e.data_plane_id, [...(byPlane.get(e.data_plane_id) ?? []), e.name]);
  return byPlane;
}

export async function getDataPlane(
  deps: ControlDeps & Pick<DataPlaneDeps, 'dataPlanes'>,
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
  const [environments, status] = await Promise.all([
    environmentsOn(deps.store.db, [row.id]),
    checkDataPlane(deps.dataPlanes, row),
  ]);
  return { ...toDataPlane(row, environments.get(row.id) ?? []), status };
}

/** Data planes store a Kubernetes cluster's credentials encrypted: they need the keyring. */
export interface DataPlaneDeps extends ControlDeps {
  keyring: Keyring;
  /** The drivers that check a data plane's status; absent where the control plane runs without its platform. */
  dataPlanes?: Pick<DataPlaneRegistry, 'drives' | 'ready'>;
}

export type DataPlaneInput =
  | {
      name: string;
      type: 'docker';
      /** The engine's socket (Docker or Podman); default the local engine. */
      config: { socketPath?: string };
    }
  | {
      name: string;
      type: 'kubernetes';
      /**
       * The kubeconfig's text (credentials included), the context to use (default its
       * current-context), and where its nodes pull the platform registry's images.
       */
      config: { kubeconfig: string; context?: string; registry?: ClusterRegistry };
    };

export async function createDataPlane(
  deps: DataPlaneDeps,
  ctx: RequestContext,
  orgName: string,
  input: DataPlaneInput,
): Promise<DataPlane> {
  // Checked before anything is written: a kubeconfig a driver could not use is refused (400).
  const target =
    input.type === 'kubernetes'
      ? await parseKubeconfig(input.config.kubeconfig, input.config.context)
      : undefined;
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
    const id = newId('dp');
    let config: Record<string, unknown> = input.config;
    if (input.type === 'kubernetes' && target) {
      // A master key rotation locks the table before it re-wraps: we encrypt after it (new key) or
      // it waits for our commit (and re-wraps ours too).
      await sql`lock table data_planes in row exclusive mode`.execute(tx);
      config = {
        ...sealKubeconfig(deps.keyring, id, input.config.kubeconfig, target, input.config.registry),
      };
    }
    const row = await tx
      .insertInto('data_planes')
      .values({ id, org_id: org.id, name: input.name, type: input.type, config: JSON.stringify(config) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDataPlane(row, []);
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
