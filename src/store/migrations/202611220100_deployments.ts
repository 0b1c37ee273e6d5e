import { type Kysely, sql } from 'kysely';

// F2: endpoints on components, deployments that carry what they run, the installation's identity
// and each environment's internal gateway slot.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema
    .alterTable('components')
    .addColumn('endpoints', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
  await db.schema.alterTable('environments').addColumn('gateway_slot', 'integer').execute();
  // Existing environments get slots in creation order; new ones take the next free slot.
  await sql`update environments e set gateway_slot = s.n - 1
            from (select id, row_number() over (order by created_at, id) as n from environments) s
            where s.id = e.id`.execute(db);
  await db.schema
    .createIndex('environments_gateway_slot')
    .on('environments')
    .column('gateway_slot')
    .unique()
    .execute();
  for (const [name, type] of [
    ['image', 'text'],
    ['replicas', 'integer'],
    ['spec', 'jsonb'],
    ['status_reason', 'text'],
    ['created_by', 'text'],
  ] as const) {
    await db.schema.alterTable('deployments').addColumn(name, type).execute();
  }
  await db.schema
    .alterTable('deployments')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Never two rollouts of one component into one environment at once.
  await sql`create unique index deployments_one_in_progress on deployments (component_id, environment_id)
            where status in ('pending', 'rolling-out')`.execute(db);
  await sql`create unique index deployments_one_active on deployments (component_id, environment_id)
            where status = 'active'`.execute(db);
}
