import { type Kysely, sql } from 'kysely';

// G5: a deployment's phase and conditions, persisted so the gateway's desired state and what the
// API shows are read from the store alone (the rollout's switch no longer lives in memory).
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
}
