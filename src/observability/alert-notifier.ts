import { createHmac } from 'node:crypto';
import { createTransport, type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { Periodic } from '../control/periodic.js';
import { storableText } from '../domain/storable-text.js';
import type { Keyring } from '../secrets/envelope.js';
import type { AlertDeliveryAttempt } from '../store/schema.js';
import type { Store } from '../store/store.js';

/** The SMTP server alert emails go through (RONDO_SMTP_*). */
export interface SmtpSettings {
  host: string;
  port: number;
  from: string;
  /** Implicit TLS (port 465); otherwise STARTTLS when the server offers it. */
  secure?: boolean;
  user?: string;
  password?: string;
}

export interface AlertNotifierDeps {
  store: Store;
  keyring: Keyring;
  logger: Logger;
  smtp?: SmtpSettings;
  /** Waits before the 2nd, 3rd… attempt; after the last one the notification is `failed`. */
  retryDelaysMs?: readonly number[];
  now?: () => Date;
}

/** The JSON body of a webhook notification (docs/observability.md, "Alerts"). */
export interface AlertPayload {
  status: 'firing' | 'resolved';
  rule: string;
  kind: string;
  org: string;
  project: string;
  component: string;
  environment: string;
  summary: string;
  firedAt: string;
  resolvedAt: string | null;
  resolution: string | null;
  incident: string;
  notification: string;
}

export const DEFAULT_RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000];
const SEND_TIMEOUT_MS = 10_000;
/** A claimed notification is not picked again for this long (another control plane, a slow send). */
const CLAIM_MS = 60_000;

/** `sha256=<hex>` of `<timestamp>.<body>`, keyed with the rule's secret: what a receiver recomputes. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Sends alert notifications (webhook, email) from the `alert_notifications` outbox: each due
 * notification is claimed, tried, and its attempt recorded; failures are retried with back-off.
 */
export class AlertNotifier {
  readonly #deps: AlertNotifierDeps;
  readonly #periodic: Periodic;
  readonly #log: Logger;
  readonly #delays: readonly number[];
  #mail: Transporter | undefined;

  constructor(deps: AlertNotifierDeps, everyMs = 1000) {
    this.#deps = deps;
    this.#delays = deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.#log = deps.logger.child({ part: 'alert-notifier' });
    this.#periodic = new Periodic(
      () => this.deliverDue(),
      everyMs,
      (err) => this.#log.warn({ err: String(err) }, 'sending alert notifications failed'),
    );
  }

  start(): void {
    this.#periodic.start();
  }

  async stop(): Promise<void> {
    await this.#periodic.stop();
    this.#mail?.close();
  }

  /** Tries every notification that is due; returns how many were tried. */
  async deliverDue(): Promise<number> {
    const { db } = this.#deps.store;
    const now = this.#now();
    const due = await db
      .selectFrom('alert_notifications')
      .select(['id', 'next_attempt_at'])
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .limit(20)
      .execute();
    let tried = 0;
    for (const n of due) {
      const claimed = await db
        .updateTable('alert_notifications')
        .set({ next_attempt_at: new Date(now.getTime() + CLAIM_MS) })
        .where('id', '=', n.id)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '=', n.next_attempt_at)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      tried++;
      await this.#attempt(n.id);
    }
    return tried;
  }

  #now(): Date {
    return this.#deps.now?.() ?? new Date();
  }

  async #attempt(id: string): Promise<void> {
    const { db } = this.#deps.store;
    const n = await db
      .selectFrom('alert_notifications as n')
      .innerJoin('alert_incidents as i', 'i.id', 'n.incident_id')
      .innerJoin('components as c', 'c.id', 'i.component_id')
      .innerJoin('projects as p', 'p.id', 'c.project_id')
      .innerJoin('organizations as o', 'o.id', 'i.org_id')
      .innerJoin('environments as e', 'e.id', 'i.environment_id')
      .leftJoin('alert_rules as r', 'r.id', 'n.rule_id')
      .leftJoin('config_values as v', 'v.id', 'r.webhook_secret_value_id')
      .select(['n.id', 'n.transition', 'n.channel', 'n.target', 'n.attempts', 'n.incident_id'])
      .select(['i.rule_name', 'i.kind', 'i.summary', 'i.fired_at', 'i.resolved_at', 'i.resolution'])
      .select(['c.name as component', 'p.name as project', 'o.name as org', 'e.name as environment'])
      .select(['v.id as value_id', 'v.key_id', 'v.wrapped_key', 'v.ciphertext', 'r.emails'])
      .where('n.id', '=', id)
      .executeTakeFirst();
    if (!n) return;
    const payload: AlertPayload = {
      status: n.transition === 'resolved' ? 'resolved' : 'firing',
      rule: n.rule_name,
      kind: n.kind,
      org: n.org,
      project: n.project,
      component: n.component,
      environment: n.environment,
      summary: n.summary,
      firedAt: n.fired_at.toISOString(),
      resolvedAt: n.transition === 'resolved' ? (n.resolved_at?.toISOString() ?? null) : null,
      resolution: n.transition === 'resolved' ? n.resolution : null,
      incident: n.incident_id,
      notification: n.id,
    };
    let outcome: { ok: boolean; detail: string; final?: boolean };
    try {
      if (n.channel === 'webhook') {
        if (!n.value_id || !n.key_id || !n.wrapped_key || !n.ciphertext)
          outcome = { ok: false, detail: 'the rule was deleted with its secret', final: true };
        else {
          const secret = this.#deps.keyring
            .decrypt({ keyId: n.key_id, wrappedKey: n.wrapped_key, ciphertext: n.ciphertext }, n.value_id)
            .toString('utf8');
          outcome = await this.#postWebhook(n.target, secret, payload);
        }
      } else outcome = await this.#sendEmail(n.emails ?? n.target.split(', '), payload);
    } catch (err) {
      // Only the error's message: a cause could quote request options, never the secret itself.
      outcome = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    await this.#record(id, n.attempts, outcome);
  }

  async #record(
    id: string,
    previous: AlertDeliveryAttempt[],
    outcome: { ok: boolean; detail: string; final?: boolean },
  ): Promise<void> {
    const now = this.#now();
    const attempts = [
      ...previous,
      { at: now.toISOString(), ok: outcome.ok, detail: storableText(outcome.detail, { maxChars: 300 }) },
    ];
    const delay = this.#delays[previous.length];
    const status = outcome.ok ? 'delivered' : outcome.final || delay === undefined ? 'failed' : 'pending';
    await this.#deps.store.db
      .updateTable('alert_notifications')
      .set({
        status,
        attempts: JSON.stringify(attempts),
        next_attempt_at: status === 'pending' ? new Date(now.getTime() + delay!) : null,
      })
      .where('id', '=', id)
      .execute();
    if (!outcome.ok)
      this.#log.info(
        { notification: id, attempt: attempts.length, status, detail: outcome.detail },
        'alert notification not delivered',
      );
  }

  async #postWebhook(url: string, secret: string, payload: AlertPayload) {
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(this.#now().getTime() / 1000));
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'rondo-alerts',
        'x-rondo-delivery': payload.notification,
        'x-rondo-timestamp': timestamp,
        'x-rondo-signature': signPayload(secret, timestamp, body),
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return { ok: res.status >= 200 && res.status < 300, detail: `HTTP ${res.status}` };
  }

  async #sendEmail(to: string[], p: AlertPayload) {
    const smtp = this.#deps.smtp;
    if (!smtp) return { ok: false, detail: 'no SMTP server is configured (RONDO_SMTP_HOST)' };
    this.#mail ??= createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure ?? false,
      ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
      connectionTimeout: SEND_TIMEOUT_MS,
      greetingTimeout: SEND_TIMEOUT_MS,
      socketTimeout: SEND_TIMEOUT_MS,
    });
    const state = p.status === 'firing' ? 'FIRING' : 'RESOLVED';
    const where = `${p.project}/${p.component} in ${p.environment}`;
    const info = await this.#mail.sendMail({
      from: smtp.from,
      to,
      subject: `[Rondo ${state}] ${p.rule}: ${where}`,
      text: [
        `Alert rule ${p.rule} (${p.kind}) of ${where}, organization ${p.org}: ${state.toLowerCase()}.`,
        '',
        p.summary,
        '',
        `Fired at ${p.firedAt}${p.resolvedAt ? `, resolved at ${p.resolvedAt}${p.resolution ? ` (${p.resolution})` : ''}` : ''}.`,
        `History: rondo alerts history ${p.component} --project ${p.project} --env ${p.environment}`,
      ].join('\n'),
      headers: { 'X-Rondo-Incident': p.incident },
    });
    return { ok: true, detail: `accepted: ${String(info.response ?? '').slice(0, 200)}` };
  }
}
