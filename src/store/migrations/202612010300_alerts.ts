import { type Kysely, sql } from 'kysely';

// G3: alert rules per component and environment, one history of what fired and resolved, the
// notifications sent for it; and what DORA figures need: a build's commit time and when a
// deployment became active.
export async function up(db: Kysely<unknown>): Promise<void> {
  const now = sql`now()`;
  await db.schema
    .createTable('alert_rules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('params', 'jsonb', (c) => c.notNull())
    .addColumn('webhook_url', 'text')
    // The signing secret: an encrypted `config_values` row, never plaintext.
    .addColumn('webhook_secret_value_id', 'text', (c) => c.references('config_values.id'))
    .addColumn('emails', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    // The evaluator's view: `ok` or `firing`, the open incident, and what it has seen (event ids).
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('ok'))
    .addColumn('incident_id', 'text')
    .addColumn('memory', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addUniqueConstraint('alert_rules_component_name', ['component_id', 'name'])
    .execute();
  await db.schema
    .createTable('alert_incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('component_id', 'text', (c) => c.notNull().references('components.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    // History outlives its rule: the rule's name and kind are kept as they were.
    .addColumn('rule_id', 'text', (c) => c.references('alert_rules.id').onDelete('set null'))
    .addColumn('rule_name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    // `rondo` (its own evaluator) or `alertmanager` (Prometheus rules).
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('fired_at', 'timestamptz', (c) => c.notNull())
    .addColumn('resolved_at', 'timestamptz')
    // Why it resolved: the signal cleared, or the rule was disabled or deleted.
    .addColumn('resolution', 'text')
    .execute();
  await db.schema
    .createIndex('alert_incidents_component_fired')
    .on('alert_incidents')
    .columns(['component_id', 'fired_at'])
    .execute();
  await db.schema
    .createTable('alert_notifications')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull().references('alert_incidents.id').onDelete('cascade'))
    .addColumn('rule_id', 'text', (c) => c.references('alert_rules.id').onDelete('set null'))
    // `fired` or `resolved`; `webhook` or `email`, and where to.
    .addColumn('transition', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    // `pending` (more attempts due), `delivered`, `failed` (gave up).
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .execute();
  await sql`create index alert_notifications_due on alert_notifications (next_attempt_at)
            where status = 'pending'`.execute(db);

  await db.schema.alterTable('builds').addColumn('committed_at', 'timestamptz').execute();
  await db.schema.alterTable('deployments').addColumn('activated_at', 'timestamptz').execute();
  await sql`update deployments set activated_at = updated_at where status = 'active'`.execute(db);
  // Set by the database, so every way a deployment becomes active (rollout, a data plane driver
  // to come) records it without each remembering to.
  await sql`create function deployments_activated() returns trigger language plpgsql as $$
            begin
              if new.status = 'active' and old.status is distinct from 'active' then
                new.activated_at := now();
              end if;
              return new;
            end $$`.execute(db);
  await sql`create trigger deployments_activated before update of status on deployments
            for each row execute function deployments_activated()`.execute(db);
}
