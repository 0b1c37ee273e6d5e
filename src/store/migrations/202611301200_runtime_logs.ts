import { type Kysely, sql } from 'kysely';

// G3: runtime logs of replicas, kept after their containers are gone, and where the collector
// resumes each container's log after a restart.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('runtime_logs')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull())
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('deployment_id', 'text', (c) => c.notNull())
    // The deployment's name (`<release>.<configRevision>.<deployCount>`) as it was when written.
    .addColumn('deployment', 'text', (c) => c.notNull())
    .addColumn('replica', 'text', (c) => c.notNull())
    // Microseconds since the epoch: an exact, totally ordered position for cursors (JS dates stop at ms).
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
    // The newest stored line's engine time (nanoseconds, as text) and how many stored lines share it.
    .addColumn('last_ns', 'text', (c) => c.notNull())
    .addColumn('last_count', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}
