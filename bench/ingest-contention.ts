/**
 * G3: why `GET component` slows down while runtime logs are ingested, without the engine: the
 * real collector over the real store (PGlite in a directory), fed by a data plane double whose
 * 10 replicas print as fast as the collector reads; `GET component` through the API in-process
 * (Fastify, authentication, the store), idle and during the ingestion. Run twice in the same
 * process: the collector writing on the shared handle (as before), and on the store's background
 * handle (API queries first).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { pino } from 'pino';
import type { DataPlaneDriver, LogLine, Replica as WorkloadInfo } from '../src/dataplane/driver.js';
import { LABEL } from '../src/dataplane/labels.js';
import type { DataPlaneRegistry } from '../src/dataplane/registry.js';
import { LogChanges } from '../src/observability/log-changes.js';
import { LogCollector } from '../src/observability/log-collector.js';
import { Keyring } from '../src/secrets/envelope.js';
import type { Store } from '../src/store/store.js';
import { startTestRondo, type TestRondo } from '../test/helpers/rondo.js';

const REPLICAS = 10;
const LINES = 5_000;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1]!;

/** 10 replicas that printed LINES lines each, from `start` (fixed per round: a follow resumes). */
function plane(instance: string, run: string, start: bigint): DataPlaneDriver {
  const workloads: WorkloadInfo[] = Array.from({ length: REPLICAS }, (_, r) => ({
    id: `${run}-c${r}`,
    name: `replica-${r}`,
    state: 'running',
    ready: true,
    labels: { [LABEL.instance]: instance, [LABEL.deployment]: 'dep_bench', [LABEL.replica]: String(r) },
  }));
  const observe = {
    list: async () => workloads,
    async *logLines(id: string, options: { sinceNs?: bigint } = {}) {
      for (let i = 0; i < LINES; i++) {
        const ns = start + BigInt(i) * 1000n;
        if (options.sinceNs !== undefined && ns < options.sinceNs) continue;
        const line: LogLine = { stream: 'stdout', ns, text: `{"level":"info","msg":"${id} line ${i}"}` };
        yield line;
        // An engine's stream arrives in chunks; the event loop turns between them.
        if (i % 50 === 0) await setImmediate();
      }
    },
  };
  return { observe } as unknown as DataPlaneDriver;
}

async function round(
  t: TestRondo,
  url: string,
  what: string,
  store: Store,
  run: string,
  batchLines = 250,
): Promise<void> {
  // Over HTTP, as clients call it: in-process calls on PGlite never leave the microtask queue,
  // and would starve the collector's reads entirely.
  const get = async () => {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/v1/orgs/default/projects/shop/components/api`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET component answered ${res.status}`);
    return performance.now() - t0;
  };
  for (let i = 0; i < 20; i++) await get();
  const idle: number[] = [];
  for (let i = 0; i < 300; i++) idle.push(await get());
  const fake = plane('bench', run, BigInt(Date.now()) * 1_000_000n);
  const collector = new LogCollector(
    {
      store,
      dataPlanes: { tryFor: () => fake } as unknown as DataPlaneRegistry,
      keyring: new Keyring(Buffer.alloc(32)),
      instance: 'bench',
      logger: pino({ level: 'silent' }),
      changes: new LogChanges(),
    },
    { discoverMs: 50, batchLines },
  );
  const count = async () =>
    Number(
      (
        await t.rondo.store.logs.db
          .selectFrom('runtime_logs')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('replica', '!=', 'x')
          .executeTakeFirstOrThrow()
      ).n,
    );
  const before = await count();
  const t0 = performance.now();
  collector.start();
  const busy: number[] = [];
  let stored = 0;
  while (stored < REPLICAS * LINES) {
    for (let i = 0; i < 20; i++) busy.push(await get());
    stored = (await count()) - before;
  }
  const seconds = (performance.now() - t0) / 1000;
  await collector.stop();
  console.log(
    `ingestion without the engine (${what}): ${stored} lines in ${seconds.toFixed(1)} s (${Math.round(stored / seconds)} lines/s); GET component p50/p99 idle ${pct(idle, 50).toFixed(1)}/${pct(idle, 99).toFixed(1)} ms, during ${pct(busy, 50).toFixed(1)}/${pct(busy, 99).toFixed(1)} ms (p99 ${(pct(busy, 99) / pct(idle, 99)).toFixed(1)}× idle, ${busy.length} requests)`,
  );
}

export async function benchIngestContention(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-contention-'));
  const t = await startTestRondo('pglite', undefined, join(dir, 'data'));
  try {
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
        id: 'dep_bench',
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
    const store = t.rondo.store;
    const url = await t.rondo.listen();
    await round(t, url, 'collector on the shared handle', { ...store, background: store.db }, 'a');
    await round(t, url, 'collector on the background handle', store, 'b');
    await round(t, url, 'background handle, batches of 100 lines', store, 'c', 100);
  } finally {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
