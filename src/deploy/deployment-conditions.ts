import { storableText } from '../domain/storable-text.js';
import type { Store } from '../store/store.js';

/**
 * Conditions the rollout meets at the point of failure (G3), kept as deployment events with the
 * deployment's history: `readiness-failed` (with the probe's answer), `image-pull-failed` (with
 * the engine's answer), `config-error` (the configuration could not be turned into the
 * replicas' environment and files), `start-failed` (the engine refused to start a replica).
 */
export type DeploymentConditionKind =
  | 'readiness-failed'
  | 'image-pull-failed'
  | 'config-error'
  | 'start-failed';

/** The same condition of the same deployment is recorded once in this window (the reconciler retries). */
const REPEAT_WINDOW_MS = 10 * 60_000;

/**
 * Records a condition as an event of `deploymentId`. Never throws: a rollout that failed must go
 * on to record its failure even when its event cannot be written.
 */
export async function recordDeploymentCondition(
  store: Store,
  deploymentId: string,
  kind: DeploymentConditionKind,
  message: string,
): Promise<void> {
  const text = storableText(message, { maxChars: 4096 });
  try {
    const recent = await store.db
      .selectFrom('deployment_events')
      .select('id')
      .where('deployment_id', '=', deploymentId)
      .where('kind', '=', kind)
      .where('message', '=', text)
      .where('created_at', '>', new Date(Date.now() - REPEAT_WINDOW_MS))
      .executeTakeFirst();
    if (recent) return;
    await store.db
      .insertInto('deployment_events')
      .values({ deployment_id: deploymentId, kind, message: text })
      .execute();
  } catch {
    // Best effort by design (see above); the deployment's status reason says the same.
  }
}

/**
 * For `.catch(...)` at a point of failure: records the error as a condition of `deploymentId`,
 * then throws it on unchanged.
 */
export function recordingCondition(
  store: Store,
  deploymentId: string,
  kind: DeploymentConditionKind,
  describe: (reason: string) => string = (reason) => reason,
): (err: unknown) => Promise<never> {
  return async (err) => {
    const reason = err instanceof Error ? err.message : String(err);
    await recordDeploymentCondition(store, deploymentId, kind, describe(reason));
    throw err;
  };
}
