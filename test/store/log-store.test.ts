import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { systemContext } from '../../src/control/context.js';
import { LogChanges } from '../../src/observability/log-changes.js';
import { pruneRuntimeLogs } from '../../src/observability/log-retention.js';
import { queryRuntimeLogs } from '../../src/observability/runtime-logs.js';
import { storeConfigOf } from '../../src/server.js';
import type { Store } from '../../src/store/store.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';

/**
 * The embedded store keeps runtime and gateway logs in a PGlite database of their own
 * (src/store/log-store.ts): on disk beside the main one, moved there from the main database by
 * the first start of this version, swept of deleted components' lines by the retention pass.
 */
describe('the log store of the embedded store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-log-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const nowUs = () => BigInt(Date.now()) * 1000n;
  const HOUR_US = 3_600_000_000n;

  it('is its own database by default, shared on request, and never with PostgreSQL', () => {
    const at = (env: Record<string, string>) =>
      storeConfigOf(loadConfig({}, { RONDO_DATA_DIR: dir, ...env }));
    expect(at({})).toMatchObject({ driver: 'pglite', logsDataDir: join(dir, 'log-store') });
    expect(storeConfigOf(loadConfig({ dataDir: 'memory://' }, {}))).toMatchObject({
      logsDataDir: 'memory://',
    });
    expect(at({ RONDO_LOG_STORE: 'shared' })).not.toHaveProperty('logsDataDir');
    expect(at({ RONDO_DATABASE_URL: 'postgres://x@127.0.0.1/r' })).toEqual({
      driver: 'postgres',
      url: 'postgres://x@127.0.0.1/r',
    });
    expect(() => at({ RONDO_LOG_STORE: 'elsewhere' })).toThrow(
      /RONDO_LOG_STORE must be own or shared, got 'elsewhere'/,
    );
  });

  async function shop(t: TestRondo): Promise<{ org: string; component: string; other: string; env: string }> {
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    for (const name of ['api', 'web'])
      await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
        body: { name, type: 'service', source: { image: 'busybox:1' } },
      });
    const { db } = t.rondo.store;
    const c = await db.selectFrom('components').select(['id', 'org_id', 'name']).orderBy('name').execute();
    const e = await db
      .selectFrom('environments')
      .select('id')
      .where('name', '=', 'development')
      .executeTakeFirstOrThrow();
    return { org: c[0]!.org_id, component: c[0]!.id, other: c[1]!.id, env: e.id };
  }

  const line = (ids: { org: string; env: string }, component: string, message: string, atUs: bigint) => ({
    org_id: ids.org,
    component_id: component,
    environment_id: ids.env,
    deployment_id: 'dep_1',
    deployment: '20261202-1.0.1',
    replica: '0',
    at_us: atUs.toString(),
    stream: 'stdout',
    level: null,
    message,
  });
  const mainCount = async (store: Store, table: string) =>
    Number(
      (await sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(store.db)).rows[0]!.n,
    );

  it('moves the logs an earlier version kept in the main database, with their ids and marks', async () => {
    // The earlier layout: everything in one database.
    const before = await startTestRondo('pglite', undefined, dir, { logStore: 'shared' });
    const ids = await shop(before);
    expect(before.rondo.store.logs.own).toBe(false);
    const logs = before.rondo.store.logs.db;
    await logs
      .insertInto('runtime_logs')
      .values([
        line(ids, ids.component, 'old first', nowUs() - 2n * HOUR_US),
        line(ids, ids.component, 'old second', nowUs() - HOUR_US),
      ])
      .execute();
    await logs
      .insertInto('runtime_log_sources')
      .values({ container_id: 'c1', last_ns: '42', last_count: 2 })
      .execute();
    await logs
      .insertInto('gateway_requests')
      .values({
        org_id: ids.org,
        component_id: ids.component,
        environment_id: ids.env,
        deployment_id: null,
        deployment: null,
        at_us: nowUs().toString(),
        method: 'GET',
        path: '/old',
        status: 200,
        outcome: 'OK',
        duration_ms: 1.5,
        bytes: 2,
        request_id: 'r1',
      })
      .execute();
    await logs
      .insertInto('gateway_log_sources')
      .values({ path: '/x/access.log', file_id: '1:2', offset: 99 })
      .execute();
    const oldIds = (await logs.selectFrom('runtime_logs').select('id').orderBy('id').execute()).map(
      (r) => r.id,
    );
    await before.close();

    const t = await startTestRondo('pglite', undefined, dir);
    try {
      const { store } = t.rondo;
      expect(store.logs.own).toBe(true);
      for (const table of ['runtime_logs', 'runtime_log_sources', 'gateway_requests', 'gateway_log_sources'])
        expect(await mainCount(store, table)).toBe(0);
      const moved = await store.logs.db
        .selectFrom('runtime_logs')
        .select(['id', 'message'])
        .orderBy('id')
        .execute();
      expect(moved).toEqual([
        { id: oldIds[0], message: 'old first' },
        { id: oldIds[1], message: 'old second' },
      ]);
      expect(await store.logs.db.selectFrom('runtime_log_sources').selectAll().execute()).toMatchObject([
        { container_id: 'c1', last_ns: '42', last_count: 2 },
      ]);
      expect(await store.logs.db.selectFrom('gateway_requests').select('path').execute()).toEqual([
        { path: '/old' },
      ]);
      const [file] = await store.logs.db.selectFrom('gateway_log_sources').selectAll().execute();
      expect(file).toMatchObject({ path: '/x/access.log', file_id: '1:2' });
      expect(Number(file!.offset)).toBe(99);
      // New lines are numbered after the moved ones (cursors order by id).
      const [added] = await store.logs.db
        .insertInto('runtime_logs')
        .values(line(ids, ids.component, 'new', nowUs()))
        .returning('id')
        .execute();
      expect(BigInt(added!.id)).toBeGreaterThan(BigInt(oldIds[1]!));
      // The queries read the log store.
      const page = await queryRuntimeLogs(
        { store, retentionDays: 30, changes: new LogChanges() },
        systemContext('test'),
        'default',
        'shop',
        'api',
        { environment: 'development', since: '3h' },
      );
      expect(page.items.map((l) => l.message)).toEqual(['old first', 'old second', 'new']);
    } finally {
      await t.close();
    }
  });

  it('keeps what it holds across a restart, and sweeps a deleted component’s lines once they are old enough', async () => {
    const t = await startTestRondo('pglite', undefined, dir);
    try {
      const { store } = t.rondo;
      const ids = {
        ...(await store.db.selectFrom('components').select('org_id as org').executeTakeFirstOrThrow()),
        env: (
          await store.db
            .selectFrom('environments')
            .select('id')
            .where('name', '=', 'development')
            .executeTakeFirstOrThrow()
        ).id,
      };
      const [api, web] = (await store.db.selectFrom('components').select('id').orderBy('name').execute()).map(
        (r) => r.id,
      );
      expect(
        await store.logs.db.selectFrom('runtime_logs').select('message').orderBy('id').execute(),
      ).toEqual([{ message: 'old first' }, { message: 'old second' }, { message: 'new' }]);
      await store.logs.db
        .insertInto('runtime_logs')
        .values([
          line(ids, web!, 'web, an hour ago', nowUs() - HOUR_US),
          line(ids, web!, 'web, just now', nowUs()),
        ])
        .execute();
      // (This start's admin token is not the first start's: the component goes as its API deletes it.)
      await store.db.deleteFrom('components').where('id', '=', web!).execute();
      expect(await pruneRuntimeLogs(store, 30)).toBe(1);
      const left = await store.logs.db
        .selectFrom('runtime_logs')
        .select(['component_id', 'message'])
        .execute();
      expect(left.filter((l) => l.component_id === api)).toHaveLength(3);
      // The newest line of the deleted component waits for a later pass (it may be a component made just now).
      expect(left.filter((l) => l.component_id === web).map((l) => l.message)).toEqual(['web, just now']);
    } finally {
      await t.close();
    }
  });
});
