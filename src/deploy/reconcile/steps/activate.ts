import { CONTINUE, done, type Step } from '../deps.js';
import { replicasOf } from '../replicas.js';
import { transition } from '../status.js';

/**
 * The store records the switch: the rolled-out deployment becomes the active one and the
 * previous one is superseded, in one transaction. Its replicas start draining.
 */
/** Rolls the activation back: the deployment had left the phases it is activated from. */
class NoLongerRollingOut extends Error {}

export const activate: Step = {
  name: 'activate',
  async run(ctx) {
    const t = ctx.next;
    if (!t) return CONTINUE;
    const { deps } = ctx;
    // One transaction: the previous one is superseded first (one active per key is an index),
    // and if the new one is no longer rolling out (a lost lock, another writer) it all rolls back.
    const activated = await deps.store.db
      .transaction()
      .execute(async (tx) => {
        const previous = await tx
          .selectFrom('deployments')
          .select('id')
          .where('component_id', '=', t.component_id)
          .where('environment_id', '=', t.environment_id)
          .where('status', '=', 'active')
          .where('id', '!=', t.id)
          .execute();
        for (const p of previous)
          await transition(tx, p.id, {
            from: ['Active'],
            to: 'Superseded',
            conditions: [
              { type: 'Ready', status: 'False', reason: 'Superseded', message: `${t.id} serves instead` },
              { type: 'TrafficSwitched', status: 'False', reason: 'Superseded' },
            ],
          });
        const moved = await transition(tx, t.id, {
          from: ['Pending', 'Progressing', 'TrafficSwitching'],
          to: 'Active',
          reason: null,
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'ReplicasReady',
              message: `${t.spec.replicas} replicas ready`,
            },
            { type: 'Progressing', status: 'False', reason: 'RolloutComplete' },
            { type: 'TrafficSwitched', status: 'True', reason: 'GatewaySwitched' },
            { type: 'Degraded', status: 'False', reason: 'ReplicasServing' },
          ],
        });
        if (!moved) throw new NoLongerRollingOut();
        return true;
      })
      .catch((err: unknown) => {
        if (err instanceof NoLongerRollingOut) return false;
        throw err;
      });
    if (!activated) {
      ctx.log.warn(
        'the deployment was no longer rolling out when it was to become active; reading the key again',
      );
      return done(0);
    }
    t.status = 'active';
    ctx.active = t;
    ctx.next = undefined;
    const mine = new Set(replicasOf(ctx, t).map((w) => w.id));
    // A task's deployment serves nothing, so there is nothing to drain.
    if (t.spec.replicas > 0 && ctx.workloads.some((w) => !mine.has(w.id)))
      ctx.memory.drainUntil = Date.now() + deps.settings.drainMs;
    ctx.log.info({ replicas: mine.size }, 'deployment active; draining the previous replicas');
    return CONTINUE;
  },
};
