import { replicaNames } from '../../targets.js';
import { CONTINUE, type Step, targetOf } from '../deps.js';
import { observed, replicasOf } from '../replicas.js';
import { setDeploymentConditions, transition } from '../status.js';

/**
 * The gateway and the names move to the replicas that passed readiness, then the replicas are
 * marked ready where a restarted control plane will see it. A rollout's switch is its phase
 * (`TrafficSwitching`): the gateway routes it in place of the active one until activate records
 * it active, so a crash in between leaves the gateway on replicas that passed readiness and
 * still run, and the resumed rollout probes and marks again. A serving deployment's replicas
 * brought back join its routes.
 */
export const switchTraffic: Step = {
  name: 'switch-traffic',
  async run(ctx) {
    const t = targetOf(ctx);
    if (!t) return CONTINUE;
    const { deps, dp } = ctx;
    const mine = replicasOf(ctx, t);
    const unmarked = mine.filter((w) => !w.ready);
    ctx.memory.rollout = undefined;
    if (t !== ctx.next && unmarked.length === 0) return CONTINUE;
    if (t === ctx.next) {
      // Recorded before the gateway moves: the gateway's desired state is read from the store, and
      // a switching deployment is routed in place of the active one until activate (or a failure).
      await transition(deps.store.db, t.id, {
        from: ['Progressing', 'TrafficSwitching'],
        to: 'TrafficSwitching',
        conditions: [
          {
            type: 'TrafficSwitched',
            status: 'True',
            reason: 'GatewaySwitched',
            message: `${mine.length} replicas ready`,
          },
        ],
      });
      // The switch does not wait for the marks (a rename holds the container, which the sync's
      // listing would wait on).
      await deps.gateway.sync();
    }
    const environment = ctx.environment;
    if (!environment) throw new Error('switch-traffic runs after ensure-environment');
    const marked = await Promise.all(
      unmarked.map((w) => dp.revisions.markServing(w.id, environment.name, replicaNames(t))),
    );
    for (const w of marked) observed(ctx, w.id, w);
    if (t !== ctx.next) {
      await deps.gateway.sync();
      await setDeploymentConditions(deps.store.db, t.id, [
        {
          type: 'Degraded',
          status: 'False',
          reason: 'ReplicasServing',
          message: `${mine.length} replicas ready`,
        },
      ]);
    }
    return CONTINUE;
  },
};
