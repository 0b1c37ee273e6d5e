import { type Kysely, type Migration, sql } from 'kysely';
import type { Database, LogDatabase } from './schema.js';

/**
 * Where runtime and gateway logs are kept. On the embedded store they have a PGlite database of
 * their own, on its own thread: PGlite has one connection, and with the logs beside everything
 * else an API request queued behind the collectors' batch inserts (p99 of `GET component` at
 * 3.8–5.6× idle under 5,000 lines/s; docs/observability.md). On PostgreSQL (a pool of
 * connections) they stay in the one database.
 */
export interface LogStore {
  /** For log queries and rules. */
  readonly db: Kysely<LogDatabase>;
  /** For the collectors' steady writes: they give way to queries on PGlite's one connection. */
  readonly background: Kysely<LogDatabase>;
  /**
   * Whether the logs are in a database of their own. There, no foreign key removes a deleted
   * component's or environment's lines: the retention pass sweeps them (`log-retention.ts`).
   */
  readonly own: boolean;
}

/** The logs in the main database: its tables carry them (migration 202611301200 and 202612010200). */
export function sharedLogStore(db: Kysely<Database>, background: Kysely<Database>): LogStore {
  return {
    db: db as unknown as Kysely<LogDatabase>,
    background: background as unknown as Kysely<LogDatabase>,
    own: false,
  };
}

/**
 * The migrations of a log database of its own: the same tables as in the main database, without
 * the references to components and environments, which live elsewhere. Forward-only.
 */
export const logMigrations: Record<string, Migration> = {
  '202612020200_logs': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('runtime_logs')
        .addColumn('id', 'bigserial', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull())
        .addColumn('component_id', 'text', (c) => c.notNull())
        .addColumn('environment_id', 'text', (c) => c.notNull())
        .addColumn('deployment_id', 'text', (c) => c.notNull())
        .addColumn('deployment', 'text', (c) => c.notNull())
        .addColumn('replica', 'text', (c) => c.notNull())
        .addColumn('at_us', 'bigint', (c) => c.notNull())
        .addColumn('stream', 'text', (c) => c.notNull())
        .addColumn('level', 'text')
        .addColumn('message', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('runtime_logs_component_env_at')
        .on('runtime_logs')
        .columns(['component_id', 'environment_id', 'at_us', 'id'])
        .execute();
      await db.schema.createIndex('runtime_logs_at').on('runtime_logs').column('at_us').execute();
      await db.schema
        .createTable('runtime_log_sources')
        .addColumn('container_id', 'text', (c) => c.primaryKey())
        .addColumn('last_ns', 'text', (c) => c.notNull())
        .addColumn('last_count', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('gateway_requests')
        .addColumn('id', 'bigserial', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull())
        .addColumn('component_id', 'text', (c) => c.notNull())
        .addColumn('environment_id', 'text', (c) => c.notNull())
        .addColumn('deployment_id', 'text')
        .addColumn('deployment', 'text')
        .addColumn('at_us', 'bigint', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('duration_ms', 'double precision', (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('gateway_requests_component_env_at')
        .on('gateway_requests')
        .columns(['component_id', 'environment_id', 'at_us', 'id'])
        .execute();
      await db.schema.createIndex('gateway_requests_at').on('gateway_requests').column('at_us').execute();
      await db.schema
        .createTable('gateway_log_sources')
        .addColumn('path', 'text', (c) => c.primaryKey())
        .addColumn('file_id', 'text', (c) => c.notNull())
        .addColumn('offset', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
};

const MOVE_BATCH = 5_000;

/**
 * Moves the logs an earlier version kept in the main database into the log database, oldest
 * first, each batch inserted there before it is deleted here. Interrupted, it resumes at the next
 * start: a batch inserted but not yet deleted is inserted again only when the delete failed, and
 * the ids (kept) make that a conflict that is skipped. The resume marks move too, so the
 * collectors do not read containers' logs again from the start.
 */
export async function moveLogsFromMain(main: Kysely<Database>, logs: Kysely<LogDatabase>): Promise<number> {
  const from = main as unknown as Kysely<LogDatabase>;
  let moved = 0;
  for (const table of ['runtime_logs', 'gateway_requests'] as const) {
    for (;;) {
      const rows = await from.selectFrom(table).selectAll().orderBy('id').limit(MOVE_BATCH).execute();
      if (rows.length === 0) break;
      await logs
        .insertInto(table)
        .values(rows as never)
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      await from.deleteFrom(table).where('id', '<=', rows.at(-1)!.id).execute();
      moved += rows.length;
    }
    // Ids were kept: the sequence continues after them.
    await sql`select setval(pg_get_serial_sequence(${table}, 'id'), coalesce((select max(id) from ${sql.table(table)}), 1))`.execute(
      logs,
    );
  }
  const marks = await from.selectFrom('runtime_log_sources').selectAll().execute();
  if (marks.length) {
    await logs
      .insertInto('runtime_log_sources')
      .values(marks)
      .onConflict((oc) => oc.column('container_id').doNothing())
      .execute();
    await from.deleteFrom('runtime_log_sources').execute();
  }
  const files = await from.selectFrom('gateway_log_sources').selectAll().execute();
  if (files.length) {
    await logs
      .insertInto('gateway_log_sources')
      .values(files)
      .onConflict((oc) => oc.column('path').doNothing())
      .execute();
    await from.deleteFrom('gateway_log_sources').execute();
  }
  return moved;
}
