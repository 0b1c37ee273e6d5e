import { z } from 'zod';
import { RONDO_EVALUATED } from '../domain/alerts.js';
import type { Store } from '../store/store.js';
import { fireIncident, resolveIncident } from './alert-incidents.js';

/** What Alertmanager's webhook sends (version 4), as far as Rondo reads it. */
export const AlertmanagerPayload = z.object({
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: z.record(z.string(), z.string()),
        annotations: z.record(z.string(), z.string()).default({}),
        startsAt: z.string(),
        endsAt: z.string(),
      }),
    )
    .max(1000),
});

const timeOr = (iso: string, fallback: Date) => {
  const t = Date.parse(iso);
  // Alertmanager's zero time (0001-01-01) means "not ended".
  return Number.isFinite(t) && t > 0 ? new Date(t) : fallback;
};

/**
 * Turns Alertmanager's notifications into the same history and channel deliveries as Rondo's own
 * evaluation. Only rules of the kinds Prometheus evaluates are touched; a rule that is gone or
 * disabled is left alone. Returns how many rules changed state.
 */
export async function receiveAlertmanager(
  store: Store,
  payload: z.infer<typeof AlertmanagerPayload>,
  now = new Date(),
): Promise<number> {
  let changed = 0;
  for (const a of payload.alerts) {
    const ruleId = a.labels.rondo_rule_id;
    if (!ruleId) continue;
    const rule = await store.db
      .selectFrom('alert_rules')
      .select('kind')
      .where('id', '=', ruleId)
      .executeTakeFirst();
    if (!rule || (RONDO_EVALUATED as readonly string[]).includes(rule.kind)) continue;
    const done = await store.db
      .transaction()
      .execute((tx) =>
        a.status === 'firing'
          ? fireIncident(
              tx,
              ruleId,
              a.annotations.summary ?? 'fired',
              timeOr(a.startsAt, now),
              'alertmanager',
            ).then(Boolean)
          : resolveIncident(tx, ruleId, timeOr(a.endsAt, now), 'the signal cleared (Prometheus)'),
      );
    if (done) changed++;
  }
  return changed;
}
