import {
  type BuildPreset,
  type ComponentSource,
  type ComponentType,
  canonicalComponentType,
  checkComponentSource,
} from '../domain/component.js';
import { checkEndpoints, type EndpointSpec, type EndpointType, type Visibility } from '../domain/endpoint.js';
import { alreadyExists, type FieldError, invalid, notFound, RondoError } from '../domain/errors.js';
import type { Component } from '../domain/resources.js';
import { normalizeRelativePath } from '../domain/source.js';
import type { Executor } from '../store/store.js';
import type { ControlDeps, RequestContext } from './context.js';
import { LIVE_DEPLOYMENT_STATES } from './environments.js';
import { newId } from './ids.js';
import { toComponent } from './mappers.js';
import { mutateInOrg, readInOrg } from './org-access.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, type Page, type PageRequest, toPage } from './pagination.js';
import { findProject } from './projects.js';
import { changedOrConflict, checkResourceVersion, type Versioned } from './resource-version.js';

/** The source as the API takes it: a Git directory (repoUrl, branch, path) or an image. */
export interface SourceInput {
  repoUrl?: string;
  branch?: string;
  path?: string;
  image?: string;
}

/** An endpoint as the API takes it; everything but the port has a default. */
export interface EndpointInput {
  name?: string;
  port: number;
  type?: EndpointType;
  basePath?: string;
  visibility?: Visibility[];
}

/** Fills endpoint defaults: type REST, base path /, visibility Public (§2), name from the type. */
export function normalizeEndpoints(input: EndpointInput[]): EndpointSpec[] {
  return input.map((e) => {
    const type = e.type ?? 'REST';
    return {
      name: e.name ?? type.toLowerCase(),
      port: e.port,
      type,
      basePath: e.basePath ?? '/',
      visibility: e.visibility ?? ['Public'],
    };
  });
}

export interface ComponentInput {
  name: string;
  displayName?: string;
  description?: string;
  type: string;
  source: SourceInput;
  buildPreset?: BuildPreset | null;
  buildConfigs?: Record<string, string>;
  autoBuild?: boolean;
  autoDeploy?: boolean;
  /** Paths besides the component's directory whose changes start a build (F6). */
  watchPaths?: string[];
  /** Tags start builds too (default: only the tracked branch). */
  buildTags?: boolean;
  endpoints?: EndpointInput[];
}

export type ComponentPatch = Partial<Omit<ComponentInput, 'name' | 'type' | 'endpoints'>> & Versioned;

function componentsOf(db: Executor, orgId: string) {
  return db
    .selectFrom('components as c')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .selectAll('c')
    .select('p.name as project_name')
    .where('c.org_id', '=', orgId);
}

async function findComponent(db: Executor, orgId: string, project: string, name: string) {
  const row = await componentsOf(db, orgId)
    .where('p.name', '=', project)
    .where('c.name', '=', name)
    .executeTakeFirst();
  if (!row) throw notFound('component', `${project}/${name}`);
  return row;
}

function toSource(input: SourceInput, errors: FieldError[]): ComponentSource {
  const { repoUrl, image } = input;
  if (
    image !== undefined &&
    (repoUrl !== undefined || input.branch !== undefined || input.path !== undefined)
  ) {
    errors.push({ field: 'source', message: 'give either image, or repoUrl with branch and path, not both' });
  }
  if (image !== undefined) return { kind: 'image', image };
  if (repoUrl === undefined) {
    errors.push({
      field: 'source.repoUrl',
      message: 'is required (or give source.image for a bring-your-own-image component)',
    });
  }
  return { kind: 'git', repoUrl: repoUrl ?? '', branch: input.branch ?? 'main', path: input.path ?? '.' };
}

/** Validates a whole component (create, or the result of a patch); throws every problem at once. */
function validated(
  type: string,
  sourceInput: SourceInput,
  buildPreset: BuildPreset | null,
  buildConfigs: Record<string, string>,
) {
  const errors: FieldError[] = [];
  const canonical = canonicalComponentType(type);
  if (!canonical) {
    errors.push({
      field: 'type',
      message: `'${type}' is not a component type (service, web-app, scheduled-task, manual-task, webhook)`,
    });
  }
  const source = toSource(sourceInput, errors);
  if (errors.length === 0) {
    errors.push(...checkComponentSource({ type: canonical!, source, buildPreset, buildConfigs }));
  }
  if (errors.length) throw invalid(errors);
  if (source.kind === 'git') source.path = normalizeRelativePath(source.path);
  return { type: canonical as ComponentType, source };
}

export async function listComponents(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  query: PageRequest & { project?: string; type?: string },
): Promise<Page<Component>> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const after = decodeCursor(query.cursor);
  let q = componentsOf(deps.store.db, org.id);
  if (query.project !== undefined) {
    await findProject(deps.store.db, org.id, query.project);
    q = q.where('p.name', '=', query.project);
  }
  if (query.type !== undefined) q = q.where('c.type', '=', canonicalComponentType(query.type) ?? query.type);
  if (after !== undefined) {
    const [project = '', name = ''] = after.split('/');
    q = q.where((eb) => eb(eb.refTuple('p.name', 'c.name'), '>', eb.tuple(project, name)));
  }
  const rows = await q
    .orderBy('p.name')
    .orderBy('c.name')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, (r) => `${r.project_name}/${r.name}`, toComponent);
}

export async function getComponent(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  name: string,
) {
  const { org } = await readInOrg(deps, ctx, orgName);
  return toComponent(await findComponent(deps.store.db, org.id, project, name));
}

export async function createComponent(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  input: ComponentInput,
): Promise<Component> {
  const buildConfigs = input.buildConfigs ?? {};
  const { type, source } = validated(input.type, input.source, input.buildPreset ?? null, buildConfigs);
  const endpoints = normalizeEndpoints(input.endpoints ?? []);
  const endpointErrors = checkEndpoints(endpoints, type);
  if (endpointErrors.length) throw invalid(endpointErrors);
  const spec = {
    permission: 'component:write',
    action: 'component.create',
    resourceType: 'component',
    resource: `${project}/${input.name}`,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const p = await findProject(tx, org.id, project);
    const taken = await tx
      .selectFrom('components')
      .select('id')
      .where('project_id', '=', p.id)
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (taken) throw alreadyExists('component', `${project}/${input.name}`);
    await tx
      .insertInto('components')
      .values({
        id: newId('cmp'),
        org_id: org.id,
        project_id: p.id,
        name: input.name,
        display_name: input.displayName ?? input.name,
        description: input.description ?? '',
        type,
        source: JSON.stringify(source),
        build_preset: input.buildPreset ?? null,
        build_configs: JSON.stringify(buildConfigs),
        auto_build: input.autoBuild ?? false,
        auto_deploy: input.autoDeploy ?? false,
        watch_paths: JSON.stringify(checkedWatchPaths(input.watchPaths ?? [])),
        build_tags: input.buildTags ?? false,
        endpoints: JSON.stringify(endpoints),
      })
      .execute();
    return toComponent(await findComponent(tx, org.id, project, input.name));
  });
}

export async function updateComponent(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  name: string,
  patch: ComponentPatch,
): Promise<Component> {
  const spec = {
    permission: 'component:write',
    action: 'component.update',
    resourceType: 'component',
    resource: `${project}/${name}`,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const current = await findComponent(tx, org.id, project, name);
    checkResourceVersion('component', `${project}/${name}`, current.resource_version, patch.resourceVersion);
    const was = current.source as ComponentSource;
    const source: SourceInput = {
      ...(was.kind === 'git'
        ? { repoUrl: was.repoUrl, branch: was.branch, path: was.path }
        : { image: was.image }),
      ...patch.source,
    };
    if (patch.source?.image !== undefined && was.kind === 'git') {
      throw invalid([
        {
          field: 'source.image',
          message: 'a Git component cannot become an image component; create a new component',
        },
      ]);
    }
    const buildPreset =
      patch.buildPreset === undefined ? (current.build_preset as BuildPreset | null) : patch.buildPreset;
    const buildConfigs = patch.buildConfigs ?? current.build_configs;
    const checked = validated(current.type, source, buildPreset, buildConfigs);
    const result = await tx
      .updateTable('components')
      .set((eb) => ({
        display_name: patch.displayName ?? current.display_name,
        description: patch.description ?? current.description,
        source: JSON.stringify(checked.source),
        build_preset: buildPreset,
        build_configs: JSON.stringify(buildConfigs),
        auto_build: patch.autoBuild ?? current.auto_build,
        auto_deploy: patch.autoDeploy ?? current.auto_deploy,
        watch_paths: JSON.stringify(checkedWatchPaths(patch.watchPaths ?? current.watch_paths)),
        build_tags: patch.buildTags ?? current.build_tags,
        updated_at: new Date(),
        resource_version: eb('resource_version', '+', 1),
      }))
      .where('id', '=', current.id)
      .where('resource_version', '=', current.resource_version)
      .execute();
    changedOrConflict(result, 'component', `${project}/${name}`, current.resource_version);
    return toComponent(await findComponent(tx, org.id, project, name));
  });
}

/** Deletes a component that has nothing deployed (undeploy first, so no container is orphaned). */
export async function deleteComponent(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  name: string,
) {
  const spec = {
    permission: 'component:write',
    action: 'component.delete',
    resourceType: 'component',
    resource: `${project}/${name}`,
  } as const;
  await mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const current = await findComponent(tx, org.id, project, name);
    const live = await tx
      .selectFrom('deployments as d')
      .innerJoin('environments as e', 'e.id', 'd.environment_id')
      .select('e.name')
      .where('d.component_id', '=', current.id)
      .where('d.status', 'in', LIVE_DEPLOYMENT_STATES)
      .execute();
    if (live.length > 0) {
      throw new RondoError(
        'RONDO_ERR_CONFLICT_IN_USE',
        `component '${project}/${name}' is deployed in ${live.map((l) => l.name).join(', ')}; undeploy it first`,
      );
    }
    await tx.deleteFrom('components').where('id', '=', current.id).execute();
  });
}

/** Replaces a component's endpoints (`rondo endpoints set`); the next deployment carries them. */
export async function setEndpoints(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  name: string,
  input: EndpointInput[],
): Promise<Component> {
  const endpoints = normalizeEndpoints(input);
  const spec = {
    permission: 'component:write',
    action: 'component.endpoints',
    resourceType: 'component',
    resource: `${project}/${name}`,
  } as const;
  return mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const current = await findComponent(tx, org.id, project, name);
    const errors = checkEndpoints(endpoints, current.type);
    if (errors.length) throw invalid(errors);
    await tx
      .updateTable('components')
      .set((eb) => ({
        endpoints: JSON.stringify(endpoints),
        updated_at: new Date(),
        resource_version: eb('resource_version', '+', 1),
      }))
      .where('id', '=', current.id)
      .execute();
    return toComponent(await findComponent(tx, org.id, project, name));
  });
}

/** Watch paths are directories or files inside the repository: relative, no `..`. */
function checkedWatchPaths(paths: string[]): string[] {
  const problems = paths.flatMap((p, i) =>
    p.split('/').includes('..') || p.startsWith('/') || /[\0\n\r]/.test(p)
      ? [{ field: `watchPaths[${i}]`, message: 'a path inside the repository: relative, without ..' }]
      : [],
  );
  if (problems.length) throw invalid(problems);
  return paths.map((p) => p.replace(/^\.\//, '').replace(/\/+$/, ''));
}
