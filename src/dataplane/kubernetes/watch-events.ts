import { Watch } from '@kubernetes/client-node';
import type { Cluster } from './cluster.js';

/** One event of a watch: ADDED, MODIFIED, DELETED, BOOKMARK, or ERROR (with a Status). */
export interface WatchEvent {
  type: string;
  object: unknown;
}

/**
 * A watch of `path` as an async iterable (the client's `Watch` calls back): events in order,
 * ending when the server closes the watch or `signal` aborts; a connection that breaks throws.
 */
export async function* watchEvents(
  cluster: Cluster,
  path: string,
  query: Record<string, string | number | boolean>,
  signal: AbortSignal,
): AsyncGenerator<WatchEvent> {
  const queued: WatchEvent[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const controller = await new Watch(cluster.kc).watch(
    path,
    query,
    (type: string, object: unknown) => {
      queued.push({ type, object });
      wake?.();
    },
    (err: unknown) => {
      ended = true;
      failure = err;
      wake?.();
    },
  );
  const abort = () => controller.abort();
  signal.addEventListener('abort', abort, { once: true });
  try {
    for (;;) {
      while (queued.length > 0) yield queued.shift() as WatchEvent;
      if (ended || signal.aborted) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
    if (failure && !signal.aborted) throw failure;
  } finally {
    signal.removeEventListener('abort', abort);
    controller.abort();
  }
}
