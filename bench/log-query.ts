/**
 * G3: a runtime log query over 1,000,000 stored lines, in the store the control plane uses (the
 * same `queryRuntimeLogs` the API runs, without HTTP), on both drivers. Lines of 10 components
 * spread over the last 6 hours; the query asks for one component's last hour (~17,000 lines) or
 * last 6 hours (~100,000), newest 100 matching `--grep`, with a rare and a common phrase.
 * With `trigram`, the same after a pg_trgm index on the lower-cased message (an experiment: the
 * query then has to use LIKE, which the index serves, instead of strpos).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { systemContext } from '../src/control/context.js';
import { LogChanges } from '../src/observability/log-changes.js';
import { queryRuntimeLogs, type RuntimeLogDeps } from '../src/observability/runtime-logs.js';
import { startTestRondo } from '../test/helpers/rondo.js';
import type { Driver } from '../test/helpers/stores.js';

const LINES = 1_000_000;
const COMPONENTS = 10;
const SPAN_US = 6n * 3600n * 1_000_000n;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1]!;

/**
 * The same rare-phrase query written as LIKE on lower(message), before and after a pg_trgm GIN
 * index (PostgreSQL; PGlite ships pg_trgm too, loaded when the database is created).
 */
async function trigramExperiment(
  t: Awaited<ReturnType<typeof startTestRondo>>,
  componentId: string,
  environmentId: string,
  nowUs: bigint,
): Promise<void> {
  const { db } = t.rondo.store;
  const run = async (what: string, since: bigint) => {
    const ms: number[] = [];
    let found = 0;
    for (let i = 0; i < 40; i++) {
      const s = performance.now();
      const r = await sql<{ id: string }>`
        SELECT id FROM runtime_logs
        WHERE component_id = ${componentId} AND environment_id = ${environmentId}
          AND at_us >= ${(nowUs - since).toString()}::bigint AND lower(message) LIKE ${'%request 4243 %'}
        ORDER BY at_us DESC, id DESC LIMIT 101`.execute(db);
      ms.push(performance.now() - s);
      found = r.rows.length;
    }
    console.log(
      `log query (postgres, LIKE) ${what} (${found} found): p50 ${pct(ms, 50).toFixed(1)} ms, p99 ${pct(ms, 99).toFixed(1)} ms`,
    );
  };
  const hour = 3600n * 1_000_000n;
  await run('1h, no trigram index', hour);
  const t0 = performance.now();
  await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db);
  await sql`CREATE INDEX runtime_logs_message_trgm ON runtime_logs USING gin (lower(message) gin_trgm_ops)`.execute(
    db,
  );
  await sql`ANALYZE runtime_logs`.execute(db);
  console.log(
    `log query (postgres): trigram index built in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  await run('1h, trigram index', hour);
  await run('6h, trigram index', 6n * hour);
}

export async function benchLogQuery(driver: Driver): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-logquery-'));
  const t = await startTestRondo(driver, undefined, driver === 'pglite' ? join(dir, 'data') : 'memory://');
  try {
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    for (let c = 0; c < COMPONENTS; c++)
      await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
        body: { name: `c${c}`, type: 'service', source: { image: 'busybox:1' } },
      });
    const { db } = t.rondo.store;
    const comps = await db
      .selectFrom('components')
      .select(['id', 'org_id', 'name'])
      .orderBy('name')
      .execute();
    const env = await db
      .selectFrom('environments')
      .select('id')
      .where('name', '=', 'development')
      .executeTakeFirstOrThrow();
    const ids = sql.raw(`ARRAY[${comps.map((c) => `'${c.id}'`).join(',')}]`);
    const nowUs = BigInt(Date.now()) * 1000n;
    const stepUs = SPAN_US / BigInt(LINES);
    const t0 = performance.now();
    for (let from = 1; from <= LINES; from += 100_000) {
      await sql`
        INSERT INTO runtime_logs (org_id, component_id, environment_id, deployment_id, deployment, replica,
                                  at_us, stream, level, message)
        SELECT ${comps[0]!.org_id}, (${ids})[1 + g % ${COMPONENTS}], ${env.id}, 'dep_bench', '20261130-1.0.1',
               (g % 3)::text, ${nowUs.toString()}::bigint - g::bigint * ${stepUs.toString()}::bigint, 'stdout',
               CASE WHEN g % 50 = 0 THEN 'error' ELSE 'info' END,
               '{"level":"info","msg":"request ' || g || ' served in ' || (g % 997) || ' ms","path":"/api/items/' || (g % 5000) || '"}'
        FROM generate_series(${from}::int, ${Math.min(from + 99_999, LINES)}::int) g`.execute(db);
    }
    await sql`ANALYZE runtime_logs`.execute(db);
    console.log(
      `log query (${driver}): ${LINES} lines of ${COMPONENTS} components over 6 h stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const deps: RuntimeLogDeps = { store: t.rondo.store, retentionDays: 30, changes: new LogChanges() };
    const ctx = systemContext('bench');
    const measure = async (what: string, since: string, grep: string) => {
      const ms: number[] = [];
      let found = 0;
      for (let i = 0; i < 40; i++) {
        const s = performance.now();
        const page = await queryRuntimeLogs(deps, ctx, 'default', 'shop', 'c3', {
          environment: 'development',
          since,
          grep,
        });
        ms.push(performance.now() - s);
        found = page.items.length;
      }
      console.log(
        `log query (${driver}) ${what}, since ${since}, grep '${grep}' (${found} on the page): p50 ${pct(ms, 50).toFixed(1)} ms, p99 ${pct(ms, 99).toFixed(1)} ms`,
      );
    };
    await measure('one component', '1h', 'request 4243 ');
    await measure('one component', '1h', 'served in 5');
    await measure('one component', '6h', 'request 4243 ');
    if (driver === 'postgres')
      await trigramExperiment(t, comps.find((c) => c.name === 'c3')!.id, env.id, nowUs);
  } finally {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
