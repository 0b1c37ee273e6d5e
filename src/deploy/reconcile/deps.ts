import type { Logger } from 'pino';
import type { DataPlaneDriver, EnvironmentInfo, Replica } from '../../dataplane/driver.js';
import type { DataPlaneRegistry } from '../../dataplane/registry.js';
import type { Keyring } from '../../secrets/envelope.js';
import type { Store } from '../../store/store.js';
import type { GatewaySync } from '../gateway-sync.js';
import type { DeploymentTarget } from '../targets.js';
import type { ReconcileKey, ReconcileScope } from './key.js';
import type { KeyMemory } from './key-memory.js';

export interface RolloutSettings {
  readinessTimeoutMs: number;
  /** How long old replicas keep their in-flight requests after the gateway has switched. */
  drainMs: number;
  /** SIGTERM → SIGKILL grace when stopping a replica. */
  stopGraceSeconds: number;
  internalPortBase: number;
}

export interface ReconcileDeps {
  store: Store;
  dataPlanes: DataPlaneRegistry;
  gateway: GatewaySync;
  instance: string;
  logger: Logger;
  settings: RolloutSettings;
  /** Decrypts a deployment's configuration when its replicas start; nothing decrypted is stored. */
  keyring: Keyring;
  /** How often a serving deployment's replicas are probed for liveness (the resync period). */
  livenessIntervalMs: number;
}

/**
 * What one reconcile of a key knows and carries from step to step: the desired state read from
 * the store, the observed state read from the data plane (steps update it as they act), and what
 * this process remembers about the key (readiness deadline, drain end, liveness failures).
 */
export interface ReconcileContext {
  deps: ReconcileDeps;
  key: ReconcileKey;
  scope: ReconcileScope;
  dp: DataPlaneDriver;
  log: Logger;
  signal: AbortSignal;
  memory: KeyMemory;
  /** The deployment serving now, if any. */
  active: DeploymentTarget | undefined;
  /** The deployment being rolled out (pending or rolling out; at most one per key). */
  next: DeploymentTarget | undefined;
  /** This key's replicas as observed (executions and sandboxes left out). */
  workloads: Replica[];
  /** Set by ensure-environment. */
  environment?: EnvironmentInfo;
}

/**
 * A step's outcome: go on to the next step, or end this reconcile (`requeueAfter`: come back
 * then; nothing: done until something enqueues the key again).
 */
export type StepOutcome = 'continue' | { stop: true; requeueAfter?: number };

export interface Step {
  name: string;
  run(ctx: ReconcileContext): Promise<StepOutcome>;
}

export const CONTINUE: StepOutcome = 'continue';
export const done = (requeueAfter?: number): StepOutcome =>
  requeueAfter === undefined ? { stop: true } : { stop: true, requeueAfter };

/** The deployment this reconcile drives: the one rolling out, else the active one. */
export const targetOf = (ctx: ReconcileContext) => ctx.next ?? ctx.active;
