import type { Logger } from 'pino';
import type { DataPlaneDriver, Replica } from '../dataplane/driver.js';
import { isExecution, LABEL } from '../dataplane/labels.js';
import { type KeyLocks, keyLocks } from '../store/key-locks.js';
import { collectNetworks } from './network-collection.js';
import type { ReconcileDeps } from './reconcile/deps.js';
import { keyId, type ReconcileKey, scopeLabelId, scopeQuery } from './reconcile/key.js';
import { type KeyMemory, newKeyMemory } from './reconcile/key-memory.js';
import { isSettled, livenessDue, reconcile } from './reconcile/reconcile.js';
import { toRemove } from './reconcile/removal.js';
import { WorkQueue } from './reconcile/work-queue.js';

export interface ReconcilerSettings {
  /** Period of the resync pass; it also runs once at start. */
  resyncMs: number;
}

/** Keys reconciled at the same time. */
const CONCURRENCY = 16;

const labelScope = (w: Replica) =>
  scopeLabelId({
    org: w.labels[LABEL.org] ?? '',
    project: w.labels[LABEL.project] ?? '',
    component: w.labels[LABEL.component] ?? '',
    environment: w.labels[LABEL.environment] ?? '',
  });

/**
 * Converges the data plane and the gateway to the store (§6.6), one (component, environment) key
 * at a time: `reconcile` (src/deploy/reconcile/reconcile.ts) runs the steps for a key, and a
 * deduplicating work queue makes sure a key is never reconciled twice at once (and, through the
 * store's key locks, never by two control planes at once). Triggers only enqueue keys: a deploy,
 * promotion, rollback or approval (`enqueue`), a replica's exit (the engine's events), and the
 * resync pass — on start and every period — which enqueues every key with a live deployment or a
 * replica, removes replicas of components or environments that no longer exist, collects the
 * networks of deleted projects and environments, and reloads the gateway.
 */
export class Reconciler {
  readonly #deps: ReconcileDeps;
  readonly #settings: ReconcilerSettings;
  readonly #log: Logger;
  readonly #queue: WorkQueue<ReconcileKey>;
  readonly #locks: KeyLocks;
  readonly #memory = new Map<string, KeyMemory>();
  /** The resync pass's listing per key, for the keys that pass enqueued (and nothing else did since). */
  readonly #snapshots = new Map<string, Replica[]>();
  /**
   * Keys enqueued by a trigger about one of their deployments (a deploy, a promotion, an approval,
   * a replica's exit): their next reconcile lists the data plane live, since the trigger is news
   * a watched view may not have yet (an exit it has not seen would look settled, and be dropped).
   */
  readonly #live = new Set<string>();
  /** Deployment → key look-ups in flight, so `idle` waits for them. */
  readonly #lookups = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> = Promise.resolve();
  #stopped = false;
  #watch: AbortController | undefined;
  /** Data planes whose exits are watched. */
  readonly #watched = new Set<string>();

  constructor(deps: ReconcileDeps, settings: ReconcilerSettings) {
    this.#deps = deps;
    this.#settings = settings;
    this.#log = deps.logger.child({ part: 'reconciler' });
    this.#locks = keyLocks(deps.store);
    this.#queue = new WorkQueue(keyId, (key, signal) => this.#handle(key, signal), {
      concurrency: CONCURRENCY,
      backoffMs: 500,
      maxBackoffMs: Math.max(settings.resyncMs, 500),
      onError: (key, err) =>
        this.#log.warn(
          { key, err: err instanceof Error ? err.message : err },
          'reconcile failed; will retry',
        ),
    });
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
    this.#watch = new AbortController();
    this.#watched.clear();
    tick();
    void this.#watchExits(this.#watch.signal);
  }

  /** Stops the timer and the queue; a reconcile in progress ends at its current step. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#watch?.abort();
    await this.#pass.catch(() => undefined);
    await Promise.allSettled([...this.#lookups]);
    await this.#queue.stop();
    await this.#locks.close();
  }

  /** A deployment was created or decided: its key is reconciled now. */
  enqueue(deploymentId: string): void {
    if (this.#stopped) return;
    const lookup = this.#deps.store.db
      .selectFrom('deployments')
      .select(['component_id', 'environment_id'])
      .where('id', '=', deploymentId)
      .executeTakeFirst()
      .then((d) => {
        if (!d) return;
        const key = { componentId: d.component_id, environmentId: d.environment_id };
        this.#live.add(keyId(key));
        this.enqueueKey(key);
      })
      .catch((err: unknown) =>
        // The resync pass picks the deployment up anyway.
        this.#log.warn({ deploymentId, err: err instanceof Error ? err.message : err }, 'could not enqueue'),
      )
      .finally(() => this.#lookups.delete(lookup));
    this.#lookups.add(lookup);
  }

  enqueueKey(key: ReconcileKey): void {
    this.#snapshots.delete(keyId(key));
    this.#queue.add(key);
  }

  /**
   * Resolves once no key is being reconciled or waiting for a step (readiness, a drain): tests
   * and graceful shutdown. Keys retried after an error do not count.
   */
  async idle(): Promise<void> {
    while (this.#lookups.size > 0) await Promise.allSettled([...this.#lookups]);
    await this.#queue.idle();
  }

  /** One resync pass; passes never overlap. */
  reconcile(): Promise<void> {
    const next = this.#pass.catch(() => undefined).then(() => this.#resync());
    this.#pass = next.catch((err: unknown) =>
      this.#log.warn({ err: err instanceof Error ? err.message : err }, 'resync pass failed; will retry'),
    );
    return next;
  }

  async #handle(key: ReconcileKey, signal: AbortSignal): Promise<{ requeueAfter?: number }> {
    const id = keyId(key);
    let memory = this.#memory.get(id);
    if (!memory) {
      memory = newKeyMemory();
      this.#memory.set(id, memory);
    }
    const snapshot = this.#snapshots.get(id);
    this.#snapshots.delete(id);
    const live = this.#live.delete(id);
    return reconcile(this.#deps, key, {
      signal,
      memory,
      locks: this.#locks,
      live,
      ...(snapshot ? { snapshot } : {}),
    });
  }

  async #planes(): Promise<Map<string, DataPlaneDriver>> {
    const rows = await this.#deps.store.db
      .selectFrom('data_planes')
      .select(['id', 'type', 'config'])
      .execute();
    const planes = new Map<string, DataPlaneDriver>();
    for (const row of rows) {
      const driver = this.#deps.dataPlanes.tryFor(row);
      if (driver) planes.set(row.id, driver);
    }
    return planes;
  }

  async #resync(): Promise<void> {
    const { store, instance } = this.#deps;
    const listings = new Map<string, Replica[]>();
    for (const [id, dp] of await this.#planes()) {
      if (this.#watch) this.#watchPlane(id, dp, this.#watch.signal);
      try {
        // A watched view will do: it only finds keys idle; the others reconcile on a live listing.
        listings.set(
          id,
          (await dp.revisions.list({ [LABEL.instance]: instance }, { cached: true })).filter(
            (w) => !isExecution(w),
          ),
        );
      } catch (err) {
        this.#log.warn(
          { err: err instanceof Error ? err.message : err },
          'data plane unreachable; skipping it this pass',
        );
      }
    }
    // Read after listing: every replica listed was started for a key that existed then.
    const scopes = await scopeQuery(store.db).execute();
    const live = await store.db
      .selectFrom('deployments')
      .select(['id', 'status', 'replicas', 'component_id', 'environment_id'])
      .where('status', 'in', ['pending', 'rolling-out', 'active'])
      .execute();
    const byLabels = new Map(scopes.map((s) => [scopeLabelId(s), s]));
    const keys = new Map<string, ReconcileKey>();
    const add = (k: ReconcileKey) => keys.set(keyId(k), k);
    for (const d of live) add({ componentId: d.component_id, environmentId: d.environment_id });

    const planes = await this.#planes();
    for (const [planeId, workloads] of listings) {
      const dp = planes.get(planeId) as DataPlaneDriver;
      const byKey = new Map<string, Replica[]>();
      const ownerless: Replica[] = [];
      for (const w of workloads) {
        const s = byLabels.get(labelScope(w));
        if (!s) {
          ownerless.push(w);
          continue;
        }
        const k = { componentId: s.component_id, environmentId: s.environment_id };
        add(k);
        byKey.get(keyId(k))?.push(w) ?? byKey.set(keyId(k), [w]);
      }
      // Replicas of a component or environment that no longer exists: nothing will reconcile them.
      const gone = toRemove(ownerless, { deployments: new Map(), draining: false, scopeExists: false });
      await Promise.all(
        gone.map((w) =>
          dp.revisions
            .remove(w.id, this.#deps.settings.stopGraceSeconds)
            .catch((err: unknown) =>
              this.#log.warn(
                { replica: w.name, err: err instanceof Error ? err.message : err },
                'could not remove',
              ),
            ),
        ),
      );
      for (const s of scopes) {
        if (s.data_plane_id !== planeId) continue;
        const id = keyId({ componentId: s.component_id, environmentId: s.environment_id });
        if (keys.has(id)) this.#snapshots.set(id, byKey.get(id) ?? []);
      }
      await collectNetworks(store, dp, instance, this.#log).catch((err: unknown) =>
        this.#log.warn({ err: err instanceof Error ? err.message : err }, 'network collection failed'),
      );
    }
    // A key the listing shows settled, with no rollout and nothing due, is not even enqueued: an
    // idle installation costs a few store reads per pass, not a reconcile per key.
    const liveByKey = new Map<string, typeof live>();
    for (const d of live) {
      const id = keyId({ componentId: d.component_id, environmentId: d.environment_id });
      liveByKey.get(id)?.push(d) ?? liveByKey.set(id, [d]);
    }
    const planeOfKey = new Map(
      scopes.map((s) => [
        keyId({ componentId: s.component_id, environmentId: s.environment_id }),
        s.data_plane_id,
      ]),
    );
    for (const [id, k] of keys) {
      const snapshot = this.#snapshots.get(id);
      // A data plane that restarts its own replicas has no liveness check due, so a key it shows
      // settled is idle even to a control plane that has never reconciled it (a restart): the
      // first pass after a restart no longer reconciles every key on a cluster.
      const restartsItself = planes.get(planeOfKey.get(id) ?? '')?.capabilities.restartsOnLiveness === true;
      const memory = this.#memory.get(id) ?? (restartsItself ? newKeyMemory() : undefined);
      const mine = liveByKey.get(id) ?? [];
      const active = mine.find((d) => d.status === 'active');
      const idle =
        snapshot !== undefined &&
        memory !== undefined &&
        mine.every((d) => d.status === 'active') &&
        active?.replicas !== null &&
        isSettled(active && { id: active.id, replicas: active.replicas }, snapshot, memory) &&
        (!active || restartsItself || !livenessDue(memory, this.#deps));
      if (idle) this.#snapshots.delete(id);
      else this.#queue.add(k);
    }
    await this.#deps.gateway.sync();
  }

  /**
   * A replica that stops is a trigger: its key is reconciled (replaced, or its rollout failed).
   * One watch per data plane, started for those known now and, at each resync, for data planes
   * registered (or whose driver loaded) since.
   */
  async #watchExits(signal: AbortSignal): Promise<void> {
    const planes = await this.#planes().catch(() => new Map<string, DataPlaneDriver>());
    for (const [id, dp] of planes) this.#watchPlane(id, dp, signal);
  }

  #watchPlane(id: string, dp: DataPlaneDriver, signal: AbortSignal): void {
    const exits = dp.observe.exits;
    if (!exits || this.#watched.has(id) || signal.aborted) return;
    this.#watched.add(id);
    void (async () => {
      while (!signal.aborted) {
        try {
          for await (const exit of exits({ [LABEL.instance]: this.#deps.instance }, signal)) {
            const deployment = exit.labels[LABEL.deployment];
            if (deployment !== undefined && !isExecution(exit)) this.enqueue(deployment);
          }
        } catch {
          // The engine's event stream broke (restart): watch again shortly.
        }
        if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000).unref());
      }
    })();
  }
}
