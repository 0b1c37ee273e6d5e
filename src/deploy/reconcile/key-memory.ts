import type { EnvironmentInfo } from '../../dataplane/driver.js';

/**
 * What this process remembers about a key between its reconciles. Nothing here is needed for
 * correctness after a restart: a restarted control plane probes again from a fresh deadline,
 * skips a drain it cannot date, and counts liveness failures anew.
 */
export interface KeyMemory {
  /** The rollout the readiness fields are about. */
  rollout?: {
    deployment: string;
    deadline: number;
    /** Poll every 10 ms until then (most services answer within a second), then back off. */
    fastUntil: number;
    pause: number;
    /** Replicas (ids) that passed readiness in this process. */
    passed: Set<string>;
    lastReason: string;
    /** The environment ensured when the rollout started: a requeue that waits for readiness does not ensure it again. */
    environment?: EnvironmentInfo;
  };
  /** Replicas of superseded deployments keep their in-flight requests until then. */
  drainUntil?: number;
  /** Consecutive liveness failures per replica. */
  livenessFailures: Map<string, number>;
  /** When the active deployment's replicas were last probed for liveness. */
  livenessAt: number;
}

export const newKeyMemory = (): KeyMemory => ({ livenessFailures: new Map(), livenessAt: 0 });
