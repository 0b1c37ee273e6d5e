import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataPlaneDriver, ReplicaStats } from '../../src/dataplane/driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import type { DataPlaneRegistry } from '../../src/dataplane/registry.js';
import { MetricsSampler } from '../../src/observability/metrics/metrics-sampler.js';
import { RondoMetrics } from '../../src/observability/metrics/rondo-metrics.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS } from '../helpers/stores.js';

const INSTANCE = 'samplertest';

/** A data plane whose `observe.stats` gives `read()`'s readings (or throws what it throws). */
const plane = (read: () => ReplicaStats[]) =>
  ({ observe: { list: async () => [], stats: async () => read() } }) as unknown as DataPlaneDriver;

const reading = (replica: string, cpu: Pick<ReplicaStats, 'cpuSeconds' | 'cpuMillicores'>): ReplicaStats => ({
  id: `r${replica}`,
  labels: { [LABEL.instance]: INSTANCE, [LABEL.deployment]: 'dep_sampled', [LABEL.replica]: replica },
  ...cpu,
  memoryBytes: 1024,
  restarts: 0,
  oomKilled: false,
});

function seriesValue(text: string, name: string, replica: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`replica="${replica}"`));
  return line ? Number(line.split(' ').at(-1)) : undefined;
}

/**
 * The sampler takes CPU as a counter (Docker, the kubelet's summary) or a rate (the metrics API)
 * and a data plane that fails leaves the others' series (G6 item 5 on G3's metrics).
 */
describe.each(DRIVERS)('metrics sampler (%s)', (driver) => {
  let t: TestRondo;
  beforeAll(async () => {
    t = await startTestRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'api', type: 'service', source: { image: 'busybox:1' } },
    });
    const { db } = t.rondo.store;
    const c = await db
      .selectFrom('components')
      .select(['id', 'org_id'])
      .where('name', '=', 'api')
      .executeTakeFirstOrThrow();
    const e = await db
      .selectFrom('environments')
      .select('id')
      .where('name', '=', 'development')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('deployments')
      .values({
        id: 'dep_sampled',
        org_id: c.org_id,
        component_id: c.id,
        environment_id: e.id,
        status: 'active',
        name: '20261201-1.0.1',
        spec: JSON.stringify({ config: [] }),
        created_at: new Date(),
        updated_at: new Date(),
      } as never)
      .execute();
    await db
      .insertInto('data_planes')
      .values({ id: 'dp_lab', org_id: c.org_id, name: 'lab', type: 'kubernetes', config: JSON.stringify({}) })
      .execute();
  });
  afterAll(() => t?.close());

  it('exposes a counter where the data plane keeps one, a rate where it gives one, and survives a data plane that fails', async () => {
    let lab: () => ReplicaStats[] = () => {
      throw new Error('the cluster does not answer');
    };
    const metrics = new RondoMetrics();
    const sampler = new MetricsSampler({
      store: t.rondo.store,
      dataPlanes: {
        tryFor: (row: { id: string }) =>
          row.id === 'dp_lab' ? plane(() => lab()) : plane(() => [reading('0', { cpuSeconds: 2.5 })]),
      } as unknown as Pick<DataPlaneRegistry, 'tryFor'>,
      instance: INSTANCE,
      logger: pino({ level: 'silent' }),
      metrics,
    });
    await sampler.sample();
    let { text } = await metrics.scrape();
    expect(seriesValue(text, 'rondo_replica_cpu_seconds_total', '0')).toBe(2.5);

    lab = () => [reading('1', { cpuMillicores: 120 })];
    await sampler.sample();
    ({ text } = await metrics.scrape());
    expect(seriesValue(text, 'rondo_replica_cpu_seconds_total', '0')).toBe(2.5);
    expect(seriesValue(text, 'rondo_replica_cpu_millicores', '1')).toBe(120);
    expect(seriesValue(text, 'rondo_replica_cpu_seconds_total', '1')).toBeUndefined();
    expect(seriesValue(text, 'rondo_replica_memory_bytes', '1')).toBe(1024);
  });
});
