import { recordDeploymentCondition } from '../../deployment-conditions.js';
import { CONTINUE, done, type Step, targetOf } from '../deps.js';
import { observed, readinessProbe, replicasOf } from '../replicas.js';
import { failRollout } from '../status.js';

/** Readiness could not pass: a replica stopped, or the deadline went by. */
export class NotReady extends Error {}

/**
 * Every replica of the deployment passes readiness (§6.4) before it takes traffic. A rollout
 * probes every replica, even one already marked (a resumed rollout trusts nothing); a serving
 * deployment probes only the replicas it is bringing back. Waiting is a requeue: 10 ms apart for
 * the first second (most services answer by then; a probe is one local connection), then backing
 * off to 200 ms.
 */
export const awaitReady: Step = {
  name: 'await-ready',
  async run(ctx) {
    const t = targetOf(ctx);
    if (!t) return CONTINUE;
    const { deps, dp, memory } = ctx;
    const rolling = t === ctx.next;
    const now = Date.now();
    if (memory.rollout?.deployment !== t.id)
      memory.rollout = {
        deployment: t.id,
        deadline: now + deps.settings.readinessTimeoutMs,
        fastUntil: now + 1000,
        pause: 10,
        passed: new Set(),
        lastReason: 'not started',
        ...(ctx.environment ? { environment: ctx.environment } : {}),
      };
    const r = memory.rollout;
    const probe = readinessProbe(t.spec);
    const pending = replicasOf(ctx, t).filter((w) => !r.passed.has(w.id) && (rolling || !w.ready));
    try {
      for (const listed of pending) {
        const reading = await dp.revisions.probe(listed.id, probe);
        observed(ctx, listed.id, reading.replica);
        if (reading.stopped) throw new NotReady(reading.failure ?? `replica ${listed.name} stopped`);
        if (reading.failure === undefined) r.passed.add(listed.id);
        else r.lastReason = reading.failure;
      }
      const all = replicasOf(ctx, t);
      // A serving deployment's replicas already marked ready are not probed again.
      const isReady = (w: (typeof all)[number]) => r.passed.has(w.id) || (!rolling && w.ready);
      if (all.every(isReady)) return CONTINUE;
      if (ctx.signal.aborted) return done();
      if (Date.now() > r.deadline) {
        const seconds = Math.round(deps.settings.readinessTimeoutMs / 100) / 10;
        const unready = all.filter((w) => !isReady(w)).length;
        await recordDeploymentCondition(
          deps.store,
          t.id,
          'readiness-failed',
          `${unready} of ${all.length} replicas did not pass readiness within ${seconds} s; the probe answered: ${r.lastReason}`,
        );
        throw new NotReady(`readiness did not pass within ${seconds} s (${r.lastReason})`);
      }
    } catch (err) {
      if (!(err instanceof NotReady)) throw err;
      if (rolling) {
        await failRollout(ctx, t, err.message);
        return done();
      }
      // Bringing replicas back failed: only replicas that never served go; the next try starts them again.
      const unserved = replicasOf(ctx, t).filter((w) => !w.ready);
      await Promise.all(unserved.map((w) => dp.revisions.remove(w.id, 1).catch(() => undefined)));
      memory.rollout = undefined;
      throw new Error(`could not bring replicas back: ${err.message}`);
    }
    const pause = r.pause;
    if (Date.now() > r.fastUntil) r.pause = Math.min(r.pause * 2, 200);
    return done(pause);
  },
};
