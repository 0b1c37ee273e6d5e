import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  type ObjectCache,
  Watch,
} from '@kubernetes/client-node';

/** A watch is closed by the server after this and resumed from its last version. */
const WATCH_SECONDS = 300;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** How long a deletion this process made may take to show in the watch before it is let go. */
const REMOVAL_SHOWN_MS = 60_000;

/** What `Watch.watch` is: the client's, or a stand-in in tests. */
export type Watcher = Pick<Watch, 'watch'>;

export interface WatchCacheOptions<T extends KubernetesObject> {
  /** The collection's path, e.g. `/api/v1/pods`. */
  path: string;
  /** Lists the collection (same selectors as the watch): the objects and the version to watch from. */
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  fieldSelector?: string;
}

/**
 * The objects of one kind as the API server last told them, kept by a list and then a watch (an
 * informer). Built on the client's own `ListWatch` (client-node 1.4, `cache.ts`), which keeps the
 * objects by namespace and name, resumes a watch that ended from its last `resourceVersion`, and
 * relists when the server no longer has that version (410 Gone). What this adds to it:
 *
 * - **`synced`**: true only once a list has been applied and its watch is open, false from the
 *   moment a watch ends or fails until the next one is open again. `view()` answers only then,
 *   so a caller falls back to a live read instead of trusting objects nobody is keeping current.
 * - **Restart after a failure**: `ListWatch` stops for good on any error but 410 (a refused
 *   watch, a broken connection, a failed list); here it starts again after 1 s, doubling to 30 s.
 * - **Bookmarks and a server-side timeout** on the watch, so a resumed watch rarely needs a relist
 *   and a silently dead connection is noticed within 5 min.
 * - **`stop` that holds**: `ListWatch.stop` during its first list still opened the watch after
 *   the list came back; here a watch asked for after `stop` is closed at once.
 *
 * The objects are what the caller's `list` and the watch give. Callers use them only to confirm
 * there is nothing to do; anything that leads to a write reads the object live first.
 */
export class WatchCache<T extends KubernetesObject> {
  readonly #informer: ListWatch<T>;
  #synced = false;
  #stopped = true;
  #backoff = FIRST_BACKOFF_MS;
  #retry: NodeJS.Timeout | undefined;
  /** Resolves each `whenSynced` caller at the next sync. */
  #waiting: (() => void)[] = [];
  /** The objects by one label's value, built at the first `withLabel` after a change. */
  #byLabel: { label: string; index: Map<string, T[]> } | undefined;
  /** Objects this process deleted that the watch has not shown going yet (`namespace/name` → until when). */
  readonly #removing = new Map<string, number>();

  constructor(kc: KubeConfig, options: WatchCacheOptions<T>, watcher: Watcher = new Watch(kc)) {
    const gated: Watcher = {
      watch: async (path, query, callback, done) => {
        if (this.#stopped) {
          done(null);
          return new AbortController();
        }
        let ended = false;
        const controller = await watcher.watch(
          path,
          { ...query, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS },
          callback,
          (err) => {
            ended = true;
            this.#synced = false;
            done(err);
          },
        );
        if (this.#stopped) controller.abort();
        else if (!ended) this.#markSynced();
        return controller;
      },
    };
    this.#informer = new ListWatch<T>(
      options.path,
      gated as Watch,
      options.list,
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    // Any change (a relist's too, which adds, updates and deletes) drops the label index.
    this.#informer.on('change', () => {
      this.#byLabel = undefined;
    });
    this.#informer.on('connect', () => {
      this.#byLabel = undefined;
    });
    this.#informer.on('error', () => {
      this.#synced = false;
      if (this.#stopped) return;
      const wait = this.#backoff;
      this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        if (!this.#stopped) void this.#informer.start();
      }, wait);
      this.#retry.unref();
    });
  }

  /** Starts listing and watching; `view()` answers once that is done. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#informer.start();
  }

  /** Closes the watch; the cache answers nothing after. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#synced = false;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    await this.#informer.stop();
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  get synced(): boolean {
    return this.#synced;
  }

  /**
   * The objects while in sync; undefined otherwise (the caller reads live). Also undefined while
   * an object this process deleted (`removed`) still shows as it was: a cache that still had it
   * would confirm it there, and nothing would apply it again.
   */
  view(): ObjectCache<T> | undefined {
    if (!this.#synced) return undefined;
    for (const [key, until] of this.#removing) {
      const slash = key.indexOf('/');
      const o = this.#informer.get(key.slice(slash + 1), key.slice(0, slash) || undefined);
      if (!o || o.metadata?.deletionTimestamp || Date.now() > until) this.#removing.delete(key);
    }
    return this.#removing.size === 0 ? this.#informer : undefined;
  }

  /**
   * The objects whose `label` is `value` (as Kubernetes holds it), from an index built once per
   * change: a pass over every component's key asks this once per key, and filtering every pod of
   * the namespace each time was most of its cost at 1,000 components. Ask only through `view()`.
   */
  withLabel(label: string, value: string): T[] {
    if (this.#byLabel?.label !== label) {
      const index = new Map<string, T[]>();
      for (const o of this.#informer.list()) {
        const v = o.metadata?.labels?.[label];
        if (v === undefined) continue;
        const same = index.get(v);
        if (same) same.push(o);
        else index.set(v, [o]);
      }
      this.#byLabel = { label, index };
    }
    return this.#byLabel.index.get(value) ?? [];
  }

  /**
   * This process has just deleted the object: the cache answers nothing until its watch shows it
   * gone or being deleted (or a minute has passed, should the deletion never show).
   */
  removed(name: string, namespace?: string): void {
    this.#removing.set(`${namespace ?? ''}/${name}`, Date.now() + REMOVAL_SHOWN_MS);
  }

  /** Resolves once in sync (or stopped): tests, and benchmarks that want a warm cache. */
  whenSynced(): Promise<void> {
    if (this.#synced || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #markSynced(): void {
    this.#synced = true;
    this.#backoff = FIRST_BACKOFF_MS;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}
