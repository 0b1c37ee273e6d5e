import type { Replica } from '../../dataplane/driver.js';
import { isExecution, LABEL } from '../../dataplane/labels.js';
import type { KeyLocks } from '../../store/key-locks.js';
import type { ReconcileContext, ReconcileDeps, Step } from './deps.js';
import { keyId, type ReconcileKey, type ReconcileScope, readKey } from './key.js';
import type { KeyMemory } from './key-memory.js';
import { failRollout } from './status.js';
import { activate } from './steps/activate.js';
import { awaitReady } from './steps/await-ready.js';
import { checkLiveness } from './steps/check-liveness.js';
import { drain } from './steps/drain.js';
import { ensureEnvironment } from './steps/ensure-environment.js';
import { ensureRevision } from './steps/ensure-revision.js';
import { retirePrevious } from './steps/retire-previous.js';
import { switchTraffic } from './steps/switch-traffic.js';

/**
 * The steps, in order. Up to `activate`, a rollout that fails removes its new replicas and the
 * previous deployment keeps serving; from `drain` on, the new one serves and a failure only
 * retries (the order is why "a failure after the switch never removes what serves" holds).
 */
export const STEPS: readonly Step[] = [
  ensureEnvironment,
  ensureRevision,
  awaitReady,
  switchTraffic,
  activate,
  drain,
  retirePrevious,
  checkLiveness,
];
const LAST_BEFORE_SERVING = STEPS.indexOf(activate);

export interface ReconcileOptions {
  signal: AbortSignal;
  memory: KeyMemory;
  locks: KeyLocks;
  /** A listing of the key's data plane taken by the resync pass: enough to find an idle key idle. */
  snapshot?: Replica[];
  /** List the key's replicas live, not from a watched view (a trigger about one of its deployments). */
  live?: boolean;
}

/** How soon a key another control plane is reconciling is looked at again. */
const CLAIMED_RETRY_MS = 1000;

/**
 * Reconciles one (component, environment): reads the desired state from the store and the
 * observed state from the data plane, runs the steps in order, and returns. It is told nothing
 * about what happened, so any trigger (a deploy, a promotion, a replica's death, a timer, a
 * restart) only enqueues the key. Waiting (readiness, a drain) is a requeue, never a sleep.
 */
export async function reconcile(
  deps: ReconcileDeps,
  key: ReconcileKey,
  options: ReconcileOptions,
): Promise<{ requeueAfter?: number }> {
  const db = deps.store.db;
  const read = await readKey(db, key);
  // The component or the environment is gone: the resync pass removes what it left.
  if (!read) return {};
  const { scope, live } = read;
  const active = live.find((d) => d.status === 'active');
  const next = live.find((d) => d.status !== 'active');
  const settled =
    !next &&
    options.snapshot !== undefined &&
    isSettled(active && { id: active.id, replicas: active.spec.replicas }, options.snapshot, options.memory);
  if (settled && (!active || !livenessDue(options.memory, deps))) return {};

  const id = keyId(key);
  if (!(await options.locks.tryLock(id))) return { requeueAfter: CLAIMED_RETRY_MS };
  try {
    const dp = deps.dataPlanes.for({
      id: scope.data_plane_id,
      type: scope.data_plane_type,
      config: scope.data_plane_config,
    });
    const ctx: ReconcileContext = {
      deps,
      key,
      scope,
      dp,
      log: deps.logger.child({
        part: 'reconciler',
        component: `${scope.project}/${scope.component}`,
        environment: scope.environment,
        ...(next ? { deployment: next.id } : {}),
      }),
      signal: options.signal,
      memory: options.memory,
      active,
      next,
      // Settled but due for liveness: the pass's listing is enough to probe what serves.
      workloads:
        settled && options.snapshot
          ? options.snapshot
          : await observe(
              deps,
              dp,
              scope,
              // A watched view may only confirm a serving key settled; a rollout, a trigger, or
              // anything the view shows amiss is listed live before the steps act on it.
              options.live || next
                ? undefined
                : (w) =>
                    isSettled(active && { id: active.id, replicas: active.spec.replicas }, w, options.memory),
            ),
    };
    return await runSteps(ctx, settled ? [checkLiveness] : STEPS);
  } finally {
    await options.locks.unlock(id).catch(() => undefined);
  }
}

async function runSteps(ctx: ReconcileContext, steps: readonly Step[]): Promise<{ requeueAfter?: number }> {
  for (const [i, step] of steps.entries()) {
    const rolling = ctx.next;
    let outcome: Awaited<ReturnType<Step['run']>>;
    const started = performance.now();
    try {
      outcome = await step.run(ctx);
      // Where a rollout's time goes (docs/reconciler-speed.md): each step's own time, at debug level.
      ctx.log.debug({ step: step.name, ms: Math.round(performance.now() - started) }, 'step ran');
    } catch (err) {
      // Before the switch is recorded, a rollout that fails ends failed (the previous one keeps
      // serving); a control plane shutting down leaves it to resume at the next start.
      if (!rolling || i > LAST_BEFORE_SERVING || steps !== STEPS || ctx.signal.aborted) throw err;
      await failRollout(ctx, rolling, err instanceof Error ? err.message : String(err));
      return {};
    }
    if (outcome !== 'continue')
      return outcome.requeueAfter === undefined ? {} : { requeueAfter: outcome.requeueAfter };
  }
  return {};
}

/**
 * The key's replicas on its data plane; execution containers and sandboxes are the runner's.
 * With `settledIf`: the driver's watched view first, kept only when it shows the key settled.
 */
async function observe(
  deps: ReconcileDeps,
  dp: ReconcileContext['dp'],
  s: ReconcileScope,
  settledIf?: (workloads: Replica[]) => boolean,
): Promise<Replica[]> {
  const labels = {
    [LABEL.instance]: deps.instance,
    [LABEL.org]: s.org,
    [LABEL.project]: s.project,
    [LABEL.component]: s.component,
    [LABEL.environment]: s.environment,
  };
  if (settledIf) {
    const cached = (await dp.revisions.list(labels, { cached: true })).filter((w) => !isExecution(w));
    if (settledIf(cached)) return cached;
  }
  return (await dp.revisions.list(labels)).filter((w) => !isExecution(w));
}

/**
 * Nothing to do, judged from the resync pass's listing: no rollout, no drain, every wanted
 * replica running and marked ready, nothing else of the key running. Anything else reconciles
 * against a fresh observation.
 */
export function isSettled(
  active: { id: string; replicas: number } | undefined,
  snapshot: Replica[],
  memory: KeyMemory,
): boolean {
  if (memory.drainUntil !== undefined || memory.rollout !== undefined) return false;
  if (!active) return snapshot.length === 0;
  const { replicas } = active;
  if (snapshot.length !== replicas) return false;
  const seen = new Set<string>();
  for (const w of snapshot) {
    if (w.labels[LABEL.deployment] !== active.id || w.state !== 'running' || !w.ready || !w.ip) return false;
    if (Number(w.labels[LABEL.replica]) >= replicas) return false;
    seen.add(w.labels[LABEL.replica] ?? '');
  }
  return seen.size === replicas;
}

/** Whether a serving deployment's replicas are due for a liveness probe. */
export const livenessDue = (memory: KeyMemory, deps: Pick<ReconcileDeps, 'livenessIntervalMs'>) =>
  Date.now() - memory.livenessAt >= deps.livenessIntervalMs;
