import type { Migration } from 'kysely';
import * as initial from './202611220000_initial.js';
import * as deployments from './202611220100_deployments.js';
import * as deploymentEvents from './202611220200_deployment_events.js';
import * as builds from './202611220300_builds.js';
import * as releases from './202611220400_releases.js';
import * as sourceTokens from './202611220500_source_tokens.js';
import * as executions from './202611220600_executions.js';
import * as webhooks from './202611220700_webhooks.js';

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
};
