import { newId } from '../control/ids.js';
import { storableText } from '../domain/storable-text.js';
import type { Executor } from '../store/store.js';

/** Who found the signal: Rondo's own evaluator or Alertmanager (Prometheus rules). */
export type IncidentSource = 'rondo' | 'alertmanager';

/** One notification per channel of the rule, due now; the notifier sends and retries them. */
async function notify(
  tx: Executor,
  rule: { id: string; webhook_url: string | null; emails: string[] },
  incidentId: string,
  transition: 'fired' | 'resolved',
  at: Date,
): Promise<void> {
  const targets = [
    ...(rule.webhook_url ? [{ channel: 'webhook', target: rule.webhook_url }] : []),
    ...(rule.emails.length ? [{ channel: 'email', target: rule.emails.join(', ') }] : []),
  ];
  if (targets.length === 0) return;
  await tx
    .insertInto('alert_notifications')
    .values(
      targets.map((t) => ({
        id: newId('ntf'),
        incident_id: incidentId,
        rule_id: rule.id,
        transition,
        channel: t.channel,
        target: t.target,
        status: 'pending',
        attempts: '[]',
        next_attempt_at: at,
        created_at: at,
      })),
    )
    .execute();
}

/**
 * Opens an incident for a rule that is not firing yet and queues its notifications; a rule
 * already firing (or gone, or disabled) is left as it is. Returns the incident id, if one opened.
 */
export async function fireIncident(
  tx: Executor,
  ruleId: string,
  summary: string,
  at: Date,
  source: IncidentSource,
): Promise<string | undefined> {
  const rule = await tx
    .selectFrom('alert_rules')
    .selectAll()
    .where('id', '=', ruleId)
    .forUpdate()
    .executeTakeFirst();
  if (!rule?.enabled || rule.state === 'firing') return undefined;
  const id = newId('inc');
  await tx
    .insertInto('alert_incidents')
    .values({
      id,
      org_id: rule.org_id,
      component_id: rule.component_id,
      environment_id: rule.environment_id,
      rule_id: rule.id,
      rule_name: rule.name,
      kind: rule.kind,
      source,
      summary: storableText(summary, { maxChars: 2000 }),
      fired_at: at,
    })
    .execute();
  await tx
    .updateTable('alert_rules')
    .set({ state: 'firing', incident_id: id })
    .where('id', '=', rule.id)
    .execute();
  await notify(tx, rule, id, 'fired', at);
  return id;
}

/**
 * Resolves the rule's open incident and queues the `resolved` notifications (not for a rule
 * being deleted: its secret goes with it).
 */
export async function resolveIncident(
  tx: Executor,
  ruleId: string,
  at: Date,
  resolution: string,
  options: { notify?: boolean } = {},
): Promise<boolean> {
  const rule = await tx
    .selectFrom('alert_rules')
    .selectAll()
    .where('id', '=', ruleId)
    .forUpdate()
    .executeTakeFirst();
  if (rule?.state !== 'firing' || !rule.incident_id) return false;
  await tx
    .updateTable('alert_incidents')
    .set({ resolved_at: at, resolution: storableText(resolution, { maxChars: 500 }) })
    .where('id', '=', rule.incident_id)
    .where('resolved_at', 'is', null)
    .execute();
  await tx
    .updateTable('alert_rules')
    .set({ state: 'ok', incident_id: null })
    .where('id', '=', rule.id)
    .execute();
  if (options.notify ?? true) await notify(tx, rule, rule.incident_id, 'resolved', at);
  return true;
}
