import { type Kysely, sql } from 'kysely';

// Events shown with a deployment (§11): liveness restarts today; probe failures, crash loops later.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('deployment_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('deployment_events_deployment')
    .on('deployment_events')
    .columns(['deployment_id', 'id'])
    .execute();
}
