import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import type { ReadinessReading, Replica, ReplicaState } from '../driver.js';
import { LABEL } from '../labels.js';
import { LABELS_ANNOTATION, podId } from './names.js';

/** The `rondo.*` labels a pod carries, exactly as given (from the annotation when it has one). */
function rondoLabels(pod: V1Pod): Record<string, string> {
  const exact = pod.metadata?.annotations?.[LABELS_ANNOTATION];
  if (exact) {
    try {
      return JSON.parse(exact) as Record<string, string>;
    } catch {
      // a foreign or damaged annotation: the labels themselves
    }
  }
  return Object.fromEntries(
    Object.entries(pod.metadata?.labels ?? {}).filter(([k]) => k.startsWith('rondo.')),
  );
}

const container = (pod: V1Pod) => pod.status?.containerStatuses?.[0];

export const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Whether the kubelet will start the container again after this stop (the pod's restart policy). */
const restarts = (pod: V1Pod, exitCode: number) => {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
};

/**
 * Pending → created, Running → running, Succeeded/Failed → exited, crash-looping or stopped
 * until the kubelet restarts it → restarting: `exited` means it will not run again.
 */
function state(pod: V1Pod): ReplicaState {
  if (pod.metadata?.deletionTimestamp) return 'removing';
  const c = container(pod);
  if (c?.state?.waiting?.reason === 'CrashLoopBackOff') return 'restarting';
  const terminated = c?.state?.terminated;
  switch (pod.status?.phase) {
    case 'Running':
      if (terminated) return restarts(pod, terminated.exitCode) ? 'restarting' : 'exited';
      return c?.state?.waiting ? 'restarting' : 'running';
    case 'Succeeded':
    case 'Failed':
      return 'exited';
    case 'Pending':
      return 'created';
    default:
      return 'dead';
  }
}

/** The exit code of the container's current run when it ended, else of its last one. */
function exitCode(pod: V1Pod): number | undefined {
  const c = container(pod);
  return c?.state?.terminated?.exitCode ?? c?.lastState?.terminated?.exitCode;
}

export function podReplica(pod: V1Pod): Replica {
  const c = container(pod);
  const r: Replica = {
    id: podId(pod.metadata?.namespace ?? '', pod.metadata?.name ?? ''),
    name: pod.metadata?.name ?? '',
    labels: rondoLabels(pod),
    state: state(pod),
    ready: isReady(pod),
    restartCount: c?.restartCount ?? 0,
  };
  if (pod.status?.podIP) r.ip = pod.status.podIP;
  const code = exitCode(pod);
  if (code !== undefined) r.exitCode = code;
  const started = c?.state?.running?.startedAt ?? pod.status?.startTime;
  if (started) r.startedAt = new Date(started).toISOString();
  return r;
}

const created = (p: V1Pod) => new Date(p.metadata?.creationTimestamp ?? 0).getTime();

/**
 * Replicas with their indexes: the reconciler counts replicas by `rondo.replica` (0..n-1), which
 * a Deployment's pods do not carry. Per deployment, live pods are numbered by creation time (then
 * name), terminating ones after them; the index is on the returned labels, never on the pod.
 * Pods of Jobs (task runs) get none.
 */
export function indexedReplicas(pods: V1Pod[]): Replica[] {
  const byDeployment = new Map<string, V1Pod[]>();
  const out: Replica[] = [];
  for (const pod of pods) {
    const r = podReplica(pod);
    const deployment = r.labels[LABEL.deployment];
    if (deployment === undefined || r.labels[LABEL.execution] !== undefined) {
      out.push(r);
      continue;
    }
    const list = byDeployment.get(deployment) ?? [];
    list.push(pod);
    byDeployment.set(deployment, list);
  }
  for (const list of byDeployment.values()) {
    const order = (p: V1Pod) => (p.metadata?.deletionTimestamp ? 1 : 0);
    list.sort(
      (a, b) =>
        order(a) - order(b) ||
        created(a) - created(b) ||
        (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
    );
    list.forEach((pod, i) => {
      const r = podReplica(pod);
      r.labels = { ...r.labels, [LABEL.replica]: String(i) };
      out.push(r);
    });
  }
  return out;
}

/**
 * One readiness reading from the kubelet's view: ready when the pod's Ready condition is True;
 * else why not (the container's waiting or terminated reason, a condition's message, the last
 * warning event), and stopped when nothing will bring it back.
 */
export function readinessOf(pod: V1Pod | undefined, events: CoreV1Event[]): ReadinessReading {
  if (!pod) return { replica: undefined, failure: 'the pod is gone', stopped: true };
  const replica = podReplica(pod);
  if (isReady(pod) && !pod.metadata?.deletionTimestamp) return { replica };
  const c = container(pod);
  const restartPolicy = pod.spec?.restartPolicy ?? 'Always';
  const terminated = c?.state?.terminated;
  const waiting = c?.state?.waiting;
  const last = c?.lastState?.terminated;
  const exited = (t: { exitCode: number; reason?: string; message?: string }) =>
    `exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}${t.message ? `: ${t.message}` : ''}`;
  if (pod.metadata?.deletionTimestamp) return { replica, failure: 'the pod is being removed', stopped: true };
  if (terminated) {
    const comesBack =
      restartPolicy === 'Always' || (restartPolicy === 'OnFailure' && terminated.exitCode !== 0);
    return { replica, failure: exited(terminated), ...(comesBack ? {} : { stopped: true }) };
  }
  if (waiting?.reason === 'CrashLoopBackOff')
    return { replica, failure: last ? `crash-looping: ${exited(last)}` : 'crash-looping', stopped: true };
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded')
    return { replica, failure: `the pod ${pod.status.phase.toLowerCase()}`, stopped: true };
  if (waiting?.reason && waiting.reason !== 'ContainerCreating')
    return { replica, failure: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
  const condition = pod.status?.conditions?.find((x) => x.status !== 'True' && (x.message || x.reason));
  const warning = events
    .filter((e) => e.type === 'Warning')
    .sort((a, b) => eventTime(a) - eventTime(b))
    .at(-1);
  const why = warning?.message ?? condition?.message ?? condition?.reason ?? waiting?.reason;
  return { replica, failure: why ? `not ready: ${why}` : 'not ready yet' };
}

const eventTime = (e: CoreV1Event) =>
  new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
