import { type Kysely, sql } from 'kysely';

// F5: task executions and the per-environment state of task schedules.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('executions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('triggered_by', 'text', (c) => c.notNull())
    // The schedule's due time (scheduled runs); one run per due time, whichever replica claims it.
    .addColumn('due_at', 'timestamptz')
    .addColumn('args', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_reason', 'text')
    .addColumn('exit_code', 'integer')
    .addColumn('workload_id', 'text')
    .addColumn('logs', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('logs_truncated', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('executions_component_env_created')
    .on('executions')
    .columns(['component_id', 'environment_id', 'created_at'])
    .execute();
  await db.schema.createIndex('executions_status').on('executions').column('status').execute();
  await db.schema
    .createIndex('executions_due_once')
    .on('executions')
    .columns(['component_id', 'environment_id', 'due_at'])
    .unique()
    .execute();
  await db.schema
    .createTable('task_schedules')
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('suspended', 'boolean', (c) => c.notNull().defaultTo(false))
    // The newest due time handled (run, skipped or missed): what a restart looks back to.
    .addColumn('last_due_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('task_schedules_pk', ['component_id', 'environment_id'])
    .execute();
}
