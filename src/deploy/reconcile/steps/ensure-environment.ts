import { networkLabels, networkName } from '../../../dataplane/labels.js';
import { CONTINUE, type Step, targetOf } from '../deps.js';

/** The (project, environment)'s isolated network exists before any replica joins it. */
export const ensureEnvironment: Step = {
  name: 'ensure-environment',
  async run(ctx) {
    const t = targetOf(ctx);
    if (!t) return CONTINUE;
    const { instance } = ctx.deps;
    ctx.network = await ctx.dp.ensureNetwork(networkName(instance, t), networkLabels({ instance, ...t }));
    return CONTINUE;
  },
};
