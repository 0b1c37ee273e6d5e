import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/control/context.js';
import type { DataPlaneDriver, LogLine, Replica as WorkloadInfo } from '../../src/dataplane/driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import type { DataPlaneRegistry } from '../../src/dataplane/registry.js';
import { REPLACEMENT } from '../../src/domain/storable-text.js';
import { LogChanges } from '../../src/observability/log-changes.js';
import { LogCollector } from '../../src/observability/log-collector.js';
import { pruneRuntimeLogs } from '../../src/observability/log-retention.js';
import { queryRuntimeLogs, type RuntimeLogDeps } from '../../src/observability/runtime-logs.js';
import { Keyring } from '../../src/secrets/envelope.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS } from '../helpers/stores.js';

const BASE_NS = BigInt(Date.now() - 60_000) * 1_000_000n;

/** What the engine has for container c1: two lines share a time, across a batch boundary. */
const LINES: LogLine[] = [
  { stream: 'stdout', ns: BASE_NS + 1n, text: '{"level":50,"msg":"first"}' },
  { stream: 'stdout', ns: BASE_NS + 2n, text: 'INFO second' },
  { stream: 'stdout', ns: BASE_NS + 2n, text: 'INFO third, same nanosecond' },
  { stream: 'stderr', ns: BASE_NS + 3n, text: 'WARN 100% _literal_ \u0000 \u001b[31mred\u001b[0m' },
  { stream: 'stdout', ns: BASE_NS + 4n, text: 'plain fifth' },
  // Lines travel to the store as arrays: what an array literal gives meaning to stays text.
  { stream: 'stdout', ns: BASE_NS + 5n, text: 'NULL' },
  { stream: 'stdout', ns: BASE_NS + 6n, text: 'a "quoted" \\ {brace}, comma' },
];

/** An engine whose only replica's log ends after the lines above; followed again, it resumes (`since` inclusive). */
function fakePlane(instance: string, followed: { count: number }): DataPlaneDriver {
  const w: WorkloadInfo = {
    id: 'c1',
    name: 'replica-c1',
    state: 'running',
    ready: true,
    labels: { [LABEL.instance]: instance, [LABEL.deployment]: 'dep_logs', [LABEL.replica]: '0' },
  };
  return {
    observe: {
      list: async () => [w],
      async *logLines(_id: string, options: { sinceNs?: bigint } = {}) {
        followed.count++;
        for (const l of LINES) if (options.sinceNs === undefined || l.ns >= options.sinceNs) yield l;
      },
    },
  } as unknown as DataPlaneDriver;
}

describe.each(DRIVERS)('runtime logs in the store (%s)', (driver) => {
  let t: TestRondo;
  let deps: RuntimeLogDeps;
  const ctx = systemContext('test');
  const instance = 'logtest';
  const query = (f: Parameters<typeof queryRuntimeLogs>[5]) =>
    queryRuntimeLogs(deps, ctx, 'default', 'shop', 'api', f);

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
        id: 'dep_logs',
        org_id: c.org_id,
        component_id: c.id,
        environment_id: e.id,
        status: 'active',
        name: '20261130-1.0.1',
        spec: JSON.stringify({ config: [] }),
        created_at: new Date(),
        updated_at: new Date(),
      } as never)
      .execute();
    deps = { store: t.rondo.store, retentionDays: 30, changes: new LogChanges() };
  });
  afterAll(() => t?.close());

  const collector = (followed: { count: number }) =>
    new LogCollector(
      {
        store: t.rondo.store,
        dataPlanes: {
          tryFor: () => fakePlane(instance, followed),
          drives: () => true,
        } as unknown as DataPlaneRegistry,
        keyring: new Keyring(Buffer.alloc(32)),
        instance,
        logger: pino({ level: 'silent' }),
        changes: deps.changes,
      },
      { discoverMs: 20, flushMs: 5, batchLines: 2 },
    );

  const stored = async () =>
    (await t.rondo.store.logs.db.selectFrom('runtime_logs').select('message').orderBy('id').execute()).map(
      (r) => r.message,
    );

  it('stores each line once, across batches, follows and a restart', async () => {
    const followed = { count: 0 };
    const first = collector(followed);
    first.start();
    // The log "ends" each time: the collector follows it again and again, from its mark.
    for (let i = 0; i < 200 && followed.count < 4; i++) await sleep(20);
    await first.stop();
    const second = collector(followed);
    const before = followed.count;
    second.start();
    for (let i = 0; i < 200 && followed.count < before + 3; i++) await sleep(20);
    await second.stop();
    expect(followed.count).toBeGreaterThanOrEqual(before + 3);
    expect(await stored()).toEqual([
      '{"level":50,"msg":"first"}',
      'INFO second',
      'INFO third, same nanosecond',
      `WARN 100% _literal_ ${REPLACEMENT} red`,
      'plain fifth',
      'NULL',
      'a "quoted" \\ {brace}, comma',
    ]);
    const levels = await t.rondo.store.logs.db
      .selectFrom('runtime_logs')
      .select('level')
      .orderBy('id')
      .execute();
    expect(levels.map((r) => r.level)).toEqual(['error', 'info', 'info', 'warn', null, null, null]);
  });

  it('finds lines by level, text and deployment, and pages both ways', async () => {
    expect((await query({ environment: 'development', level: 'error' })).items.map((l) => l.message)).toEqual(
      ['{"level":50,"msg":"first"}'],
    );
    const warn = await query({ environment: 'development', grep: '100% _LITERAL_' });
    expect(warn.items).toEqual([
      expect.objectContaining({
        level: 'warn',
        stream: 'stderr',
        replica: '0',
        deployment: '20261130-1.0.1',
        release: '20261130-1',
      }),
    ]);
    expect((await query({ environment: 'development', grep: '1%' })).items).toEqual([]);
    expect((await query({ environment: 'development', deployment: '20261130-1' })).items).toHaveLength(7);
    expect((await query({ environment: 'development', deployment: '20261130-2' })).items).toHaveLength(0);

    const all = (await query({ environment: 'development', direction: 'forward' })).items;
    const forward = [];
    let cursor: string | undefined;
    do {
      const page = await query({
        environment: 'development',
        direction: 'forward',
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      forward.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(forward).toEqual(all);
    const backward = [];
    do {
      const page = await query({ environment: 'development', limit: 2, ...(cursor ? { cursor } : {}) });
      backward.unshift(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(backward).toEqual(all);
  });

  it('prunes lines older than the retention', async () => {
    const {
      id: _id,
      at_us: _at,
      ...row
    } = await t.rondo.store.logs.db.selectFrom('runtime_logs').selectAll().executeTakeFirstOrThrow();
    const fortyDaysAgoUs = (BigInt(Date.now() - 40 * 86_400_000) * 1000n).toString();
    await t.rondo.store.logs.db
      .insertInto('runtime_logs')
      .values({ ...row, at_us: fortyDaysAgoUs, message: 'ancient' })
      .execute();
    expect(await pruneRuntimeLogs(t.rondo.store, 30)).toBe(1);
    expect(await stored()).not.toContain('ancient');
    expect(await stored()).toHaveLength(7);
  });
});
