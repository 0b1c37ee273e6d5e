import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ALERT_PARAMS, type AlertKind, RONDO_EVALUATED } from '../domain/alerts.js';
import type { Store } from '../store/store.js';
import { cpuMillicores, selectorOf } from './metrics/metric-queries.js';

/** The Prometheus rule of one alert rule: its PromQL, and the summary Alertmanager passes back. */
export function promRule(r: {
  id: string;
  kind: string;
  params: Record<string, unknown>;
  component_id: string;
  environment_id: string;
}): { expr: string; summary: string } | undefined {
  const sel = selectorOf({ componentId: r.component_id, environmentId: r.environment_id });
  const value = '{{ $value | printf "%.1f" }}';
  switch (r.kind as AlertKind) {
    case 'latency': {
      const p = ALERT_PARAMS.latency.parse(r.params);
      return {
        expr: `histogram_quantile(${p.percentile / 100}, sum by (le) (rate(rondo_gateway_request_duration_seconds_bucket${sel}[${p.periodMinutes}m]))) * 1000 > ${p.thresholdMs}`,
        summary: `p${p.percentile} latency ${value} ms over ${p.periodMinutes} min (threshold ${p.thresholdMs} ms)`,
      };
    }
    case 'traffic': {
      const p = ALERT_PARAMS.traffic.parse(r.params);
      return {
        expr: `sum(rate(rondo_gateway_requests_total${sel}[${p.periodMinutes}m])) * 60 > ${p.requestsPerMinute}`,
        summary: `${value} requests per minute over ${p.periodMinutes} min (threshold ${p.requestsPerMinute})`,
      };
    }
    case 'resource': {
      const p = ALERT_PARAMS.resource.parse(r.params);
      // The busiest replica: a limit is per replica, and one replica near it is the one at risk.
      return p.resource === 'cpu'
        ? {
            expr: `${cpuMillicores(sel, `[${p.periodMinutes}m]`, 'max')} > ${p.threshold}`,
            summary: `CPU ${value} millicores over ${p.periodMinutes} min (threshold ${p.threshold})`,
          }
        : {
            expr: `max(avg_over_time(rondo_replica_memory_bytes${sel}[${p.periodMinutes}m])) / 1048576 > ${p.threshold}`,
            summary: `memory ${value} MiB over ${p.periodMinutes} min (threshold ${p.threshold} MiB)`,
          };
    }
    default:
      return undefined;
  }
}

/** The rule file: JSON, which Prometheus reads as YAML. Sorted by rule id, so unchanged rules write the same bytes. */
export function prometheusRuleFile(rules: readonly Parameters<typeof promRule>[0][]): string {
  const items = [...rules]
    .sort((a, b) => a.id.localeCompare(b.id))
    .flatMap((r) => {
      const rule = promRule(r);
      return rule
        ? [
            {
              alert: `rondo_${r.kind}`,
              expr: rule.expr,
              labels: { rondo_rule_id: r.id },
              annotations: { summary: rule.summary },
            },
          ]
        : [];
    });
  return `${JSON.stringify({ groups: [{ name: 'rondo', rules: items }] }, null, 1)}\n`;
}

/**
 * Keeps Prometheus' rule file equal to the enabled latency, traffic and resource rules, and has
 * Prometheus reload it when it changed (`POST /-/reload`).
 */
export class PrometheusAlertRules {
  readonly #deps: { store: Store; file: string; prometheusListen: string; logger: Logger };
  #written: string | undefined;

  constructor(deps: { store: Store; file: string; prometheusListen: string; logger: Logger }) {
    this.#deps = deps;
  }

  async sync(): Promise<void> {
    const rules = await this.#deps.store.db
      .selectFrom('alert_rules')
      .select(['id', 'kind', 'params', 'component_id', 'environment_id'])
      .where('enabled', '=', true)
      .where('kind', 'not in', [...RONDO_EVALUATED])
      .execute();
    const content = prometheusRuleFile(rules);
    if (content === this.#written) return;
    const { file } = this.#deps;
    let current: string | undefined;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== content) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(`${file}.tmp`, content);
      renameSync(`${file}.tmp`, file);
    }
    const res = await fetch(`http://${this.#deps.prometheusListen}/-/reload`, {
      method: 'POST',
      signal: AbortSignal.timeout(5000),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`Prometheus refused to reload its rules (HTTP ${res.status})`);
    this.#written = content;
  }
}
