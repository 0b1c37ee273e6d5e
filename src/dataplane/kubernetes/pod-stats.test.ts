import type { V1Pod } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { RondoError } from '../../domain/errors.js';
import { LABEL } from '../labels.js';
import { fromMetrics, fromSummaries, PodStats } from './pod-stats.js';
import { quantity } from './quantity.js';

const pod = (name: string, phase = 'Running', lastReason?: string) =>
  ({
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      creationTimestamp: new Date(0),
      labels: { [LABEL.deployment]: 'd1' },
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'app' }] },
    status: {
      phase,
      containerStatuses: [
        {
          name: 'app',
          image: 'x',
          imageID: '',
          ready: true,
          restartCount: 2,
          state: phase === 'Running' ? { running: {} } : { waiting: { reason: 'ContainerCreating' } },
          ...(lastReason ? { lastState: { terminated: { exitCode: 137, reason: lastReason } } } : {}),
        },
      ],
    },
  }) as V1Pod;

const summary = {
  pods: [
    {
      podRef: { name: 'a', namespace: 'ns' },
      containers: [
        { name: 'app', cpu: { usageCoreNanoSeconds: 1_500_000_000 }, memory: { workingSetBytes: 4096 } },
      ],
    },
  ],
};
const metrics = {
  items: [
    {
      metadata: { name: 'a', namespace: 'ns' },
      containers: [{ name: 'app', usage: { cpu: '12345678n', memory: '2Mi' } }],
    },
  ],
};

describe('Kubernetes replica stats', () => {
  it('reads quantities', () => {
    expect(quantity('250m')).toBe(0.25);
    expect(quantity('2')).toBe(2);
    expect(quantity('3928Mi')).toBe(3928 * 2 ** 20);
    expect(quantity('4G')).toBe(4e9);
    expect(quantity('1e3')).toBe(1000);
    expect(quantity('12345678n')).toBeCloseTo(0.012345678);
    expect(quantity('lots')).toBeUndefined();
  });

  it('takes a CPU counter and the working set from the kubelet’s summary, with restarts and OOM kills', () => {
    const stats = fromSummaries([pod('a', 'Running', 'OOMKilled'), pod('b', 'Pending')], [summary]);
    expect(stats).toEqual([
      {
        id: 'ns/a',
        labels: { [LABEL.deployment]: 'd1', [LABEL.replica]: '0' },
        cpuSeconds: 1.5,
        memoryBytes: 4096,
        restarts: 2,
        oomKilled: true,
      },
    ]);
  });

  it('takes a CPU rate in millicores from the metrics API', () => {
    const [s] = fromMetrics([pod('a')], metrics);
    expect(s?.cpuSeconds).toBeUndefined();
    expect(s?.cpuMillicores).toBeCloseTo(12.345678);
    expect(s?.memoryBytes).toBe(2 * 2 ** 20);
  });

  it('falls back to the metrics API when the node proxy is refused, and says so when neither answers', async () => {
    const asked: string[] = [];
    let metricsUp = true;
    const get = async <T>(path: string): Promise<T> => {
      asked.push(path);
      if (path.includes('/proxy/'))
        throw new ApiException(403, 'Forbidden', { message: 'nodes "node-1" is forbidden' }, {});
      if (!metricsUp)
        throw new ApiException(
          404,
          'Not Found',
          { message: 'the server could not find the requested resource' },
          {},
        );
      return metrics as T;
    };
    const stats = new PodStats('lab', get);
    expect((await stats.read([pod('a')], 'rondo.instance=x'))[0]?.cpuMillicores).toBeCloseTo(12.345678);
    expect(asked).toEqual([
      '/api/v1/nodes/node-1/proxy/stats/summary',
      '/apis/metrics.k8s.io/v1beta1/pods?labelSelector=rondo.instance%3Dx',
    ]);
    // The refused proxy is not asked again at every sample.
    await stats.read([pod('a')], 'rondo.instance=x');
    expect(asked.filter((p) => p.includes('/proxy/'))).toHaveLength(1);
    metricsUp = false;
    const err = await stats.read([pod('a')], 'rondo.instance=x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RondoError);
    expect((err as Error).message).toMatch(/metrics API failed \(404: the server could not find/);
    expect((err as Error).message).toMatch(/nodes\/proxy, or install metrics-server/);
  });

  it('reads nothing when no replica runs', async () => {
    const stats = new PodStats('lab', async () => {
      throw new Error('not asked');
    });
    expect(await stats.read([pod('b', 'Pending')], '')).toEqual([]);
  });
});
