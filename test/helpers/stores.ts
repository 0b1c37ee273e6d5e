import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import type { Store, StoreConfig } from '../../src/store/store.js';
import { openStore } from '../../src/store/store.js';

/** Every store test runs on both drivers (the embedded default and a real PostgreSQL). */
export const DRIVERS = ['pglite', 'postgres'] as const;
export type Driver = (typeof DRIVERS)[number];

const ADMIN_URL = process.env.RONDO_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh PostgreSQL database for this test file; `drop()` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `rondo_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Where a test's store lives: an in-memory PGlite, or a fresh PostgreSQL database. */
export async function testStoreConfig(
  driver: Driver,
): Promise<{ config: StoreConfig; cleanup: () => Promise<void> }> {
  if (driver === 'pglite')
    return { config: { driver: 'pglite', dataDir: 'memory://' }, cleanup: async () => {} };
  const db = await createTestDatabase();
  return { config: { driver: 'postgres', url: db.url }, cleanup: db.drop };
}

export async function openTestStore(driver: Driver): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  const { config, cleanup } = await testStoreConfig(driver);
  const store = await openStore(config);
  return {
    store,
    async cleanup() {
      await store.close();
      await cleanup();
    },
  };
}

/**
 * Every row of every table, for asserting that a refused request changed nothing.
 * `tokens.last_used_at` is left out: authenticating a request may touch it.
 */
export async function snapshot(store: Store): Promise<string> {
  const parts: string[] = [];
  // Every table the migrations made, so a table added later is covered without editing this list.
  const { rows: tables } = await sql<{ table_name: string }>`select table_name from information_schema.tables
      where table_schema = 'public' and table_name not like 'kysely_%' order by table_name`.execute(store.db);
  for (const table of tables.map((t) => t.table_name)) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)} order by 1`.execute(
      store.db,
    );
    parts.push(table, JSON.stringify(rows.map((r) => ({ ...r, last_used_at: undefined }))));
  }
  return parts.join('\n');
}

/** `snapshot` without the audit log: a refusal by authentication or authorization writes only its audit event. */
export async function snapshotButAudit(store: Store): Promise<string> {
  const lines = (await snapshot(store)).split('\n');
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    if (lines[i] !== 'audit_events') kept.push(lines[i]!, lines[i + 1]!);
  }
  return kept.join('\n');
}
