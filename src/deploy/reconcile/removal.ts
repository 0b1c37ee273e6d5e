import type { Replica } from '../../dataplane/driver.js';
import { LABEL } from '../../dataplane/labels.js';

/** What owns the workloads of one scope, as the store says now. */
export interface Owners {
  /**
   * Live deployments (pending, rolling out, active) of the key, with their replica count;
   * `replaceDead`: a replica that stopped is removed to be started again (a serving deployment),
   * rather than kept so a rollout can read why it stopped.
   */
  deployments: ReadonlyMap<string, { replicas: number; replaceDead: boolean }>;
  /** Replicas of deployments no longer live still finish their in-flight requests. */
  draining: boolean;
  /** Whether the (project, environment) still exists: a task sandbox lives as long as it does. */
  scopeExists: boolean;
  /**
   * The data plane brings its replicas up and back itself (Kubernetes: the kubelet and the
   * ReplicaSet): only one that will not run again (`exited`, `dead`) is dead; one being created
   * or between restarts is the data plane's, and removing it would only start it again.
   */
  restartsItself?: boolean;
}

const isDead = (w: Replica, restartsItself = false) =>
  restartsItself
    ? w.state === 'exited' || w.state === 'dead'
    : w.state !== 'running' && w.state !== 'restarting';

/**
 * The one rule for what Rondo removes from a data plane, used by every step and pass that
 * removes anything: a replica no live deployment owns (once no drain protects it), one beyond its
 * deployment's count, a stopped one a serving deployment replaces, and a task sandbox whose
 * scope is gone. Execution containers are the execution runner's, never removed here.
 */
export function shouldRemove(w: Replica, owners: Owners): boolean {
  if (w.labels[LABEL.execution] !== undefined) return false;
  if (w.labels[LABEL.sandbox] !== undefined) return !owners.scopeExists;
  const owner = owners.deployments.get(w.labels[LABEL.deployment] ?? '');
  if (!owner) return !owners.scopeExists || !owners.draining;
  if (Number(w.labels[LABEL.replica]) >= owner.replicas) return true;
  return owner.replaceDead && isDead(w, owners.restartsItself);
}

export const toRemove = (workloads: Replica[], owners: Owners) =>
  workloads.filter((w) => shouldRemove(w, owners));
