import type { Store } from '../store/store.js';

/** What of a component changed: the table the store's trigger named (migration 202612020000). */
export type ComponentChangeKind =
  | 'builds'
  | 'deployments'
  | 'deployment_events'
  | 'executions'
  | 'approval_requests';

const CHANNEL = 'rondo_component_changes';
const KINDS = new Set<string>([
  'builds',
  'deployments',
  'deployment_events',
  'executions',
  'approval_requests',
]);

/**
 * Wakes the console's live views when a component's builds, deployments, executions or approvals
 * are written, by this control plane or another on the same store (the store notifies at commit),
 * so a stream reads again when there is something new instead of on a timer.
 */
export class ComponentChanges {
  readonly #store: Pick<Store, 'listen'>;
  readonly #waiting = new Map<string, Set<(kind: ComponentChangeKind) => void>>();
  #unlisten: (() => Promise<void>) | undefined;

  constructor(store: Pick<Store, 'listen'>) {
    this.#store = store;
  }

  async start(): Promise<void> {
    this.#unlisten ??= await this.#store.listen(CHANNEL, (payload) => {
      const colon = payload.indexOf(':');
      const kind = payload.slice(0, colon);
      if (colon > 0 && KINDS.has(kind)) this.changed(payload.slice(colon + 1), kind as ComponentChangeKind);
    });
  }

  async stop(): Promise<void> {
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    await unlisten?.();
  }

  changed(componentId: string, kind: ComponentChangeKind): void {
    const wake = this.#waiting.get(componentId);
    if (!wake) return;
    for (const w of [...wake]) w(kind);
  }

  /**
   * Collects the component's changes from now until `signal` aborts; `take()` resolves with what
   * changed since the last take — at once when something did, else at the next change or after
   * `ms` with nothing (what only the data plane knows, a replica's state, has no notification).
   */
  watch(
    componentId: string,
    signal: AbortSignal,
  ): { take: (ms: number) => Promise<Set<ComponentChangeKind>> } {
    let seen = new Set<ComponentChangeKind>();
    let wakeTaker: (() => void) | undefined;
    const onChange = (kind: ComponentChangeKind) => {
      seen.add(kind);
      wakeTaker?.();
    };
    const listeners = this.#waiting.get(componentId) ?? new Set();
    listeners.add(onChange);
    this.#waiting.set(componentId, listeners);
    const forget = () => {
      listeners.delete(onChange);
      if (listeners.size === 0 && this.#waiting.get(componentId) === listeners)
        this.#waiting.delete(componentId);
      wakeTaker?.();
    };
    if (signal.aborted) forget();
    else signal.addEventListener('abort', forget, { once: true });
    return {
      take: async (ms) => {
        if (seen.size === 0 && !signal.aborted)
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, ms);
            function done() {
              clearTimeout(timer);
              wakeTaker = undefined;
              resolve();
            }
            wakeTaker = done;
          });
        const taken = seen;
        seen = new Set();
        return taken;
      },
    };
  }
}
