import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/control/bootstrap.js';
import { migrations } from '../../src/store/migrations/index.js';
import { initialiseInChild } from '../../src/store/pglite-init.js';
import { openStore } from '../../src/store/store.js';
import { createTestDatabase, DRIVERS, openTestStore } from '../helpers/stores.js';

describe.each(DRIVERS)('store on %s', (driver) => {
  let handle: Awaited<ReturnType<typeof openTestStore>>;
  beforeAll(async () => {
    handle = await openTestStore(driver);
  });
  afterAll(() => handle.cleanup());

  it('bootstraps once: the admin, the first organization, its defaults and one token', async () => {
    const first = await bootstrap(handle.store, { orgName: 'acme' });
    expect(first?.token).toMatch(/^rondo_/);
    expect(await bootstrap(handle.store, { orgName: 'acme' })).toBeUndefined();
    const envs = await handle.store.db
      .selectFrom('environments')
      .select(['name', 'production'])
      .orderBy('name')
      .execute();
    expect(envs).toEqual([
      { name: 'development', production: false },
      { name: 'production', production: true },
    ]);
    const tokens = await handle.store.db.selectFrom('tokens').select('hash').execute();
    expect(tokens).toHaveLength(1);
    expect(tokens[0]?.hash).not.toContain(first!.token);
  });

  it('applies every migration, in order, once', async () => {
    const { rows } = await sql<{ name: string }>`select name from rondo_migrations order by name`.execute(
      handle.store.db,
    );
    expect(rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
  });

  it('runs transactions atomically: a failure rolls back every write', async () => {
    await expect(
      handle.store.db.transaction().execute(async (tx) => {
        await tx.insertInto('users').values({ id: 'usr_tx', name: 'tx-user', display_name: 'x' }).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const row = await handle.store.db
      .selectFrom('users')
      .select('id')
      .where('id', '=', 'usr_tx')
      .executeTakeFirst();
    expect(row).toBeUndefined();
  });

  it('serializes concurrent transactions without interleaving', async () => {
    // Two transactions that each read-then-write the same counter; interleaving would lose an update.
    await handle.store.db
      .insertInto('users')
      .values({ id: 'usr_c', name: 'counter', display_name: '0' })
      .execute();
    const bump = () =>
      handle.store.db.transaction().execute(async (tx) => {
        const r = await tx
          .selectFrom('users')
          .select('display_name')
          .where('id', '=', 'usr_c')
          .forUpdate()
          .executeTakeFirstOrThrow();
        await tx
          .updateTable('users')
          .set({ display_name: String(Number(r.display_name) + 1) })
          .where('id', '=', 'usr_c')
          .execute();
      });
    await Promise.all(Array.from({ length: 10 }, bump));
    const r = await handle.store.db
      .selectFrom('users')
      .select('display_name')
      .where('id', '=', 'usr_c')
      .executeTakeFirstOrThrow();
    expect(r.display_name).toBe('10');
  });
});

describe('PGlite data directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps data across restarts and does not re-apply migrations', async () => {
    const a = await openStore({ driver: 'pglite', dataDir: dir });
    await a.db.insertInto('users').values({ id: 'usr_p', name: 'persisted', display_name: 'p' }).execute();
    await a.close();
    const b = await openStore({ driver: 'pglite', dataDir: dir });
    const row = await b.db.selectFrom('users').select('name').where('id', '=', 'usr_p').executeTakeFirst();
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from rondo_migrations`.execute(b.db);
    await b.close();
    expect(row?.name).toBe('persisted');
    expect(rows[0]?.n).toBe(Object.keys(migrations).length);
  });

  it('creates a new cluster in a child process, with the sizes the server runs with', async () => {
    const fresh = join(dir, 'fresh');
    const store = await openStore({ driver: 'pglite', dataDir: fresh });
    try {
      expect(existsSync(join(fresh, 'PG_VERSION'))).toBe(true);
      const { rows } = await sql<{ name: string; setting: string }>`
        select name, setting from pg_settings where name in ('shared_buffers', 'max_connections') order by name
      `.execute(store.db);
      // shared_buffers is counted in 8 kB pages.
      expect(rows).toEqual([
        { name: 'max_connections', setting: '8' },
        { name: 'shared_buffers', setting: '1024' },
      ]);
    } finally {
      await store.close();
    }
  });

  it('says which directory it could not initialise, and why', async () => {
    const file = join(dir, 'not-a-directory');
    writeFileSync(file, 'x');
    await expect(initialiseInChild(join(file, 'store'))).rejects.toThrow(
      /initialising the embedded store in .*not-a-directory\/store failed: .+/,
    );
  });
});

describe('PostgreSQL store', () => {
  it('refuses to start with a clear error when the server does not answer', async () => {
    await expect(
      openStore({ driver: 'postgres', url: 'postgres://postgres@127.0.0.1:1/none' }),
    ).rejects.toThrow(/ECONNREFUSED|connect/);
  });

  it('lets two control planes share one database (migrations and bootstrap run once)', async () => {
    const db = await createTestDatabase();
    try {
      const [a, b] = await Promise.all([
        openStore({ driver: 'postgres', url: db.url }),
        openStore({ driver: 'postgres', url: db.url }),
      ]);
      const results = await Promise.all([
        bootstrap(a, { orgName: 'default' }),
        bootstrap(b, { orgName: 'default' }),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await db.drop();
    }
  });
});
