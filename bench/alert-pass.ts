/**
 * G3: one pass of Rondo's alert evaluator over a noisy component, on both store drivers: 200,000
 * stored lines in the last 5 minutes, 2,000 with the phrase, one log rule whose threshold is met
 * and one whose threshold is not (it must count every match). The first pass reads the window;
 * later passes read only what was stored since (here 1,000 new lines before each pass). Floor:
 * `select 1` through the same store, in the same run.
 */
import { sql } from 'kysely';
import { pino } from 'pino';
import { AlertEvaluator } from '../src/observability/alert-evaluator.js';
import { startTestRondo } from '../test/helpers/rondo.js';
import { DRIVERS } from '../test/helpers/stores.js';

const LINES = 200_000;
const MATCHING_EVERY = 100;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1]!;

export async function benchAlertPass(): Promise<void> {
  for (const driver of DRIVERS) {
    const t = await startTestRondo(driver);
    try {
      await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
      await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
        body: { name: 'api', type: 'service', source: { image: 'busybox:1' } },
      });
      const { db } = t.rondo.store;
      const c = await db.selectFrom('components').select(['id', 'org_id']).executeTakeFirstOrThrow();
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
          spec: JSON.stringify({ image: 'busybox', replicas: 1, endpoints: [], env: {} }),
          name: '20261130-1.0.1',
        })
        .execute();
      let n = 0;
      const insert = async (count: number) => {
        const nowUs = BigInt(Date.now()) * 1000n;
        for (let i = 0; i < count; i += 500) {
          const rows = Array.from({ length: Math.min(500, count - i) }, () => {
            const k = n++;
            return {
              org_id: c.org_id,
              component_id: c.id,
              environment_id: e.id,
              deployment_id: 'dep_bench',
              deployment: '20261130-1.0.1',
              replica: '0',
              at_us: (nowUs - BigInt(LINES - k) * 1000n).toString(),
              stream: 'stdout',
              level: 'info',
              message: k % MATCHING_EVERY === 0 ? `ERROR payment failed ${k}` : `GET /orders/${k} 200`,
            };
          });
          await t.rondo.store.logs.db.insertInto('runtime_logs').values(rows).execute();
        }
      };
      await insert(LINES);
      for (const [name, count] of [
        ['met', 10],
        ['unmet', 5000],
      ] as const) {
        const rule = await t.call('POST', '/api/v1/orgs/default/projects/shop/components/api/alerts', {
          body: {
            name,
            environment: 'development',
            kind: 'log',
            params: { phrase: 'payment failed', count, intervalMinutes: 5 },
            webhook: { url: 'http://127.0.0.1:9/alerts', secret: 'bench-webhook-secret-0123456789' },
          },
        });
        if (rule.status !== 201) throw new Error(`alert rule: ${rule.status} ${JSON.stringify(rule.body)}`);
      }
      const evaluator = new AlertEvaluator({ store: t.rondo.store, logger: pino({ level: 'silent' }) });
      const time = async (f: () => Promise<unknown>) => {
        const s = performance.now();
        await f();
        return performance.now() - s;
      };
      const first = await time(() => evaluator.evaluate());
      const later: number[] = [];
      for (let i = 0; i < 10; i++) {
        await insert(1000);
        later.push(await time(() => evaluator.evaluate()));
      }
      const floor: number[] = [];
      for (let i = 0; i < 50; i++) floor.push(await time(() => sql`select 1`.execute(db)));
      const state = await db.selectFrom('alert_rules').select(['name', 'state']).orderBy('name').execute();
      console.log(
        `alert pass (${driver}, ${LINES.toLocaleString('en')} lines in 5 min, ${LINES / MATCHING_EVERY} matching): first ${first.toFixed(0)} ms, later passes p50 ${pct(later, 50).toFixed(1)} ms / max ${Math.max(...later).toFixed(1)} ms (1,000 new lines each); floor select 1 p50 ${pct(floor, 50).toFixed(2)} ms; later p50 = ${(pct(later, 50) / pct(floor, 50)).toFixed(0)}× floor; rules ${state.map((r) => `${r.name}=${r.state}`).join(', ')}`,
      );
    } finally {
      await t.close();
    }
  }
}
