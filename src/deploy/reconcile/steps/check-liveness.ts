import { CONTINUE, type Step } from '../deps.js';
import { readinessProbe, replicasOf } from '../replicas.js';

/** Passes in a row a replica may fail liveness before it is restarted. */
const LIVENESS_FAILURES = 3;

/**
 * Liveness (§6.4): a serving replica that fails the probe on LIVENESS_FAILURES checks in a row
 * (at most one check per resync period) is restarted, and the restart is recorded as an event.
 */
export const checkLiveness: Step = {
  name: 'check-liveness',
  async run(ctx) {
    const t = ctx.active;
    if (!t || ctx.next) return CONTINUE;
    const { deps, dp, memory } = ctx;
    if (Date.now() - memory.livenessAt < deps.livenessIntervalMs) return CONTINUE;
    memory.livenessAt = Date.now();
    // Where the data plane restarts what fails liveness itself (Kubernetes), Rondo does not; the
    // check still counts as done, so the resync pass finds the key idle and does not enqueue it
    // again at every pass (1,000 reconciles of nothing per pass on a cluster).
    if (dp.capabilities.restartsOnLiveness) return CONTINUE;
    const probe = readinessProbe(t.spec);
    if (!probe) return CONTINUE;
    const serving = replicasOf(ctx, t).filter((w) => w.ready && w.state === 'running');
    await Promise.all(
      serving.map(async (w) => {
        const reason = (await dp.revisions.probe(w.id, probe)).failure;
        if (reason === undefined) {
          memory.livenessFailures.delete(w.id);
          return;
        }
        const failures = (memory.livenessFailures.get(w.id) ?? 0) + 1;
        memory.livenessFailures.set(w.id, failures);
        if (failures < LIVENESS_FAILURES) return;
        memory.livenessFailures.delete(w.id);
        ctx.log.warn({ replica: w.name, reason }, 'liveness failed; restarting the replica');
        await dp.revisions.restart(w.id);
        await deps.store.db
          .insertInto('deployment_events')
          .values({
            deployment_id: t.id,
            kind: 'liveness-restart',
            message: `${w.name} failed liveness ${failures} times (${reason}); restarted`,
          })
          .execute();
      }),
    );
    return CONTINUE;
  },
};
