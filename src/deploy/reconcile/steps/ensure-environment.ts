import { CONTINUE, type Step, targetOf } from '../deps.js';

/** The (project, environment)'s isolated environment exists before any replica joins it. */
export const ensureEnvironment: Step = {
  name: 'ensure-environment',
  async run(ctx) {
    const t = targetOf(ctx);
    if (!t) return CONTINUE;
    const rollout = ctx.memory.rollout;
    if (rollout?.deployment === t.id && rollout.environment) {
      ctx.environment = rollout.environment;
      return CONTINUE;
    }
    ctx.environment = await ctx.dp.environments.ensure({
      instance: ctx.deps.instance,
      org: t.org,
      project: t.project,
      environment: t.environment,
    });
    if (rollout?.deployment === t.id) rollout.environment = ctx.environment;
    return CONTINUE;
  },
};
