import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { Condition, DeploymentPhase } from '../domain/conditions.js';
import type { ConfigItem } from '../domain/configuration.js';
import type { DeploymentSpec, DeploymentStatus, ReleaseSpec } from '../domain/deployment-spec.js';
import type { EndpointSpec } from '../domain/endpoint.js';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface UsersTable {
  id: string;
  name: string;
  display_name: string;
  platform_admin: Generated<boolean>;
  default_org: string | null;
  created_at: Timestamp;
}

export interface OrganizationsTable {
  id: string;
  name: string;
  display_name: string;
  created_at: Timestamp;
}

export interface MembershipsTable {
  org_id: string;
  user_id: string;
  role: string;
  created_at: Timestamp;
}

export interface TokensTable {
  id: string;
  user_id: string;
  name: string;
  /** SHA-256 of the token; the token itself is shown once and never stored. */
  hash: string;
  scopes: Json<string[]>;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
  created_at: Timestamp;
}

/** Console sessions (G4): a browser's sign-in, stored as the SHA-256 of the cookie's secret. */
export interface SessionsTable {
  id: string;
  user_id: string;
  /** The token signed in with; null for sign-ins without one (OIDC, later). */
  token_id: string | null;
  hash: string;
  scopes: Json<string[]>;
  created_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface DataPlanesTable {
  id: string;
  org_id: string;
  name: string;
  type: string;
  config: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

export interface EnvironmentsTable {
  id: string;
  org_id: string;
  name: string;
  display_name: string;
  production: boolean;
  data_plane_id: string;
  /** Which internal-gateway listener (base port + slot) serves this environment. */
  gateway_slot: number | null;
  /** Who must approve promotions into this environment (§6.5); null = no approval needed. */
  approval: ColumnType<ApprovalPolicy | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  resource_version: Generated<number>;
}

export interface ApprovalPolicy {
  users: string[];
  roles: string[];
  required: number;
}

export interface PipelinesTable {
  id: string;
  org_id: string;
  name: string;
  /** Environment ids in promotion order. */
  environment_ids: Json<string[]>;
  is_default: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
  resource_version: Generated<number>;
}

export interface ProjectsTable {
  id: string;
  org_id: string;
  name: string;
  display_name: string;
  description: string;
  pipeline_id: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  resource_version: Generated<number>;
}

export interface ComponentsTable {
  id: string;
  org_id: string;
  project_id: string;
  name: string;
  display_name: string;
  description: string;
  type: string;
  source: Json<Record<string, unknown>>;
  build_preset: string | null;
  build_configs: Json<Record<string, string>>;
  auto_build: boolean;
  auto_deploy: boolean;
  endpoints: ColumnType<EndpointSpec[], string | undefined, string>;
  /** The private repository's token: a `config_values` row, never plaintext. */
  source_token_value_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Extra paths (beyond the component's directory) whose changes start a build (F6). */
  watch_paths: ColumnType<string[], string | undefined, string>;
  build_tags: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
  resource_version: Generated<number>;
}

export interface DeploymentsTable {
  id: string;
  org_id: string;
  component_id: string;
  environment_id: string;
  status: DeploymentStatus;
  image: string | null;
  replicas: number | null;
  /** What runs, frozen at creation: endpoints, env, command (see src/domain/deployment-spec.ts). */
  spec: Json<DeploymentSpec>;
  status_reason: string | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  release_id: string | null;
  /** `YYYYMMDD-N.<configRevision>.<deployCount>` (§1). */
  name: string | null;
  config_revision: number | null;
  /** deploy | promote | rollback | redeploy */
  action: string | null;
  /** The deployment a promotion, rollback or redeploy started from. */
  source_id: string | null;
  /** When it last became active (set by a trigger, see migration 202612010300_alerts). */
  activated_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** Where its rollout is; `status` is the coarser word the API has always shown (src/domain/conditions.ts). */
  phase: ColumnType<DeploymentPhase, DeploymentPhase | undefined, DeploymentPhase>;
  conditions: ColumnType<Condition[], string | undefined, string>;
}

export interface ConfigValuesTable {
  id: string;
  org_id: string;
  /** Null for a value no component owns (a repository's webhook secret). */
  component_id: string | null;
  key_id: string;
  wrapped_key: string;
  ciphertext: string;
  created_at: Timestamp;
}

export interface ConfigEntriesTable {
  component_id: string;
  /** '' = component scope (every environment). */
  environment_id: string;
  key: string;
  kind: 'env' | 'file';
  secret: boolean;
  value_id: string;
  version: number;
  updated_by: string;
  updated_at: Timestamp;
}

export interface ConfigScopesTable {
  component_id: string;
  environment_id: string;
  revision: number;
}

export interface ReleasesTable {
  id: string;
  org_id: string;
  component_id: string;
  /** `YYYYMMDD-N`: stays the same across promotions. */
  name: string;
  build_id: string | null;
  image: string;
  commit: string | null;
  spec: Json<ReleaseSpec>;
  /** The component-scope configuration frozen into the release. */
  config: Json<ConfigItem[]>;
  config_revision: number;
  created_by: string;
  created_at: Timestamp;
}

export interface ApprovalDecision {
  user: string;
  decision: 'approved' | 'rejected';
  comment: string;
  at: string;
}

export interface ApprovalRequestsTable {
  id: string;
  org_id: string;
  component_id: string;
  environment_id: string;
  source_deployment_id: string;
  release_id: string;
  status: string;
  required: number;
  requested_by: string;
  requested_by_id: string;
  comment: string;
  decisions: Json<ApprovalDecision[]>;
  deployment_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DeploymentEventsTable {
  id: Generated<string>;
  deployment_id: string;
  kind: string;
  message: string;
  created_at: Timestamp;
}

export interface BuildsTable {
  id: string;
  org_id: string;
  component_id: string;
  /** Resolved in `init`; null until then. */
  commit: string | null;
  /** What was asked for: a commit id or `branch:<name>`. */
  requested_ref: string;
  /** Hash of the build settings (preset + build configs): same commit + same hash = same image. */
  config_hash: string;
  status: string;
  steps: Json<BuildStepRecord[]>;
  image: string | null;
  descriptor: Json<Record<string, unknown>> | null;
  reason: string | null;
  created_by: string;
  created_at: Timestamp;
  finished_at: Timestamp | null;
  /** The commit's committer time, recorded by `init` (DORA lead time); null before, or for older builds. */
  committed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface BuildStepRecord {
  name: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'skipped';
  startedAt?: string;
  endedAt?: string;
  log: string;
}

/** One run of a task (§8); `logs` is kept after the container is gone, capped per execution. */
export interface ExecutionsTable {
  id: string;
  org_id: string;
  component_id: string;
  environment_id: string;
  deployment_id: string;
  trigger: string;
  triggered_by: string;
  due_at: Timestamp | null;
  args: Json<string[]>;
  status: string;
  status_reason: string | null;
  exit_code: number | null;
  workload_id: string | null;
  logs: Generated<string>;
  logs_truncated: Generated<boolean>;
  created_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

export interface TaskSchedulesTable {
  component_id: string;
  environment_id: string;
  suspended: Generated<boolean>;
  last_due_at: Timestamp;
  updated_at: Timestamp;
}

/** A repository's webhook in one organization (F6); the secret is an encrypted config value. */
export interface RepositoryHooksTable {
  id: string;
  org_id: string;
  /** The repository URL normalized (src/git/push-matching.ts `repositoryKey`). */
  repo_key: string;
  secret_value_id: string;
  created_at: Timestamp;
  rotated_at: Timestamp;
  poll_interval_seconds: number | null;
  polled_at: Timestamp | null;
  poll_failures: Generated<number>;
  poll_error: string | null;
  /** ref → commit as the last poll saw them. */
  poll_heads: ColumnType<Record<string, string>, string | undefined, string>;
}

export interface WebhookDeliveriesTable {
  id: string;
  hook_id: string | null;
  org_id: string | null;
  provider: string;
  delivery_id: string | null;
  status: number;
  outcome: string;
  detail: Json<Record<string, unknown>>;
  received_at: Timestamp;
}

export interface SettingsTable {
  key: string;
  value: Json<unknown>;
}

export interface AuditEventsTable {
  id: Generated<string>;
  org: string | null;
  actor: string;
  action: string;
  resource_type: string;
  resource: string;
  outcome: string;
  request_id: string;
  source_ip: string;
  detail: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

/** One line a replica printed (G3), kept `RONDO_LOG_RETENTION_DAYS` after its container is gone. */
export interface RuntimeLogsTable {
  id: Generated<string>;
  org_id: string;
  component_id: string;
  environment_id: string;
  deployment_id: string;
  deployment: string;
  replica: string;
  /** Microseconds since the epoch (bigint). */
  at_us: ColumnType<string, string, string>;
  stream: string;
  level: string | null;
  message: string;
}

/** Where the runtime log collector resumes a container's log: its newest stored line. */
export interface RuntimeLogSourcesTable {
  container_id: string;
  last_ns: string;
  last_count: number;
  updated_at: Timestamp;
}

/** One request the gateway answered for a component (G3), kept as long as runtime logs. */
export interface GatewayRequestsTable {
  id: Generated<string>;
  org_id: string;
  component_id: string;
  environment_id: string;
  deployment_id: string | null;
  deployment: string | null;
  /** Microseconds since the epoch (bigint). */
  at_us: ColumnType<string, string, string>;
  method: string;
  path: string;
  status: number;
  outcome: string;
  duration_ms: number;
  bytes: ColumnType<string, string | number, string | number>;
  request_id: string;
}

/** Where the gateway log collector resumes the access log file: which file, and how far. */
export interface GatewayLogSourcesTable {
  path: string;
  file_id: string;
  offset: ColumnType<string, string | number, string | number>;
  updated_at: Timestamp;
}

/** An alert rule of a component in one environment (G3); the webhook secret is an encrypted value. */
export interface AlertRulesTable {
  id: string;
  org_id: string;
  component_id: string;
  environment_id: string;
  name: string;
  kind: string;
  params: Json<Record<string, unknown>>;
  webhook_url: string | null;
  webhook_secret_value_id: string | null;
  emails: ColumnType<string[], string | undefined, string>;
  enabled: Generated<boolean>;
  state: Generated<string>;
  incident_id: string | null;
  memory: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** An endpoint's API management policy in one environment (G7); `policy` is the domain's EndpointPolicy. */
export interface EndpointPoliciesTable {
  id: string;
  org_id: string;
  component_id: string;
  environment_id: string;
  endpoint: string;
  policy: Json<Record<string, unknown>>;
  jwks_keys: ColumnType<{ kid?: string; pem: string }[], string | undefined, string>;
  jwks_fetched_at: Date | null;
  jwks_error: string | null;
  updated_by: string;
  updated_at: Timestamp;
}

/** An endpoint's API key for one consumer: only its SHA-256 hash. */
export interface ApiKeysTable {
  id: string;
  org_id: string;
  component_id: string;
  environment_id: string;
  endpoint: string;
  consumer: string;
  key_hash: string;
  created_by: string;
  created_at: Timestamp;
  revoked_at: Date | null;
}

/** One firing of an alert, until it resolved: the alert history. */
export interface AlertIncidentsTable {
  id: string;
  org_id: string;
  component_id: string;
  environment_id: string;
  rule_id: string | null;
  rule_name: string;
  kind: string;
  source: string;
  summary: string;
  fired_at: Timestamp;
  resolved_at: Timestamp | null;
  resolution: string | null;
}

/** One attempt record per try of one notification (a transition sent to one channel). */
export interface AlertDeliveryAttempt {
  at: string;
  ok: boolean;
  /** The HTTP status or SMTP reply, or why the attempt failed. */
  detail: string;
}

export interface AlertNotificationsTable {
  id: string;
  incident_id: string;
  rule_id: string | null;
  transition: string;
  channel: string;
  target: string;
  status: string;
  attempts: ColumnType<AlertDeliveryAttempt[], string | undefined, string>;
  next_attempt_at: Timestamp | null;
  created_at: Timestamp;
}

export interface Database {
  users: UsersTable;
  organizations: OrganizationsTable;
  memberships: MembershipsTable;
  tokens: TokensTable;
  sessions: SessionsTable;
  data_planes: DataPlanesTable;
  environments: EnvironmentsTable;
  pipelines: PipelinesTable;
  projects: ProjectsTable;
  components: ComponentsTable;
  deployments: DeploymentsTable;
  audit_events: AuditEventsTable;
  settings: SettingsTable;
  deployment_events: DeploymentEventsTable;
  builds: BuildsTable;
  config_values: ConfigValuesTable;
  config_entries: ConfigEntriesTable;
  config_scopes: ConfigScopesTable;
  releases: ReleasesTable;
  approval_requests: ApprovalRequestsTable;
  executions: ExecutionsTable;
  task_schedules: TaskSchedulesTable;
  repository_hooks: RepositoryHooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  alert_rules: AlertRulesTable;
  alert_incidents: AlertIncidentsTable;
  alert_notifications: AlertNotificationsTable;
  endpoint_policies: EndpointPoliciesTable;
  api_keys: ApiKeysTable;
}

/**
 * Runtime and gateway logs: written steadily by the collectors, read by log queries and rules.
 * On the embedded store they live in a database of their own (`Store.logs`), so nothing may join
 * them with the tables above; on PostgreSQL they are in the same database.
 */
export interface LogDatabase {
  runtime_logs: RuntimeLogsTable;
  runtime_log_sources: RuntimeLogSourcesTable;
  gateway_requests: GatewayRequestsTable;
  gateway_log_sources: GatewayLogSourcesTable;
}

export type UserRow = Selectable<UsersTable>;
export type OrganizationRow = Selectable<OrganizationsTable>;
export type TokenRow = Selectable<TokensTable>;
export type DataPlaneRow = Selectable<DataPlanesTable>;
export type EnvironmentRow = Selectable<EnvironmentsTable>;
export type PipelineRow = Selectable<PipelinesTable>;
export type ProjectRow = Selectable<ProjectsTable>;
export type ComponentRow = Selectable<ComponentsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type NewAuditEvent = Insertable<AuditEventsTable>;
export type ComponentUpdate = Updateable<ComponentsTable>;
export type DeploymentRow = Selectable<DeploymentsTable>;
