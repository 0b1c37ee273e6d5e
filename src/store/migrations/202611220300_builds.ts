import { type Kysely, sql } from 'kysely';

// F3: one row per build of one commit of one component.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('builds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('commit', 'text')
    .addColumn('requested_ref', 'text', (c) => c.notNull())
    .addColumn('config_hash', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('steps', 'jsonb', (c) => c.notNull())
    .addColumn('image', 'text')
    .addColumn('descriptor', 'jsonb')
    .addColumn('reason', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('builds_component_created')
    .on('builds')
    .columns(['component_id', 'created_at'])
    .execute();
  await db.schema
    .createIndex('builds_reuse')
    .on('builds')
    .columns(['component_id', 'commit', 'config_hash', 'status'])
    .execute();
}
