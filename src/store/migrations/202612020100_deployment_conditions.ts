import { type Kysely, sql } from 'kysely';

// G5: a deployment's phase and conditions, persisted so the gateway's desired state and what the
// API shows are read from the store alone (the rollout's switch no longer lives in memory). Every
// deployment carries its spec (the schema types it as such): rows from before specs existed get
// one made of their image and replica count.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('deployments')
    .addColumn('phase', 'text', (c) => c.notNull().defaultTo('Pending'))
    .addColumn('conditions', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
  await sql`
    update deployments set phase = case status
      when 'rolling-out' then 'Progressing'
      when 'active' then 'Active'
      when 'failed' then 'Failed'
      when 'superseded' then 'Superseded'
      else 'Pending' end`.execute(db);
  await sql`
    update deployments set spec = jsonb_build_object(
      'image', coalesce(image, ''), 'replicas', coalesce(replicas, 0),
      'endpoints', '[]'::jsonb, 'env', '{}'::jsonb)
    where spec is null`.execute(db);
  await sql`alter table deployments alter column spec set not null`.execute(db);
}
