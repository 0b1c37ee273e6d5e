import type { Logger } from 'pino';
import type { DataPlane, WorkloadInfo } from '../dataplane/data-plane.js';
import { isExecution, LABEL } from '../dataplane/labels.js';
import type { DeploymentSpec } from './deployment-spec.js';
import { isServing } from './gateway-sync.js';
import { collectNetworks } from './network-collection.js';
import { runProbe } from './probes.js';
import { bringUp, dataPlaneOf, markReady, type RolloutDeps, readinessProbe, rollout } from './rollout.js';
import { deploymentTargets } from './targets.js';

/** Passes in a row a replica may fail liveness before it is restarted. */
const LIVENESS_FAILURES = 3;

export interface ReconcilerSettings {
  /** Period of the level-based resync; also runs once at start. */
  resyncMs: number;
}

/**
 * Converges the data plane and the gateway to the store (§6.6), on start, on every deploy, and
 * periodically. It is told nothing about what happened: each pass reads the desired state
 * (deployments), observes what runs (labels), and acts — resuming rollouts a crash interrupted,
 * replacing replicas that are gone or gave up restarting, removing what nothing owns (replicas,
 * and the networks of deleted projects and environments), and reloading the gateway.
 */
export class Reconciler {
  readonly #deps: RolloutDeps;
  readonly #settings: ReconcilerSettings;
  readonly #log: Logger;
  /** Rollouts running in this process, by deployment id. */
  readonly #rollouts = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  /** Consecutive liveness failures per replica; in memory, so a restart of Rondo starts counting anew. */
  readonly #livenessFailures = new Map<string, number>();
  #pass: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(deps: RolloutDeps, settings: ReconcilerSettings) {
    this.#deps = deps;
    this.#settings = settings;
    this.#log = deps.logger.child({ part: 'reconciler' });
  }

  start(): void {
    this.#stopped = false;
    const tick = () => {
      // A failed pass is logged by reconcile(); the next tick retries.
      void this.reconcile()
        .catch(() => undefined)
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, this.#settings.resyncMs);
        });
    };
    tick();
  }

  /** Stops the timer and waits for the pass and the rollouts in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#pass.catch(() => undefined);
    await Promise.allSettled([...this.#rollouts.values()]);
  }

  /** Starts the rollout of a deployment now (it would be picked up by the next pass anyway). */
  enqueue(deploymentId: string): void {
    if (this.#rollouts.has(deploymentId) || this.#stopped) return;
    const run = rollout(this.#deps, deploymentId)
      .catch((err: unknown) => this.#log.error({ err, deploymentId }, 'rollout crashed'))
      .finally(() => this.#rollouts.delete(deploymentId));
    this.#rollouts.set(deploymentId, run);
  }

  /** Waits until no rollout runs in this process (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.#rollouts.size > 0) await Promise.allSettled([...this.#rollouts.values()]);
  }

  /** One level-based pass; passes never overlap. */
  reconcile(): Promise<void> {
    const next = this.#pass.catch(() => undefined).then(() => this.#reconcileOnce());
    this.#pass = next.catch((err: unknown) =>
      this.#log.warn({ err: err instanceof Error ? err.message : err }, 'reconcile pass failed; will retry'),
    );
    return next;
  }

  async #reconcileOnce(): Promise<void> {
    const { store, instance } = this.#deps;
    const targets = await deploymentTargets(store.db)
      .where('d.status', 'in', ['pending', 'rolling-out', 'active'])
      .execute();
    for (const t of targets) if (t.status !== 'active') this.enqueue(t.id);

    // Components being rolled out here are the rollout's business (its old replicas are draining).
    const busy = new Set(
      targets.filter((t) => this.#rollouts.has(t.id)).map((t) => `${t.component_id}/${t.environment_id}`),
    );
    const live = new Set(targets.map((t) => t.id));
    const planes = new Map<string, DataPlane>();
    for (const t of targets) planes.set(t.data_plane_id, dataPlaneOf(this.#deps, t));
    const defaultPlane = await store.db.selectFrom('data_planes').select(['id', 'type', 'config']).execute();
    for (const row of defaultPlane)
      if (!planes.has(row.id)) planes.set(row.id, this.#deps.dataPlanes.for(row));

    for (const dp of planes.values()) {
      let workloads: WorkloadInfo[];
      try {
        workloads = (await dp.listWorkloads({ [LABEL.instance]: instance })).filter((w) => !isExecution(w));
      } catch (err) {
        this.#log.warn(
          { err: err instanceof Error ? err.message : err },
          'data plane unreachable; skipping it this pass',
        );
        continue;
      }
      // Replicas no live deployment owns: left by a crash, a superseded or a deleted deployment.
      const candidates = workloads.filter(
        (w) =>
          !live.has(w.labels[LABEL.deployment] ?? '') &&
          !this.#rollouts.has(w.labels[LABEL.deployment] ?? '') &&
          !this.#isBusy(w, targets, busy),
      );
      // A deployment created after this pass read the store may already have replicas: ask again.
      const orphans = await this.#stillOrphans(candidates);
      await Promise.all(orphans.map((w) => dp.removeWorkload(w.id, this.#deps.settings.stopGraceSeconds)));
      await collectNetworks(store, dp, instance, this.#log).catch((err: unknown) =>
        this.#log.warn({ err: err instanceof Error ? err.message : err }, 'network collection failed'),
      );
      for (const t of targets) {
        if (t.status !== 'active' || busy.has(`${t.component_id}/${t.environment_id}`)) continue;
        if (dataPlaneOf(this.#deps, t) !== dp) continue;
        const mine = workloads.filter((w) => w.labels[LABEL.deployment] === t.id);
        const spec = t.spec as unknown as DeploymentSpec;
        const healthy = mine.filter((w) => w.state === 'running' || w.state === 'restarting');
        const extra = mine.filter(
          (w) => Number(w.labels[LABEL.replica]) >= spec.replicas || !healthy.includes(w),
        );
        await Promise.all(extra.map((w) => dp.removeWorkload(w.id, this.#deps.settings.stopGraceSeconds)));
        const serving = healthy.filter(
          (w) => Number(w.labels[LABEL.replica]) < spec.replicas && isServing(w),
        );
        if (serving.length < spec.replicas) {
          this.#log.info(
            { deployment: t.id, have: serving.length, want: spec.replicas },
            'bringing replicas back',
          );
          this.#heal(t);
        }
        await this.#checkLiveness(dp, t.id, spec, serving);
      }
    }
    await this.#deps.gateway.sync();
  }

  async #stillOrphans(candidates: WorkloadInfo[]): Promise<WorkloadInfo[]> {
    const ids = [...new Set(candidates.map((w) => w.labels[LABEL.deployment] ?? ''))].filter(Boolean);
    if (ids.length === 0) return candidates;
    const liveNow = await this.#deps.store.db
      .selectFrom('deployments')
      .select('id')
      .where('id', 'in', ids)
      .where('status', 'in', ['pending', 'rolling-out', 'active'])
      .execute();
    const keep = new Set(liveNow.map((r) => r.id));
    return candidates.filter((w) => !keep.has(w.labels[LABEL.deployment] ?? ''));
  }

  #isBusy(
    w: WorkloadInfo,
    targets: {
      component: string;
      project: string;
      org: string;
      environment: string;
      component_id: string;
      environment_id: string;
    }[],
    busy: Set<string>,
  ): boolean {
    const t = targets.find(
      (x) =>
        x.component === w.labels[LABEL.component] &&
        x.project === w.labels[LABEL.project] &&
        x.org === w.labels[LABEL.org] &&
        x.environment === w.labels[LABEL.environment],
    );
    return t !== undefined && busy.has(`${t.component_id}/${t.environment_id}`);
  }

  /**
   * Liveness (§6.4): a serving replica that fails the probe on LIVENESS_FAILURES passes in a row
   * is restarted, and the restart is recorded as an event of its deployment.
   */
  async #checkLiveness(
    dp: DataPlane,
    deploymentId: string,
    spec: DeploymentSpec,
    serving: WorkloadInfo[],
  ): Promise<void> {
    const probe = readinessProbe(spec);
    if (!probe) return;
    await Promise.all(
      serving.map(async (w) => {
        const reason = w.ip ? await runProbe(w.ip, probe) : 'no address';
        if (reason === undefined) {
          this.#livenessFailures.delete(w.id);
          return;
        }
        const failures = (this.#livenessFailures.get(w.id) ?? 0) + 1;
        this.#livenessFailures.set(w.id, failures);
        if (failures < LIVENESS_FAILURES) return;
        this.#livenessFailures.delete(w.id);
        this.#log.warn(
          { deployment: deploymentId, replica: w.name, reason },
          'liveness failed; restarting the replica',
        );
        await dp.restartWorkload(w.id);
        await this.#deps.store.db
          .insertInto('deployment_events')
          .values({
            deployment_id: deploymentId,
            kind: 'liveness-restart',
            message: `${w.name} failed liveness ${failures} times (${reason}); restarted`,
          })
          .execute();
      }),
    );
  }

  /** Starts what an active deployment lacks behind readiness, without touching what serves. */
  #heal(t: Parameters<typeof bringUp>[2]): void {
    if (this.#rollouts.has(t.id) || this.#stopped) return;
    const dp = dataPlaneOf(this.#deps, t);
    const started: WorkloadInfo[] = [];
    const run = bringUp(this.#deps, dp, t, started)
      .then(() => markReady(this.#deps, dp, t, started))
      .then(() => this.#deps.gateway.sync())
      .catch(async (err: unknown) => {
        this.#log.warn(
          { deployment: t.id, err: err instanceof Error ? err.message : err },
          'could not bring replicas back; retrying next pass',
        );
        // Only replicas that never served are removed; the next pass starts them again.
        await Promise.all(
          started.filter((w) => !isServing(w)).map((w) => dp.removeWorkload(w.id, 1).catch(() => undefined)),
        );
      })
      .finally(() => this.#rollouts.delete(t.id));
    this.#rollouts.set(t.id, run);
  }
}
