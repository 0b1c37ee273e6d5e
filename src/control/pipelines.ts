import type { Transaction } from 'kysely';
import { alreadyExists, invalid, notFound, RondoError } from '../domain/errors.js';
import type { Pipeline } from '../domain/resources.js';
import type { Database, PipelineRow } from '../store/schema.js';
import type { Executor } from '../store/store.js';
import type { ControlDeps, RequestContext } from './context.js';
import { newId } from './ids.js';
import { toPipeline } from './mappers.js';
import { mutateInOrg, readInOrg } from './org-access.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, type Page, type PageRequest, toPage } from './pagination.js';
import { checkResourceVersion, staleVersion, type Versioned } from './resource-version.js';

async function environmentNames(db: Executor, orgId: string): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('environments')
    .select(['id', 'name'])
    .where('org_id', '=', orgId)
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** Validates an ordered list of environment names: at least one, no repeats, all in the org. */
async function resolveEnvironmentIds(tx: Executor, orgId: string, names: string[]): Promise<string[]> {
  const byName = new Map([...(await environmentNames(tx, orgId))].map(([id, name]) => [name, id]));
  const errors = [];
  if (names.length === 0)
    errors.push({ field: 'environments', message: 'must list at least one environment' });
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    if (seen.has(name))
      errors.push({
        field: `environments.${i}`,
        message: `'${name}' appears twice; a pipeline visits each environment once`,
      });
    seen.add(name);
    if (!byName.has(name))
      errors.push({
        field: `environments.${i}`,
        message: `environment '${name}' does not exist in this organization`,
      });
  }
  if (errors.length) throw invalid(errors);
  return names.map((n) => byName.get(n)!);
}

async function findPipeline(db: Executor, orgId: string, name: string): Promise<PipelineRow> {
  const row = await db
    .selectFrom('pipelines')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw notFound('pipeline', name);
  return row;
}

export async function listPipelines(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  page: PageRequest,
): Promise<Page<Pipeline>> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const limit = page.limit ?? DEFAULT_PAGE_SIZE;
  const after = decodeCursor(page.cursor);
  let q = deps.store.db.selectFrom('pipelines').selectAll().where('org_id', '=', org.id);
  if (after !== undefined) q = q.where('name', '>', after);
  const rows = await q
    .orderBy('name')
    .limit(limit + 1)
    .execute();
  const names = await environmentNames(deps.store.db, org.id);
  return toPage(
    rows,
    limit,
    (r) => r.name,
    (r) => toPipeline(r, names),
  );
}

export async function getPipeline(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
): Promise<Pipeline> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const row = await findPipeline(deps.store.db, org.id, name);
  return toPipeline(row, await environmentNames(deps.store.db, org.id));
}

export interface PipelineInput {
  name: string;
  environments: string[];
  isDefault?: boolean;
}

async function makeDefault(tx: Transaction<Database>, orgId: string, id: string): Promise<void> {
  await tx
    .updateTable('pipelines')
    .set({ is_default: false })
    .where('org_id', '=', orgId)
    .where('id', '!=', id)
    .execute();
}

export async function createPipeline(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  input: PipelineInput,
): Promise<Pipeline> {
  const spec = {
    permission: 'pipeline:write',
    action: 'pipeline.create',
    resourceType: 'pipeline',
    resource: input.name,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const ids = await resolveEnvironmentIds(tx, org.id, input.environments);
    const taken = await tx
      .selectFrom('pipelines')
      .select('id')
      .where('org_id', '=', org.id)
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (taken) throw alreadyExists('pipeline', input.name);
    const id = newId('pl');
    if (input.isDefault) await makeDefault(tx, org.id, id);
    const row = await tx
      .insertInto('pipelines')
      .values({
        id,
        org_id: org.id,
        name: input.name,
        environment_ids: JSON.stringify(ids),
        is_default: input.isDefault ?? false,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toPipeline(row, await environmentNames(tx, org.id));
  });
}

export async function updatePipeline(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
  patch: { environments?: string[]; isDefault?: boolean } & Versioned,
): Promise<Pipeline> {
  const spec = {
    permission: 'pipeline:write',
    action: 'pipeline.update',
    resourceType: 'pipeline',
    resource: name,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const current = await findPipeline(tx, org.id, name);
    checkResourceVersion('pipeline', name, current.resource_version, patch.resourceVersion);
    const ids = patch.environments
      ? await resolveEnvironmentIds(tx, org.id, patch.environments)
      : current.environment_ids;
    if (patch.isDefault === false && current.is_default) {
      throw invalid([
        {
          field: 'isDefault',
          message: 'an organization always has a default pipeline; make another one the default instead',
        },
      ]);
    }
    if (patch.isDefault) await makeDefault(tx, org.id, current.id);
    const row = await tx
      .updateTable('pipelines')
      .set((eb) => ({
        environment_ids: JSON.stringify(ids),
        is_default: patch.isDefault ?? current.is_default,
        updated_at: new Date(),
        resource_version: eb('resource_version', '+', 1),
      }))
      .where('id', '=', current.id)
      .where('resource_version', '=', current.resource_version)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw staleVersion('pipeline', name, current.resource_version, 'a newer version');
    return toPipeline(row, await environmentNames(tx, org.id));
  });
}

export async function deletePipeline(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
): Promise<void> {
  const spec = {
    permission: 'pipeline:write',
    action: 'pipeline.delete',
    resourceType: 'pipeline',
    resource: name,
  } as const;
  await mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const row = await findPipeline(tx, org.id, name);
    if (row.is_default) {
      throw new RondoError(
        'RONDO_ERR_CONFLICT_IN_USE',
        `pipeline '${name}' is the organization's default; make another pipeline the default first`,
      );
    }
    const projects = await tx
      .selectFrom('projects')
      .select('name')
      .where('pipeline_id', '=', row.id)
      .limit(5)
      .execute();
    if (projects.length > 0) {
      throw new RondoError(
        'RONDO_ERR_CONFLICT_IN_USE',
        `pipeline '${name}' is used by project(s) ${projects.map((p) => p.name).join(', ')}`,
      );
    }
    await tx.deleteFrom('pipelines').where('id', '=', row.id).execute();
  });
}

/** The pipeline a new project gets when it names none. */
export async function findPipelineForProject(
  tx: Executor,
  orgId: string,
  name: string | undefined,
): Promise<PipelineRow> {
  if (name !== undefined) {
    const row = await tx
      .selectFrom('pipelines')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row)
      throw invalid([
        { field: 'pipeline', message: `pipeline '${name}' does not exist in this organization` },
      ]);
    return row;
  }
  return tx
    .selectFrom('pipelines')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('is_default', '=', true)
    .executeTakeFirstOrThrow();
}
