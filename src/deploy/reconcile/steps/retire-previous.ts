import { CONTINUE, type Step } from '../deps.js';
import { toRemove } from '../removal.js';
import { observed, ownersOf } from '../replicas.js';

/**
 * What no live deployment of the key owns any more is stopped and removed (by `shouldRemove`,
 * the one rule). A failure here never touches what serves: the key is retried with backoff.
 */
export const retirePrevious: Step = {
  name: 'retire-previous',
  async run(ctx) {
    const gone = toRemove(ctx.workloads, ownersOf(ctx));
    if (gone.length === 0) return CONTINUE;
    const { deps, dp } = ctx;
    await Promise.all(gone.map((w) => dp.revisions.remove(w.id, deps.settings.stopGraceSeconds)));
    for (const w of gone) observed(ctx, w.id, undefined);
    // A replica beyond its count may have been routed to: the gateway forgets it.
    if (gone.some((w) => w.ready && w.labels['rondo.deployment'] === ctx.active?.id))
      await deps.gateway.sync();
    return CONTINUE;
  },
};
