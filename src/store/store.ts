import { mkdirSync } from 'node:fs';
import { Kysely, type Migration, Migrator, PostgresDialect, sql, type Transaction } from 'kysely';
import type pg from 'pg';
import { type LogStore, logMigrations, moveLogsFromMain, sharedLogStore } from './log-store.js';
import { migrations } from './migrations/index.js';
import { rememberFailedQuery } from './query-errors.js';
import type { Database, LogDatabase } from './schema.js';

/**
 * Where the store lives: embedded PGlite in a directory (or memory), or a PostgreSQL server. With
 * `logsDataDir`, PGlite keeps runtime and gateway logs in a second database there (`log-store.ts`).
 */
export type StoreConfig =
  | {
      driver: 'pglite';
      dataDir: string;
      thread?: 'worker' | 'main';
      logsDataDir?: string;
      /** The log database thread's nice value; default 10. */
      logsNice?: number;
    }
  | { driver: 'postgres'; url: string };

/** Anything queries can run on: the database or an open transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

export interface Store {
  readonly db: Kysely<Database>;
  /**
   * The same database for steady background writers (log collectors): on PGlite's single
   * connection their queries give way to everyone else's; on PostgreSQL it is `db`.
   */
  readonly background: Kysely<Database>;
  /** Runtime and gateway logs: a database of their own on PGlite with `logsDataDir`, else `db`'s. */
  readonly logs: LogStore;
  readonly driver: StoreConfig['driver'];
  /**
   * Calls `onPayload` with each NOTIFY on `channel`, from any control plane on this store, once
   * its transaction commits. Resolves to the way to stop listening.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Opens the store and applies pending migrations (forward-only) before returning it. */
export interface StoreOptions {
  /** Told when the server drops an idle PostgreSQL connection (the pool replaces it). */
  onIdleConnectionError?: (err: Error) => void;
}

export async function openStore(config: StoreConfig, options: StoreOptions = {}): Promise<Store> {
  let dialect: PostgresDialect;
  let backgroundDialect: PostgresDialect | undefined;
  let listen: Store['listen'];
  let closeListener = async () => {};
  if (config.driver === 'pglite') {
    const pool = await openPGlite(config.dataDir, config.thread);
    dialect = pool.dialect;
    backgroundDialect = pool.backgroundDialect;
    listen = pool.listen;
  } else {
    const { default: pg } = await import('pg');
    // int8 (bigserial ids, counts) as JS strings on both drivers: PGlite already does, pg must be told.
    pg.types.setTypeParser(20, (v: string) => v);
    const pool = new pg.Pool({ connectionString: config.url, max: 10 });
    // An idle connection that the server drops (restart, failover) is discarded by the pool and
    // replaced on next use; without a listener the 'error' event would crash the process.
    pool.on('error', (err) => options.onIdleConnectionError?.(err));
    dialect = new PostgresDialect({ pool });
    const { PgListener } = await import('./pg-listener.js');
    const listener = new PgListener(config.url);
    listen = (channel, onPayload) => listener.listen(channel, onPayload);
    closeListener = () => listener.close();
  }
  // The log hook only notes a failed query's SQL on its error, for a log line without values.
  const db = new Kysely<Database>({ dialect, log: rememberFailedQuery });
  let ownLogs: { db: Kysely<LogDatabase>; background: Kysely<LogDatabase> } | undefined;
  try {
    await migrate(db, migrations, 'rondo_migrations');
    if (config.driver === 'pglite' && config.logsDataDir) {
      // Its thread gives way to the control plane's under load: ingestion waits, requests do not.
      const pool = await openPGlite(config.logsDataDir, config.thread, config.logsNice ?? LOG_STORE_NICE);
      ownLogs = {
        db: new Kysely<LogDatabase>({ dialect: pool.dialect, log: rememberFailedQuery }),
        background: new Kysely<LogDatabase>({ dialect: pool.backgroundDialect, log: rememberFailedQuery }),
      };
      await migrate(ownLogs.db, logMigrations, 'rondo_log_migrations');
      await moveLogsFromMain(db, ownLogs.db);
    }
  } catch (err) {
    await ownLogs?.db.destroy();
    await db.destroy();
    throw err;
  }
  const background = backgroundDialect
    ? new Kysely<Database>({ dialect: backgroundDialect, log: rememberFailedQuery })
    : db;
  // PGlite runs PostgreSQL without its background workers, so no autovacuum ever gathers the
  // planner's statistics: without them it picked the (environment, status) index to find one
  // component's deployments, scanning the environment's every deployment. Gathered at open and
  // every 10 minutes, on the background connection.
  let analyzing: NodeJS.Timeout | undefined;
  if (config.driver === 'pglite') {
    await sql`analyze`.execute(db);
    analyzing = setInterval(() => {
      sql`analyze`.execute(background).catch(() => undefined);
    }, ANALYZE_EVERY_MS);
    analyzing.unref();
  }
  return {
    db,
    background,
    logs: ownLogs ? { ...ownLogs, own: true } : sharedLogStore(db, background),
    driver: config.driver,
    listen,
    async close() {
      clearInterval(analyzing);
      await closeListener();
      if (ownLogs) {
        await ownLogs.background.destroy();
        await ownLogs.db.destroy();
      }
      if (background !== db) await background.destroy();
      await db.destroy();
    },
  };
}

/** How often PGlite's planner statistics are gathered again. */
const ANALYZE_EVERY_MS = 10 * 60_000;

/** The log database's thread priority (Linux nice value; the server's is 0). */
const LOG_STORE_NICE = 10;

/** PGlite in `dataDir` (created when missing), behind a foreground and a background dialect. */
async function openPGlite(dataDir: string, thread?: 'worker' | 'main', nice = 0) {
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  // Each driver is loaded only when chosen: PGlite's WebAssembly and pg are both sizeable.
  const { PGlitePool } = await import('./pglite-pool.js');
  const pool = await PGlitePool.open(dataDir, thread, nice);
  return {
    dialect: new PostgresDialect({ pool: pool as unknown as pg.Pool }),
    backgroundDialect: new PostgresDialect({ pool: pool.background() as unknown as pg.Pool }),
    listen: (channel: string, onPayload: (payload: string) => void) => pool.listen(channel, onPayload),
  };
}

async function migrate<DB>(
  db: Kysely<DB>,
  all: Record<string, Migration>,
  migrationTableName: string,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => all },
    migrationTableName,
    migrationLockTableName: `${migrationTableName}_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const reason =
      error instanceof Error ? error.message || (error as NodeJS.ErrnoException).code : String(error);
    // Never echo the database URL: it may carry a password.
    const what = failed
      ? `migration ${failed} failed`
      : 'cannot reach the database (check RONDO_DATABASE_URL)';
    throw new Error(`store: ${what}: ${reason}`, { cause: error });
  }
}
