import { CONTINUE, done, type Step } from '../deps.js';
import { ownersOf } from '../replicas.js';

/**
 * Replicas the gateway no longer routes to keep their in-flight requests until the drain ends;
 * the key comes back then. A restarted control plane cannot date a drain and does not wait.
 */
export const drain: Step = {
  name: 'drain',
  async run(ctx) {
    const until = ctx.memory.drainUntil;
    if (until === undefined) return CONTINUE;
    const owners = ownersOf(ctx);
    const draining = ctx.workloads.some((w) => !owners.deployments.has(w.labels['rondo.deployment'] ?? ''));
    if (draining && Date.now() < until) return done(until - Date.now());
    ctx.memory.drainUntil = undefined;
    return CONTINUE;
  },
};
