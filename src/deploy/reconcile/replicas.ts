import { setTimeout as sleep } from 'node:timers/promises';
import type { DataPlaneDriver, Probe, Replica } from '../../dataplane/driver.js';
import { LABEL, networkLabels } from '../../dataplane/labels.js';
import type { DeploymentSpec } from '../../domain/deployment-spec.js';
import type { DeploymentTarget } from '../targets.js';
import type { ReconcileContext } from './deps.js';
import type { Owners } from './removal.js';

/** The readiness probe (§6.4): TCP on the first endpoint port; none when there is no endpoint. */
export function readinessProbe(spec: DeploymentSpec): Probe | undefined {
  const first = spec.endpoints[0];
  return first ? { kind: 'tcp', port: first.port } : undefined;
}

/** What every replica of a deployment carries; the driver adds each one's index. */
export function revisionLabels(instance: string, t: DeploymentTarget): Record<string, string> {
  return {
    ...networkLabels({ instance, org: t.org, project: t.project, environment: t.environment }),
    [LABEL.component]: t.component,
    [LABEL.deployment]: t.id,
  };
}

/** The replicas of `t` that count (index below its replica count). */
export const replicasOf = (ctx: ReconcileContext, t: DeploymentTarget) =>
  ctx.workloads.filter(
    (w) => w.labels[LABEL.deployment] === t.id && Number(w.labels[LABEL.replica]) < t.spec.replicas,
  );

/** Who owns this key's workloads right now, for `shouldRemove`. */
export function ownersOf(ctx: ReconcileContext): Owners {
  const deployments = new Map<string, { replicas: number; replaceDead: boolean }>();
  if (ctx.active) deployments.set(ctx.active.id, { replicas: ctx.active.spec.replicas, replaceDead: true });
  if (ctx.next) deployments.set(ctx.next.id, { replicas: ctx.next.spec.replicas, replaceDead: false });
  const draining = ctx.memory.drainUntil !== undefined && Date.now() < ctx.memory.drainUntil;
  // Kubernetes restarts crashed containers and recreates pods itself (docs/kubernetes.md).
  return { deployments, draining, scopeExists: true, restartsItself: ctx.dp.capabilities.restartsOnLiveness };
}

/** Replaces a workload in the observed state with what an action returned (or drops it). */
export function observed(ctx: ReconcileContext, id: string, now: Replica | undefined): void {
  const i = ctx.workloads.findIndex((w) => w.id === id);
  if (i >= 0 && now) ctx.workloads[i] = now;
  else if (i >= 0) ctx.workloads.splice(i, 1);
  else if (now) ctx.workloads.push(now);
}

/** The last lines of each replica, for the reason of a failed rollout. */
export async function lastLogs(dp: DataPlaneDriver, replicas: Replica[]): Promise<string> {
  const parts = await Promise.all(
    replicas.map(async (w) => {
      let text = await dp.revisions.logs(w.id, 20).catch(() => '');
      // A replica that died a moment ago may not have its output in the engine's log yet.
      for (let i = 0; i < 5 && !text.trim(); i++) {
        await sleep(100);
        text = await dp.revisions.logs(w.id, 20).catch(() => '');
      }
      return text.trim() ? `[${w.name}]\n${text.trim()}` : '';
    }),
  );
  return parts.filter(Boolean).join('\n');
}
