import type { V1ContainerStateTerminated, V1Pod, V1PodList } from '@kubernetes/client-node';
import type { ReplicaExit } from '../driver.js';
import { LABEL } from '../labels.js';
import type { Cluster } from './cluster.js';
import { podId, workloadSelector } from './names.js';
import { indexedReplicas, podReplica } from './pod-replicas.js';
import { type WatchEvent, watchEvents } from './watch-events.js';

/** One stop of one run of a pod's container: `key` names the run, so a stop is reported once. */
export interface Termination {
  key: string;
  exitCode: number;
  oomKilled: boolean;
  reason?: string;
}

function ended(key: string, t: V1ContainerStateTerminated): Termination {
  const oomKilled = t.reason === 'OOMKilled';
  // The kernel's OOM kill is a SIGKILL; a runtime that reports no code for it still means 137.
  const exitCode = oomKilled && !t.exitCode ? 137 : t.exitCode;
  return { key, exitCode, oomKilled, ...(t.reason ? { reason: t.reason } : {}) };
}

/**
 * Every stop a pod's status shows, keyed by (pod uid, container, run): the current run's when its
 * container has terminated (run = restartCount), and the previous run's (`lastState`, run =
 * restartCount − 1). The same stop read again, from a later status or a relist, has the same key.
 */
export function terminations(pod: V1Pod): Termination[] {
  const uid = pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const out: Termination[] = [];
  for (const c of pod.status?.containerStatuses ?? []) {
    const run = c.restartCount ?? 0;
    if (c.lastState?.terminated && run > 0)
      out.push(ended(`${uid}/${c.name}/${run - 1}`, c.lastState.terminated));
    if (c.state?.terminated) out.push(ended(`${uid}/${c.name}/${run}`, c.state.terminated));
  }
  return out;
}

/**
 * The pods a watch has seen and the stops already reported, so each stop is reported once
 * however often it is read again (every status change repeats `lastState`; a relist repeats all).
 */
export class ExitLedger {
  readonly #pods = new Map<string, V1Pod>();
  readonly #reported = new Map<string, Set<string>>();

  /** Records the pod as it is now; returns its stops not reported before (none when `quiet`). */
  update(pod: V1Pod, quiet = false): ReplicaExit[] {
    const uid = pod.metadata?.uid ?? '';
    this.#pods.set(uid, pod);
    const reported = this.#reported.get(uid) ?? new Set<string>();
    this.#reported.set(uid, reported);
    const fresh = terminations(pod).filter((t) => !reported.has(t.key));
    for (const t of fresh) reported.add(t.key);
    return quiet ? [] : fresh.map((t) => this.#exit(pod, t));
  }

  /** A deleted pod: its last stops (a status seen only in the deletion), then forgotten. */
  remove(pod: V1Pod): ReplicaExit[] {
    const exits = this.update(pod);
    const uid = pod.metadata?.uid ?? '';
    this.#pods.delete(uid);
    this.#reported.delete(uid);
    return exits;
  }

  /** After a relist: forgets the pods it no longer shows. */
  keepOnly(uids: Set<string>): void {
    for (const uid of this.#pods.keys())
      if (!uids.has(uid)) {
        this.#pods.delete(uid);
        this.#reported.delete(uid);
      }
  }

  get size(): number {
    return this.#pods.size;
  }

  /** The exit with the replica's labels as `list` gives them: its index among its deployment's pods. */
  #exit(pod: V1Pod, t: Termination): ReplicaExit {
    const id = podId(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '');
    const deployment = pod.metadata?.labels?.[LABEL.deployment];
    const siblings =
      deployment === undefined
        ? [pod]
        : [...this.#pods.values()].filter((p) => p.metadata?.labels?.[LABEL.deployment] === deployment);
    const replica = indexedReplicas(siblings).find((r) => r.id === id) ?? podReplica(pod);
    return {
      id,
      name: pod.metadata?.name ?? '',
      labels: replica.labels,
      exitCode: t.exitCode,
      oomKilled: t.oomKilled,
      ...(t.reason ? { reason: t.reason } : {}),
    };
  }
}

/** A watch is closed by the server after this and resumed from its last version (a dead connection shows). */
const WATCH_SECONDS = 300;
const MAX_BACKOFF_MS = 30_000;

const isGone = (e: WatchEvent) =>
  e.type === 'ERROR' && (e.object as { code?: number } | undefined)?.code === 410;

/**
 * Every stop of a container of the pods carrying `labels` as it happens, until `signal`: a list
 * (its stops so far are history, not reported), then a watch from the list's version. A watch
 * that ends is resumed from the last version seen; one the server no longer has (410 Gone) or
 * that broke is followed by a relist, which reports the stops that happened meanwhile. The first
 * list failing throws (the caller retries); later failures are retried here with backoff.
 */
export async function* podExits(
  cluster: Cluster,
  labels: Record<string, string>,
  signal: AbortSignal,
): AsyncGenerator<ReplicaExit> {
  const labelSelector = workloadSelector(labels);
  const ledger = new ExitLedger();
  const relist = async (quiet: boolean): Promise<{ version: string; exits: ReplicaExit[] }> => {
    const list: V1PodList = await cluster.call(() => cluster.core.listPodForAllNamespaces({ labelSelector }));
    const exits = list.items.flatMap((p) => ledger.update(p, quiet));
    ledger.keepOnly(new Set(list.items.map((p) => p.metadata?.uid ?? '')));
    return { version: list.metadata?.resourceVersion ?? '', exits };
  };
  let { version } = await relist(true);
  let backoff = 1000;
  while (!signal.aborted) {
    let mustRelist = false;
    try {
      const events = watchEvents(
        cluster,
        '/api/v1/pods',
        { labelSelector, resourceVersion: version, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS },
        signal,
      );
      for await (const e of events) {
        if (isGone(e)) {
          mustRelist = true;
          break;
        }
        if (e.type === 'ERROR') throw new Error(`the pod watch failed: ${JSON.stringify(e.object)}`);
        const pod = e.object as V1Pod;
        version = pod.metadata?.resourceVersion ?? version;
        if (e.type === 'BOOKMARK') continue;
        yield* e.type === 'DELETED' ? ledger.remove(pod) : ledger.update(pod);
        backoff = 1000;
      }
    } catch {
      if (signal.aborted) return;
      // A broken connection or a refused watch: wait, then start over from a list.
      await sleepUnless(backoff, signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      mustRelist = true;
    }
    if (mustRelist && !signal.aborted) {
      try {
        const next = await relist(false);
        version = next.version;
        yield* next.exits;
      } catch {
        await sleepUnless(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }
}

function sleepUnless(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
