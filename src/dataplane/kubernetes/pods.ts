import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine } from '../driver.js';
import { type Cluster, isNotFound } from './cluster.js';
import { parsePodId } from './names.js';

/**
 * Resolves once the pod's containers have stopped (or the pod is gone, or its grace period is
 * over, when the kubelet kills them): at most its grace period and 30 s more. The kubelet removes the stopped pod's object some seconds later (8–30 s on the
 * test cluster); until then it is listed as `removing`. Waiting for that too would hold a
 * reconcile step for as long.
 */
export async function waitStopped(cluster: Cluster, namespace: string, name: string, graceSeconds: number) {
  const end = Date.now() + (graceSeconds + 30) * 1000;
  while (Date.now() < end) {
    try {
      const pod = await cluster.call(() => cluster.core.readNamespacedPod({ name, namespace }));
      const statuses = pod.status?.containerStatuses ?? [];
      if (statuses.length > 0 && statuses.every((c) => c.state?.terminated)) return;
      // Its grace period is over (the deletion's deadline, plus a second for the kill): the
      // kubelet has killed the container. The pod's status often says so only when the kubelet
      // removes the pod, 8–30 s later on the test cluster, and waiting for that held the key's
      // reconcile (and so the next promotion of the component) for 32 s.
      const deadline = pod.metadata?.deletionTimestamp;
      if (deadline && Date.now() > new Date(deadline).getTime() + 1000) return;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await sleep(250);
  }
}

/** The container of Rondo's pods (replicas and runs): they have only this one. */
export const CONTAINER = 'app';

/**
 * The pod's output as it comes, from its start (the API server's log endpoint with `follow`);
 * ends when the container stops or `signal` aborts.
 */
export async function followLog(
  cluster: Cluster,
  id: string,
  options: { timestamps?: boolean; sinceTime?: string; signal?: AbortSignal } = {},
): Promise<NodeJS.ReadableStream> {
  const { namespace, name } = parsePodId(id);
  const out = new PassThrough();
  const controller = await cluster.call(() =>
    cluster.log.log(namespace, name, CONTAINER, out, {
      follow: true,
      ...(options.timestamps ? { timestamps: true } : {}),
      ...(options.sinceTime ? { sinceTime: options.sinceTime } : {}),
    }),
  );
  const abort = () => {
    controller.abort();
    out.end();
  };
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  out.on('close', () => options.signal?.removeEventListener('abort', abort));
  // An aborted request is an end, not an error.
  out.on('error', () => undefined);
  return out;
}

/** RFC 3339 with up to nine fractional digits (`2026-12-01T07:35:43.123456789Z`) as ns since the epoch. */
export function rfc3339Ns(stamp: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(stamp);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** Nanoseconds since the epoch as the `sinceTime` the log endpoint takes (whole seconds: it drops the rest). */
const sinceTime = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();

/**
 * The pod's output line by line with the kubelet's times (`timestamps=true`). Kubernetes merges
 * stdout and stderr into one log and does not say which a line came from: every line is
 * `stdout`. Lines before `sinceNs` are skipped (the endpoint's `sinceTime` is by the second).
 */
export async function* logLines(
  cluster: Cluster,
  id: string,
  options: { sinceNs?: bigint; signal?: AbortSignal } = {},
): AsyncIterable<LogLine> {
  const stream = await followLog(cluster, id, {
    timestamps: true,
    ...(options.sinceNs ? { sinceTime: sinceTime(options.sinceNs) } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let rest = '';
  const line = function* (raw: string): Generator<LogLine> {
    const space = raw.indexOf(' ');
    const ns = space > 0 ? rfc3339Ns(raw.slice(0, space)) : undefined;
    if (ns === undefined) return;
    if (options.sinceNs !== undefined && ns < options.sinceNs) return;
    yield { stream: 'stdout', ns, text: raw.slice(space + 1) };
  };
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    rest += chunk.toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const raw of lines) yield* line(raw);
  }
  if (rest) yield* line(rest);
}
