import { type Kysely, sql } from 'kysely';

// F4: encrypted configuration values, draft config per scope, releases, named deployments, approvals.
export async function up(db: Kysely<unknown>): Promise<void> {
  const now = sql`now()`;
  // Immutable ciphertexts; only a master-key rotation touches them (re-wrapping their data keys).
  await db.schema
    .createTable('config_values')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('wrapped_key', 'text', (c) => c.notNull())
    .addColumn('ciphertext', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .execute();
  // The draft: what the next deployment of a scope will carry. `environment_id` '' = component scope.
  await db.schema
    .createTable('config_entries')
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('secret', 'boolean', (c) => c.notNull())
    .addColumn('value_id', 'text', (c) => c.notNull().references('config_values.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('config_entries_pk', ['component_id', 'environment_id', 'key'])
    .execute();
  await db.schema
    .createTable('config_scopes')
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('config_scopes_pk', ['component_id', 'environment_id'])
    .execute();
  await db.schema
    .createTable('releases')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('build_id', 'text')
    .addColumn('image', 'text', (c) => c.notNull())
    .addColumn('commit', 'text')
    .addColumn('spec', 'jsonb', (c) => c.notNull())
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('config_revision', 'integer', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .execute();
  await db.schema
    .createIndex('releases_name')
    .on('releases')
    .columns(['component_id', 'name'])
    .unique()
    .execute();
  for (const [name, type] of [
    ['release_id', 'text'],
    ['name', 'text'],
    ['config_revision', 'integer'],
    ['action', 'text'],
    ['source_id', 'text'],
  ] as const) {
    await db.schema.alterTable('deployments').addColumn(name, type).execute();
  }
  await db.schema.alterTable('environments').addColumn('approval', 'jsonb').execute();
  await db.schema
    .createTable('approval_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id'))
    .addColumn('source_deployment_id', 'text', (c) => c.notNull())
    .addColumn('release_id', 'text', (c) => c.notNull().references('releases.id'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('required', 'integer', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requested_by_id', 'text', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull())
    .addColumn('decisions', 'jsonb', (c) => c.notNull())
    .addColumn('deployment_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .execute();
  await sql`create unique index approval_requests_one_pending on approval_requests (component_id, environment_id)
            where status = 'pending'`.execute(db);
}
