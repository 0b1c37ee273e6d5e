import type { EndpointSpec } from '../domain/endpoint.js';

/** What a deployment runs, frozen when it is created (deployments are immutable, §1). */
export interface DeploymentSpec {
  image: string;
  /** The engine's image id, pinned by the rollout so a moved tag never changes what runs. */
  imageId?: string;
  replicas: number;
  endpoints: EndpointSpec[];
  env: Record<string, string>;
}

export type DeploymentStatus = 'pending' | 'rolling-out' | 'active' | 'failed' | 'superseded';
export const IN_PROGRESS: readonly DeploymentStatus[] = ['pending', 'rolling-out'];
