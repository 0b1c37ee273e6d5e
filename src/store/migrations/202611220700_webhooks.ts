import { type Kysely, sql } from 'kysely';

// F6: a webhook per (organization, repository), its deliveries, and what components watch.
export async function up(db: Kysely<unknown>): Promise<void> {
  // A repository's webhook secret belongs to no single component.
  await db.schema
    .alterTable('config_values')
    .alterColumn('component_id', (c) => c.dropNotNull())
    .execute();
  await db.schema
    .createTable('repository_hooks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('repo_key', 'text', (c) => c.notNull())
    .addColumn('secret_value_id', 'text', (c) => c.notNull().references('config_values.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('rotated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // Polling, for repositories that cannot send webhooks: off while the interval is null.
    .addColumn('poll_interval_seconds', 'integer')
    .addColumn('polled_at', 'timestamptz')
    .addColumn('poll_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('poll_error', 'text')
    .addColumn('poll_heads', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addUniqueConstraint('repository_hooks_repo', ['org_id', 'repo_key'])
    .execute();
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('hook_id', 'text', (c) => c.references('repository_hooks.id').onDelete('cascade'))
    .addColumn('org_id', 'text', (c) => c.references('organizations.id').onDelete('cascade'))
    .addColumn('provider', 'text', (c) => c.notNull())
    // Only verified deliveries claim their id: a forged one cannot use up a real delivery's.
    .addColumn('delivery_id', 'text')
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('detail', 'jsonb', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_once')
    .on('webhook_deliveries')
    .columns(['hook_id', 'delivery_id'])
    .unique()
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_org_received')
    .on('webhook_deliveries')
    .columns(['org_id', 'received_at'])
    .execute();
  await db.schema
    .alterTable('components')
    .addColumn('watch_paths', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
  await db.schema
    .alterTable('components')
    .addColumn('build_tags', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}
