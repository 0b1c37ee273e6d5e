import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricsSettings } from '../observability/metrics/metrics-settings.js';
import { httpAnswers, type ManagedProcess } from './processes.js';

/** What Prometheus scrapes: the control plane's `/metrics` and the gateway's exporter `/metrics`. */
export interface ScrapeTargets {
  /** The control plane's `host:port` as Prometheus reaches it (loopback). */
  controlPlane: string;
  /** The gateway's Prometheus exporter `host:port` (HAProxy's). */
  gatewayMetrics: string;
  /** Alerting (G3): the rule file the control plane writes, and Alertmanager's `host:port`. */
  alerting?: { rulesFile: string; alertmanager: string };
}

/** The scrape configuration Rondo writes; Prometheus reads nothing else of Rondo's. */
export function prometheusConfig(settings: MetricsSettings, targets: ScrapeTargets): string {
  const interval = `${settings.scrapeIntervalSeconds}s`;
  // A scrape must end before the next one starts.
  const timeout = `${Math.max(1, settings.scrapeIntervalSeconds - 1)}s`;
  return [
    '# Written by rondo up at each start; edits are overwritten (docs/observability.md).',
    'global:',
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${timeout}`,
    `  evaluation_interval: ${interval}`,
    ...(targets.alerting
      ? [
          `rule_files: [${JSON.stringify(targets.alerting.rulesFile)}]`,
          'alerting:',
          `  alertmanagers: [{ static_configs: [{ targets: ["${targets.alerting.alertmanager}"] }] }]`,
        ]
      : []),
    'scrape_configs:',
    '  - job_name: rondo',
    '    metrics_path: /metrics',
    `    static_configs: [{ targets: ["${targets.controlPlane}"] }]`,
    '  - job_name: gateway',
    '    metrics_path: /metrics',
    `    static_configs: [{ targets: ["${targets.gatewayMetrics}"] }]`,
    '',
  ].join('\n');
}

/** Where Prometheus keeps its configuration and samples: `<dataDir>/metrics`. */
export function prometheusDir(dataDir: string): string {
  return join(dataDir, 'metrics');
}

/**
 * Prometheus as a part of the local platform (Debian's `prometheus`): on loopback, its samples
 * under the data directory, kept for the retention setting. The configuration is written anew
 * each time the part is built, so a changed port or target takes effect at the next `rondo up`.
 */
export function prometheusProcess(
  dataDir: string,
  settings: MetricsSettings,
  targets: ScrapeTargets,
): ManagedProcess {
  const dir = prometheusDir(dataDir);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, prometheusConfig(settings, targets));
  return {
    name: 'prometheus',
    command: 'prometheus',
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--storage.tsdb.retention.time=${settings.retention}`,
      `--web.listen-address=${settings.listen}`,
      '--log.level=warn',
      // The control plane reloads the alert rules it writes (POST /-/reload, loopback only).
      '--web.enable-lifecycle',
    ],
    // 503 until the TSDB is open (a WAL replay after a crash may take a while).
    ready: () => readyAnswers(settings.listen),
  };
}

/** True once Prometheus answers 200 on `/-/ready`. */
export async function readyAnswers(listen: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${listen}/-/ready`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** For `ensurePlatform`: something already answers there (ours from before, or the supervisor's). */
export const prometheusAnswers = (listen: string) => httpAnswers(`http://${listen}/-/ready`);
