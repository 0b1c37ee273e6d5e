import { readFileSync } from 'node:fs';
import type { SmtpSettings } from './alert-notifier.js';

/** How alerts are evaluated and sent (docs/observability.md, "Alerts"). */
export interface AlertSettings {
  /** Where alert emails go out; without it, rules with email addresses are refused. */
  smtp?: SmtpSettings;
  /** How often Rondo evaluates log, build-failure and system rules (default 15 s). */
  evaluateMs?: number;
  /** How often due notifications are sent (default 1 s). */
  deliverMs?: number;
  /** Waits between delivery attempts (default 5 s, 30 s, 2 min, 10 min, 30 min). */
  retryDelaysMs?: number[];
  /**
   * Latency, traffic and resource rules go to Prometheus as a rule file, and Alertmanager's
   * notifications come back with the token in this file; default with the platform's Prometheus.
   */
  prometheus?: { rulesFile: string; prometheusListen: string; receiverTokenFile: string };
}

/** `RONDO_SMTP_HOST`, `_PORT` (587), `_FROM`, `_SECURE`, `_USER`, `_PASSWORD_FILE` (a file: never a variable). */
export function loadAlertSettings(env: NodeJS.ProcessEnv): AlertSettings {
  const host = env.RONDO_SMTP_HOST;
  if (!host) return {};
  const port = Number(env.RONDO_SMTP_PORT || 587);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`RONDO_SMTP_PORT must be 1-65535, got '${env.RONDO_SMTP_PORT}'`);
  const from = env.RONDO_SMTP_FROM;
  if (!from || !/^[^@\s]+@[^@\s]+$|<[^@\s]+@[^@\s]+>$/.test(from))
    throw new Error(`RONDO_SMTP_FROM must be the sender's address (alerts@example.com), got '${from ?? ''}'`);
  const secure = env.RONDO_SMTP_SECURE;
  if (secure !== undefined && !['', 'true', 'false'].includes(secure))
    throw new Error(`RONDO_SMTP_SECURE must be true or false, got '${secure}'`);
  const smtp: SmtpSettings = { host, port, from, secure: secure === 'true' };
  if (env.RONDO_SMTP_USER) {
    smtp.user = env.RONDO_SMTP_USER;
    const file = env.RONDO_SMTP_PASSWORD_FILE;
    if (file) smtp.password = readFileSync(file, 'utf8').trim();
  }
  return { smtp };
}
