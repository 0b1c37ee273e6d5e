import { alreadyExists, notFound, RondoError } from '../domain/errors.js';
import type { Project } from '../domain/resources.js';
import type { Executor } from '../store/store.js';
import type { ControlDeps, RequestContext } from './context.js';
import { newId } from './ids.js';
import { toProject } from './mappers.js';
import { mutateInOrg, readInOrg } from './org-access.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, type Page, type PageRequest, toPage } from './pagination.js';
import { findPipelineForProject } from './pipelines.js';
import { changedOrConflict, checkResourceVersion, type Versioned } from './resource-version.js';

function projectsOf(db: Executor, orgId: string) {
  return db
    .selectFrom('projects as p')
    .innerJoin('pipelines as pl', 'pl.id', 'p.pipeline_id')
    .selectAll('p')
    .select('pl.name as pipeline_name')
    .where('p.org_id', '=', orgId);
}

/** A project by name inside an organization, or the 404 that names it. */
export async function findProject(db: Executor, orgId: string, name: string) {
  const row = await projectsOf(db, orgId).where('p.name', '=', name).executeTakeFirst();
  if (!row) throw notFound('project', name);
  return row;
}

export async function listProjects(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  page: PageRequest,
): Promise<Page<Project>> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const limit = page.limit ?? DEFAULT_PAGE_SIZE;
  const after = decodeCursor(page.cursor);
  let q = projectsOf(deps.store.db, org.id);
  if (after !== undefined) q = q.where('p.name', '>', after);
  const rows = await q
    .orderBy('p.name')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, (r) => r.name, toProject);
}

export async function getProject(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
): Promise<Project> {
  const { org } = await readInOrg(deps, ctx, orgName);
  return toProject(await findProject(deps.store.db, org.id, name));
}

export interface ProjectInput {
  name: string;
  displayName?: string;
  description?: string;
  pipeline?: string;
}

export async function createProject(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  input: ProjectInput,
): Promise<Project> {
  const spec = {
    permission: 'project:write',
    action: 'project.create',
    resourceType: 'project',
    resource: input.name,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const pipeline = await findPipelineForProject(tx, org.id, input.pipeline);
    const taken = await tx
      .selectFrom('projects')
      .select('id')
      .where('org_id', '=', org.id)
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (taken) throw alreadyExists('project', input.name);
    await tx
      .insertInto('projects')
      .values({
        id: newId('prj'),
        org_id: org.id,
        name: input.name,
        display_name: input.displayName ?? input.name,
        description: input.description ?? '',
        pipeline_id: pipeline.id,
      })
      .execute();
    return toProject(await findProject(tx, org.id, input.name));
  });
}

export async function updateProject(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
  patch: Omit<ProjectInput, 'name'> & Versioned,
): Promise<Project> {
  const spec = {
    permission: 'project:write',
    action: 'project.update',
    resourceType: 'project',
    resource: name,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const current = await findProject(tx, org.id, name);
    checkResourceVersion('project', name, current.resource_version, patch.resourceVersion);
    const pipelineId = patch.pipeline
      ? (await findPipelineForProject(tx, org.id, patch.pipeline)).id
      : current.pipeline_id;
    const result = await tx
      .updateTable('projects')
      .set((eb) => ({
        display_name: patch.displayName ?? current.display_name,
        description: patch.description ?? current.description,
        pipeline_id: pipelineId,
        updated_at: new Date(),
        resource_version: eb('resource_version', '+', 1),
      }))
      .where('id', '=', current.id)
      .where('resource_version', '=', current.resource_version)
      .execute();
    changedOrConflict(result, 'project', name, current.resource_version);
    return toProject(await findProject(tx, org.id, name));
  });
}

/** Deletes a project that has no components left (delete them first, so nothing runs orphaned). */
export async function deleteProject(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  name: string,
): Promise<void> {
  const spec = {
    permission: 'project:write',
    action: 'project.delete',
    resourceType: 'project',
    resource: name,
  } as const;
  await mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const project = await findProject(tx, org.id, name);
    const components = await tx
      .selectFrom('components')
      .select('name')
      .where('project_id', '=', project.id)
      .limit(5)
      .execute();
    if (components.length > 0) {
      throw new RondoError(
        'RONDO_ERR_CONFLICT_IN_USE',
        `project '${name}' still has components (${components.map((c) => c.name).join(', ')}); delete them first`,
      );
    }
    await tx.deleteFrom('projects').where('id', '=', project.id).execute();
  });
}
