import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { LABEL } from '../labels.js';
import { LABELS_ANNOTATION } from './names.js';
import { indexedReplicas, readinessOf } from './pod-replicas.js';

const pod = (
  name: string,
  created: string,
  over: Partial<V1Pod> = {},
  labels: Record<string, string> = { [LABEL.deployment]: 'd1' },
) =>
  ({
    metadata: {
      name,
      namespace: 'ns',
      creationTimestamp: new Date(created),
      labels,
      annotations: { [LABELS_ANNOTATION]: JSON.stringify(labels) },
      ...over.metadata,
    },
    spec: { containers: [{ name: 'app' }], restartPolicy: 'Always', ...over.spec },
    status: { phase: 'Running', ...over.status },
  }) as V1Pod;

describe('pods as replicas', () => {
  it('numbers live pods per deployment by creation time then name, terminating ones last', () => {
    const replicas = indexedReplicas([
      pod('c', '2026-01-01T00:00:02Z'),
      pod('b', '2026-01-01T00:00:01Z'),
      pod('a', '2026-01-01T00:00:02Z'),
      pod('z', '2026-01-01T00:00:00Z', { metadata: { deletionTimestamp: new Date() } }),
      pod('other', '2026-01-01T00:00:05Z', {}, { [LABEL.deployment]: 'd2' }),
      pod('run', '2026-01-01T00:00:05Z', {}, { [LABEL.deployment]: 'd1', [LABEL.execution]: 'e1' }),
    ]);
    const index = Object.fromEntries(replicas.map((r) => [r.name, r.labels[LABEL.replica]]));
    expect(index).toEqual({ b: '0', a: '1', c: '2', z: '3', other: '0', run: undefined });
    expect(replicas.find((r) => r.name === 'z')?.state).toBe('removing');
    expect(replicas.find((r) => r.name === 'a')?.id).toBe('ns/a');
  });

  it('reads readiness: ready, crash-looping (stopped, with the exit code), a run that ended', () => {
    const ready = pod('a', '2026-01-01T00:00:00Z', {
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    expect(readinessOf(ready, [])).toEqual({ replica: expect.objectContaining({ ready: true }) });
    const looping = pod('b', '2026-01-01T00:00:00Z', {
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'app',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 2,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 3 } },
          },
        ],
      },
    });
    const r = readinessOf(looping, []);
    expect(r).toMatchObject({
      stopped: true,
      replica: { state: 'restarting', exitCode: 3, restartCount: 2 },
    });
    expect(r.failure).toMatch(/code 3/);
    const ended = pod('c', '2026-01-01T00:00:00Z', {
      spec: { containers: [{ name: 'app' }], restartPolicy: 'Never' },
      status: {
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'app',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 7 } },
          },
        ],
      },
    });
    expect(readinessOf(ended, [])).toMatchObject({ stopped: true, failure: 'exited with code 7' });
    expect(readinessOf(undefined, [])).toMatchObject({ stopped: true, replica: undefined });
  });

  it('reads a stopped container the kubelet will start again as restarting, one it will not as exited', () => {
    const stopped = (restartPolicy: string, exitCode: number) =>
      indexedReplicas([
        pod('a', '2026-01-01T00:00:00Z', {
          spec: { containers: [{ name: 'app' }], restartPolicy },
          status: {
            phase: 'Running',
            containerStatuses: [
              {
                name: 'app',
                image: 'i',
                imageID: '',
                ready: false,
                restartCount: 0,
                state: { terminated: { exitCode } },
              },
            ],
          },
        }),
      ])[0]?.state;
    expect(stopped('Always', 3)).toBe('restarting');
    expect(stopped('Always', 0)).toBe('restarting');
    expect(stopped('OnFailure', 3)).toBe('restarting');
    expect(stopped('OnFailure', 0)).toBe('exited');
    expect(stopped('Never', 3)).toBe('exited');
  });
});
