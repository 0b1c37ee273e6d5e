import type { RequestContext } from '../control/context.js';
import { findComponent, findEnvironment } from '../control/lookups.js';
import { readInOrg } from '../control/org-access.js';
import type { AlertDeliveryAttempt } from '../store/schema.js';
import type { AlertDeps } from './alert-rules.js';

export interface AlertNotificationView {
  transition: 'fired' | 'resolved';
  channel: 'webhook' | 'email';
  target: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: AlertDeliveryAttempt[];
}

/** One firing of a rule: when it fired and resolved, what it saw, and what was sent. */
export interface AlertIncidentView {
  id: string;
  rule: string;
  kind: string;
  environment: string;
  source: 'rondo' | 'alertmanager';
  summary: string;
  firedAt: string;
  resolvedAt: string | null;
  resolution: string | null;
  notifications: AlertNotificationView[];
}

/** The alert history of a component, newest first (rules deleted since keep their incidents). */
export async function listAlertHistory(
  deps: AlertDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  filter: { environment?: string; rule?: string; limit?: number } = {},
): Promise<{ items: AlertIncidentView[] }> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const { db } = deps.store;
  const c = await findComponent(db, org.id, project, component);
  let q = db
    .selectFrom('alert_incidents as i')
    .innerJoin('environments as e', 'e.id', 'i.environment_id')
    .selectAll('i')
    .select('e.name as environment')
    .where('i.component_id', '=', c.id);
  if (filter.environment) {
    const env = await findEnvironment(db, org.id, filter.environment);
    q = q.where('i.environment_id', '=', env.id);
  }
  if (filter.rule) q = q.where('i.rule_name', '=', filter.rule);
  const incidents = await q
    .orderBy('i.fired_at', 'desc')
    .orderBy('i.id', 'desc')
    .limit(filter.limit ?? 50)
    .execute();
  const notes = incidents.length
    ? await db
        .selectFrom('alert_notifications')
        .select(['incident_id', 'transition', 'channel', 'target', 'status', 'attempts'])
        .where(
          'incident_id',
          'in',
          incidents.map((i) => i.id),
        )
        .orderBy('created_at')
        .orderBy('id')
        .execute()
    : [];
  return {
    items: incidents.map((i) => ({
      id: i.id,
      rule: i.rule_name,
      kind: i.kind,
      environment: i.environment,
      source: i.source === 'alertmanager' ? 'alertmanager' : 'rondo',
      summary: i.summary,
      firedAt: i.fired_at.toISOString(),
      resolvedAt: i.resolved_at?.toISOString() ?? null,
      resolution: i.resolution,
      notifications: notes
        .filter((n) => n.incident_id === i.id)
        .map((n) => ({
          transition: n.transition as AlertNotificationView['transition'],
          channel: n.channel as AlertNotificationView['channel'],
          target: n.target,
          status: n.status as AlertNotificationView['status'],
          attempts: n.attempts,
        })),
    })),
  };
}
