import type { Migration } from 'kysely';
import * as initial from './202611220000_initial.js';
import * as deployments from './202611220100_deployments.js';
import * as deploymentEvents from './202611220200_deployment_events.js';
import * as builds from './202611220300_builds.js';
import * as releases from './202611220400_releases.js';
import * as sourceTokens from './202611220500_source_tokens.js';
import * as executions from './202611220600_executions.js';
import * as webhooks from './202611220700_webhooks.js';
import * as sessions from './202611300000_sessions.js';
import * as runtimeLogs from './202611301200_runtime_logs.js';
import * as gatewayRequests from './202612010200_gateway_requests.js';
import * as alerts from './202612010300_alerts.js';
import * as endpointPolicies from './202612010600_endpoint_policies.js';
import * as componentChanges from './202612020000_component_changes.js';
import * as deploymentConditions from './202612020100_deployment_conditions.js';
import * as deploymentsByKey from './202612030000_deployments_by_key.js';

/** Every migration, by name; names sort in the order they apply. Forward-only: never edit one that shipped. */
export const migrations: Record<string, Migration> = {
  '202611220000_initial': initial,
  '202611220100_deployments': deployments,
  '202611220200_deployment_events': deploymentEvents,
  '202611220300_builds': builds,
  '202611220400_releases': releases,
  '202611220500_source_tokens': sourceTokens,
  '202611220600_executions': executions,
  '202611220700_webhooks': webhooks,
  '202611300000_sessions': sessions,
  '202611301200_runtime_logs': runtimeLogs,
  '202612010200_gateway_requests': gatewayRequests,
  '202612010300_alerts': alerts,
  '202612010600_endpoint_policies': endpointPolicies,
  '202612020000_component_changes': componentChanges,
  '202612020100_deployment_conditions': deploymentConditions,
  '202612030000_deployments_by_key': deploymentsByKey,
};
