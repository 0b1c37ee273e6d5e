import { materialize, redact } from '../../configuration/materialize.js';
import { type ConditionUpdate, type DeploymentPhase, setConditions } from '../../domain/conditions.js';
import type { DeploymentSpec, DeploymentStatus } from '../../domain/deployment-spec.js';
import { storableText } from '../../domain/storable-text.js';
import type { Executor } from '../../store/store.js';
import type { DeploymentTarget } from '../targets.js';
import type { ReconcileContext } from './deps.js';
import { lastLogs, replicasOf } from './replicas.js';

/** A failed rollout's reason with the last lines of each new replica fits in this. */
const STATUS_REASON_MAX_CHARS = 64 * 1024;

/** The status the API has always shown for each phase. */
export const STATUS_OF: Record<DeploymentPhase, DeploymentStatus> = {
  Pending: 'pending',
  Progressing: 'rolling-out',
  TrafficSwitching: 'rolling-out',
  Active: 'active',
  Failed: 'failed',
  Superseded: 'superseded',
};

export interface Transition {
  from: DeploymentPhase[];
  to: DeploymentPhase;
  conditions: ConditionUpdate[];
  /** The status reason shown by the API; `undefined` leaves it as it is. */
  reason?: string | null;
  /** A spec written with the move (the image pinned when the rollout starts). */
  spec?: DeploymentSpec;
}

/**
 * Moves a deployment from one of `from` to `to` with its conditions, compare-and-set on the phase
 * it read: false when the deployment was no longer in `from` (another control plane or a newer
 * decision got there first), so a transition is never applied twice.
 */
export async function transition(
  db: Executor,
  id: string,
  t: Transition,
  now = new Date(),
): Promise<boolean> {
  const row = await db
    .selectFrom('deployments')
    .select(['phase', 'conditions'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row || !t.from.includes(row.phase)) return false;
  const r = await db
    .updateTable('deployments')
    .set({
      phase: t.to,
      status: STATUS_OF[t.to],
      conditions: JSON.stringify(setConditions(row.conditions, t.conditions, now)),
      updated_at: now,
      ...(t.spec ? { spec: JSON.stringify(t.spec) } : {}),
      // A reason holds engine errors and the replicas' last lines: storable first, or the write
      // fails and the deployment stays rolling out.
      ...(t.reason === undefined
        ? {}
        : {
            status_reason:
              t.reason === null ? null : storableText(t.reason, { maxChars: STATUS_REASON_MAX_CHARS }),
          }),
    })
    .where('id', '=', id)
    .where('phase', '=', row.phase)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Sets conditions without moving the phase (an image pinned, replicas missing or back). */
export async function setDeploymentConditions(
  db: Executor,
  id: string,
  updates: ConditionUpdate[],
): Promise<void> {
  const row = await db.selectFrom('deployments').select('conditions').where('id', '=', id).executeTakeFirst();
  if (!row) return;
  const next = setConditions(row.conditions, updates, new Date());
  if (JSON.stringify(next) === JSON.stringify(row.conditions)) return;
  await db
    .updateTable('deployments')
    .set({ conditions: JSON.stringify(next) })
    .where('id', '=', id)
    .execute();
}

/**
 * Ends a rollout that failed before it was recorded active: the reason with the new replicas'
 * last lines (secrets redacted), the new replicas removed, the gateway back on the active one.
 */
export async function failRollout(ctx: ReconcileContext, t: DeploymentTarget, reason: string): Promise<void> {
  const { deps, dp } = ctx;
  ctx.log.warn({ reason }, 'rollout failed; the previous deployment keeps serving');
  const secrets = await materialize(deps.store.db, deps.keyring, t.spec.config ?? [])
    .then((m) => m.secrets)
    .catch(() => []);
  const mine = ctx.workloads.filter((w) => w.labels['rondo.deployment'] === t.id);
  const logs = redact(await lastLogs(dp, replicasOf(ctx, t)), secrets);
  const full = logs ? `${reason}\n--- last log lines of the new replicas ---\n${logs}` : reason;
  // Recorded first: a switched rollout's phase is what routes it, so the gateway leaves it at once.
  await transition(deps.store.db, t.id, {
    from: ['Pending', 'Progressing', 'TrafficSwitching'],
    to: 'Failed',
    reason: full,
    conditions: [
      { type: 'Progressing', status: 'False', reason: 'RolloutFailed', message: reason },
      { type: 'Ready', status: 'False', reason: 'RolloutFailed', message: reason },
      { type: 'TrafficSwitched', status: 'False', reason: 'RolloutFailed' },
    ],
  });
  await deps.gateway.sync().catch(() => undefined);
  await Promise.all(mine.map((w) => dp.revisions.remove(w.id, 1).catch(() => undefined)));
  ctx.workloads = ctx.workloads.filter((w) => !mine.includes(w));
  ctx.memory.rollout = undefined;
  ctx.next = undefined;
}
