import { type Kysely, sql } from 'kysely';

// G3: the gateway's access log per component (one row per request the gateway answered for it),
// and where the collector resumes the access log file after a restart.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('gateway_requests')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull())
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    // Not a reference: a deployment may go while its requests are kept.
    .addColumn('deployment_id', 'text')
    .addColumn('deployment', 'text')
    // Microseconds since the epoch, when the gateway logged the answer (cursor position with id).
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
    // The access log file's path; one row per file the collector follows.
    .addColumn('path', 'text', (c) => c.primaryKey())
    // The file read (device:inode) and the offset after its last stored line.
    .addColumn('file_id', 'text', (c) => c.notNull())
    .addColumn('offset', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}
