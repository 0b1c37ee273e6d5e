import type { ConfigDeclaration, ConfigItem } from './configuration.js';
import type { EndpointSpec } from './endpoint.js';
import type { ResourceLimits } from './resource-limits.js';
import type { TaskSpec } from './task.js';

/** What a deployment runs, frozen when it is created (deployments are immutable, §1). */
export interface DeploymentSpec {
  image: string;
  /** The engine's image id, pinned by the rollout so a moved tag never changes what runs. */
  imageId?: string;
  replicas: number;
  endpoints: EndpointSpec[];
  env: Record<string, string>;
  /** Release config merged with the environment's (environment wins); values stay encrypted in the store. */
  config?: ConfigItem[];
  /** Per replica (or task run); unset: unlimited. */
  resources?: ResourceLimits;
  /** Task components: how executions run. A task's deployment starts no replicas and serves nothing. */
  task?: TaskSpec;
}

/** What a release carries besides its image: the component spec at the build's commit. */
export interface ReleaseSpec {
  endpoints: EndpointSpec[];
  configurations: ConfigDeclaration[];
}

export type DeploymentStatus = 'pending' | 'rolling-out' | 'active' | 'failed' | 'superseded';
export const IN_PROGRESS: readonly DeploymentStatus[] = ['pending', 'rolling-out'];

/** deploy: a build or image (or pending config) into an environment; the rest start from a deployment. */
export type DeploymentAction = 'deploy' | 'promote' | 'rollback' | 'redeploy';
