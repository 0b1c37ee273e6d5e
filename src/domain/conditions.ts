/**
 * A deployment's phase and conditions (Kubernetes' shape): the phase says where its rollout is,
 * conditions say what holds and why. Persisted, so what the API, `rondo describe` and the
 * gateway read is the store alone.
 */
export const DEPLOYMENT_PHASES = [
  'Pending',
  'Progressing',
  /** The gateway routes it in place of the active deployment; the store has not recorded it active yet. */
  'TrafficSwitching',
  'Active',
  'Failed',
  'Superseded',
] as const;
export type DeploymentPhase = (typeof DEPLOYMENT_PHASES)[number];

export const CONDITION_TYPES = [
  'Ready',
  'Progressing',
  'TrafficSwitched',
  'ImagePinned',
  'Degraded',
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  /** One CamelCase word a program can match. */
  reason: string;
  message: string;
  /** When `status` last changed (ISO 8601). */
  lastTransitionTime: string;
  /** The deployment's generation this was observed at; deployments are immutable, so always 1. */
  observedGeneration: number;
}

export type ConditionUpdate = Pick<Condition, 'type' | 'status' | 'reason'> & { message?: string };

/** Longest message kept in a condition; an engine error or a probe's reason is cut there. */
const MESSAGE_MAX_CHARS = 1024;

/**
 * Sets conditions like `conditions.Set` in controller-runtime's helpers: a condition whose status
 * does not change keeps its `lastTransitionTime`; the others keep their order, new ones go last.
 */
export function setConditions(
  current: readonly Condition[],
  updates: ConditionUpdate[],
  now: Date,
): Condition[] {
  const next = [...current];
  for (const u of updates) {
    const message = (u.message ?? '').slice(0, MESSAGE_MAX_CHARS);
    const i = next.findIndex((c) => c.type === u.type);
    const old = i >= 0 ? next[i] : undefined;
    const c: Condition = {
      type: u.type,
      status: u.status,
      reason: u.reason,
      message,
      lastTransitionTime: old && old.status === u.status ? old.lastTransitionTime : now.toISOString(),
      observedGeneration: 1,
    };
    if (i >= 0) next[i] = c;
    else next.push(c);
  }
  return next;
}
