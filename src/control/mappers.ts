import type { Role, TokenScope } from '../domain/access.js';
import type { BuildPreset, ComponentSource, ComponentType } from '../domain/component.js';
import type {
  AccessToken,
  Component,
  DataPlane,
  Environment,
  Member,
  Organization,
  Pipeline,
  Project,
  User,
} from '../domain/resources.js';
import { withoutCredentials } from '../domain/source.js';
import type {
  ComponentRow,
  DataPlaneRow,
  EnvironmentRow,
  OrganizationRow,
  PipelineRow,
  ProjectRow,
  TokenRow,
  UserRow,
} from '../store/schema.js';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export const toOrganization = (r: OrganizationRow): Organization => ({
  id: r.id,
  name: r.name,
  displayName: r.display_name,
  createdAt: r.created_at.toISOString(),
});

/**
 * `environments`: the names of the environments it hosts. A Kubernetes data plane's credentials
 * (the kubeconfig's envelope) never leave the store: only where the cluster is and the context.
 */
/** A cluster's registry: where it pulls, and whether it has pull credentials (never what they are). */
function registryView(stored: unknown): { registry: Record<string, string> } | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const r = stored as { address?: unknown; credentials?: unknown };
  if (typeof r.address !== 'string') return undefined;
  return { registry: { address: r.address, ...(r.credentials ? { credentials: 'stored encrypted' } : {}) } };
}

export const toDataPlane = (r: DataPlaneRow, environments: string[]): DataPlane => ({
  id: r.id,
  name: r.name,
  type: r.type as DataPlane['type'],
  config:
    r.type === 'kubernetes'
      ? {
          server: r.config.server,
          context: r.config.context,
          credentials: 'stored encrypted',
          ...(registryView(r.config.registry) ?? {}),
        }
      : r.config,
  environments,
  createdAt: r.created_at.toISOString(),
});

export const toEnvironment = (r: EnvironmentRow & { data_plane_name: string }): Environment => ({
  id: r.id,
  name: r.name,
  displayName: r.display_name,
  production: r.production,
  dataPlane: r.data_plane_name,
  approvalPolicy: r.approval ?? null,
  resourceVersion: r.resource_version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** `names` maps environment ids to names; a pipeline stores ids so renames cannot break it. */
export const toPipeline = (r: PipelineRow, names: Map<string, string>): Pipeline => ({
  id: r.id,
  name: r.name,
  environments: r.environment_ids.map((id) => names.get(id) ?? id),
  isDefault: r.is_default,
  resourceVersion: r.resource_version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export const toProject = (r: ProjectRow & { pipeline_name: string }): Project => ({
  id: r.id,
  name: r.name,
  displayName: r.display_name,
  description: r.description,
  pipeline: r.pipeline_name,
  resourceVersion: r.resource_version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** A source as the API shows it: never a credential an older record's URL still carries. */
function shownSource(source: ComponentSource): ComponentSource {
  return source.kind === 'git' ? { ...source, repoUrl: withoutCredentials(source.repoUrl) } : source;
}

export const toComponent = (r: ComponentRow & { project_name: string }): Component => ({
  id: r.id,
  name: r.name,
  project: r.project_name,
  displayName: r.display_name,
  description: r.description,
  type: r.type as ComponentType,
  source: shownSource(r.source as ComponentSource),
  buildPreset: r.build_preset as BuildPreset | null,
  buildConfigs: r.build_configs,
  autoBuild: r.auto_build,
  autoDeploy: r.auto_deploy,
  watchPaths: r.watch_paths,
  buildTags: r.build_tags,
  endpoints: r.endpoints,
  sourceToken: r.source_token_value_id !== null,
  resourceVersion: r.resource_version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export const toUser = (r: UserRow): User => ({
  id: r.id,
  name: r.name,
  displayName: r.display_name,
  platformAdmin: r.platform_admin,
  defaultOrg: r.default_org,
  createdAt: r.created_at.toISOString(),
});

export const toMember = (r: { user_name: string; role: string; created_at: Date }): Member => ({
  user: r.user_name,
  role: r.role as Role,
  createdAt: r.created_at.toISOString(),
});

export const toToken = (r: TokenRow & { user_name: string }): AccessToken => ({
  id: r.id,
  name: r.name,
  user: r.user_name,
  scopes: r.scopes as TokenScope[],
  expiresAt: iso(r.expires_at),
  revokedAt: iso(r.revoked_at),
  lastUsedAt: iso(r.last_used_at),
  createdAt: r.created_at.toISOString(),
});
