import { type Kysely, sql } from 'kysely';

// G4: a change signal for the console's live views. Every write of a component's builds,
// deployments (and their events), executions or approvals notifies `rondo_component_changes`
// with `<table>:<component id>` at commit, from whichever control plane wrote it, so a stream
// re-reads when something changed instead of on a timer.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION rondo_component_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      component text;
    BEGIN
      IF TG_TABLE_NAME = 'deployment_events' THEN
        SELECT component_id INTO component FROM deployments WHERE id = NEW.deployment_id;
      ELSE
        component := NEW.component_id;
      END IF;
      IF component IS NOT NULL THEN
        PERFORM pg_notify('rondo_component_changes', TG_TABLE_NAME || ':' || component);
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  const watched = [
    ['builds', 'INSERT OR UPDATE OF status'],
    ['deployments', 'INSERT OR UPDATE OF status'],
    ['deployment_events', 'INSERT'],
    ['executions', 'INSERT OR UPDATE OF status'],
    ['approval_requests', 'INSERT OR UPDATE OF status, decisions'],
  ] as const;
  for (const [table, on] of watched)
    await sql`${sql.raw(`CREATE TRIGGER ${table}_changed AFTER ${on} ON ${table}`)}
      FOR EACH ROW EXECUTE FUNCTION rondo_component_changed()`.execute(db);
}
