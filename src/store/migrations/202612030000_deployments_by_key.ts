import type { Kysely } from 'kysely';

// G6: a reconcile reads its key's deployments by (component, environment, live statuses). The
// index it found was (environment, status), which reads every deployment of the environment:
// 1,000 components in one environment made each key's read a scan of 1,000 rows. With the
// component as its third column the same index finds the key's rows alone, and still serves the
// queries by environment and status.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('deployments_environment').execute();
  await db.schema
    .createIndex('deployments_environment')
    .on('deployments')
    .columns(['environment_id', 'status', 'component_id'])
    .execute();
}
