import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpAnswers, type ManagedProcess } from './processes.js';

/** Where Alertmanager listens (`RONDO_ALERTMANAGER_LISTEN`, loopback, default 127.0.0.1:7075). */
export interface AlertmanagerSettings {
  listen: string;
}

export function loadAlertmanagerSettings(env: NodeJS.ProcessEnv = process.env): AlertmanagerSettings {
  const listen = env.RONDO_ALERTMANAGER_LISTEN || '127.0.0.1:7075';
  if (!/^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):\d{1,5}$/.test(listen))
    throw new Error(
      `RONDO_ALERTMANAGER_LISTEN must be a loopback host:port such as 127.0.0.1:7075; got '${listen}'`,
    );
  return { listen };
}

/** `<dataDir>/alerting`: Alertmanager's configuration and state, Prometheus' rule file, the receiver token. */
export function alertingDir(dataDir: string): string {
  return join(dataDir, 'alerting');
}

/** The rule file Rondo writes from the enabled latency, traffic and resource rules. */
export function alertRulesFile(dataDir: string): string {
  return join(alertingDir(dataDir), 'rules.yml');
}

/** The rule file, made empty if missing: Prometheus' config names it before the control plane first writes it. */
export function ensureAlertRulesFile(dataDir: string): string {
  const file = alertRulesFile(dataDir);
  mkdirSync(alertingDir(dataDir), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) writeFileSync(file, '{"groups":[]}\n');
  return file;
}

/**
 * The bearer token Alertmanager sends to Rondo's receiver, made once (mode 0600): the receiver
 * answers only to it, so nothing else on the host can forge alerts.
 */
export function receiverTokenFile(dataDir: string): string {
  const dir = alertingDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'receiver.token');
  if (!existsSync(file)) {
    try {
      writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      // `rondo up` and the control plane may both make it first: the one written stands.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return file;
}

export function readReceiverToken(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

/**
 * One route to Rondo's receiver, grouped per rule: Rondo keeps the history and sends the
 * notifications itself, so Alertmanager needs no other receiver. Resolutions are sent too.
 */
export function alertmanagerConfig(receiverUrl: string, tokenFile: string): string {
  return [
    '# Written by rondo up at each start; edits are overwritten (docs/observability.md).',
    'route:',
    '  receiver: rondo',
    '  group_by: [rondo_rule_id]',
    '  group_wait: 1s',
    '  group_interval: 5s',
    '  repeat_interval: 4h',
    'receivers:',
    '  - name: rondo',
    '    webhook_configs:',
    `      - url: ${JSON.stringify(receiverUrl)}`,
    '        send_resolved: true',
    '        http_config:',
    '          authorization:',
    '            type: Bearer',
    `            credentials_file: ${JSON.stringify(tokenFile)}`,
    '',
  ].join('\n');
}

/**
 * Alertmanager (Debian's `prometheus-alertmanager`) as a part of the local platform: on loopback,
 * its state under the data directory, without clustering, sending every alert to the control plane.
 */
export function alertmanagerProcess(
  dataDir: string,
  settings: AlertmanagerSettings,
  controlPlane: string,
): ManagedProcess {
  const dir = alertingDir(dataDir);
  mkdirSync(join(dir, 'state'), { recursive: true });
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(
    config,
    alertmanagerConfig(`http://${controlPlane}/hooks/alertmanager`, receiverTokenFile(dataDir)),
  );
  return {
    name: 'alertmanager',
    command: 'prometheus-alertmanager',
    args: [
      `--config.file=${config}`,
      `--storage.path=${join(dir, 'state')}`,
      `--web.listen-address=${settings.listen}`,
      // One instance: no gossip port opened on the host's addresses.
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    ready: () => httpAnswers(`http://${settings.listen}/-/ready`),
  };
}

export const alertmanagerAnswers = (listen: string) => httpAnswers(`http://${listen}/-/ready`);

/**
 * Where the control plane writes Prometheus' alert rules and finds Alertmanager's token: given
 * (tests), or those of the platform's Prometheus when it runs with one and a data directory.
 */
export function prometheusAlerting(config: {
  dataDir: string;
  alerts?: { prometheus?: { rulesFile: string; prometheusListen: string; receiverTokenFile: string } };
  platform?: { metrics?: { listen: string }; alerting?: AlertmanagerSettings };
}): { rulesFile: string; prometheusListen: string; receiverTokenFile: string } | undefined {
  if (config.alerts?.prometheus) return config.alerts.prometheus;
  const metrics = config.platform?.metrics;
  if (!metrics || !config.platform?.alerting || config.dataDir === 'memory://') return undefined;
  return {
    rulesFile: alertRulesFile(config.dataDir),
    prometheusListen: metrics.listen,
    receiverTokenFile: receiverTokenFile(config.dataDir),
  };
}
