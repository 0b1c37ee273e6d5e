import { join } from 'node:path';
import { pack } from 'tar-stream';
import type { GatewayState } from '../domain/gateway-routes.js';
import { CONFIG_ID_PATH, type HaproxyConfig, type HaproxySettings, haproxyConfig } from './haproxy-config.js';

/**
 * Rondo's gateway inside a cluster (G6, docs/kubernetes.md): the same HAProxy and the same
 * configuration as this host's (`haproxyConfig`), run by a pod from the site's gateway image. What
 * is HAProxy-specific about it is here; the Kubernetes driver places the files and runs the
 * commands these functions give, and knows nothing of HAProxy's.
 */
export interface ClusterGatewaySettings {
  /** The node port of the public listener (every node's address). */
  publicPort: number;
  /** The node loopback port answering `/metrics` and the running configuration's identity. */
  controlPort: number;
  bodyLimitBytes: number;
}

/** Where the pod keeps the configuration it runs (a memory volume of its own). */
export const CLUSTER_GATEWAY_DIR = '/run/rondo-gateway';
/** Where the pod finds the configuration it starts with (the ConfigMap's files). */
export const CLUSTER_GATEWAY_INITIAL_DIR = '/etc/rondo-gateway';
const CONFIG_FILE = 'haproxy.cfg';

export function clusterHaproxySettings(s: ClusterGatewaySettings): HaproxySettings {
  return {
    publicListen: `:${s.publicPort}`,
    // On the node's every address: workloads reach it on their node's (`status.hostIP`).
    internalBindAddress: '',
    runtimeSocket: join(CLUSTER_GATEWAY_DIR, 'runtime.sock'),
    configDir: CLUSTER_GATEWAY_DIR,
    bodyLimitBytes: s.bodyLimitBytes,
    metricsListen: `127.0.0.1:${s.controlPort}`,
    // The control plane reaches the pod through the API server only: a key change is a reload.
    keysInIdentity: true,
  };
}

/** The configuration a cluster's gateway runs for `state`. */
export function clusterGatewayConfig(state: GatewayState, s: ClusterGatewaySettings): HaproxyConfig {
  return haproxyConfig(state, clusterHaproxySettings(s));
}

/** Every file of a configuration by name (the ConfigMap's keys): maps, key maps and `haproxy.cfg`. */
export function clusterGatewayFiles(config: HaproxyConfig): Record<string, string> {
  return { ...config.maps, ...config.runtimeMaps, [CONFIG_FILE]: config.text };
}

/**
 * The container's command: copy the configuration it was given (the ConfigMap, the source of
 * truth after a restart) to its own directory, then HAProxy in master-worker mode as the
 * container's first process, which a SIGUSR2 reloads.
 */
export function clusterGatewayCommand(): string[] {
  const d = CLUSTER_GATEWAY_DIR;
  return [
    '/bin/sh',
    '-c',
    `mkdir -p ${d} && cp -L ${CLUSTER_GATEWAY_INITIAL_DIR}/* ${d}/ && exec haproxy -W -S ${d}/master.sock,mode,600 -f ${d}/${CONFIG_FILE}`,
  ];
}

/**
 * What makes a running gateway pod serve `config`, run by the API server's exec: standard input
 * carries a tar of the files (read to its length, since a 1.20 API server cannot close an exec's
 * input), written maps first and `haproxy.cfg` last, each by a rename; then, unless the worker
 * already runs that configuration, a SIGUSR2 to the master (a hitless reload: the new worker takes
 * the listeners over, the old one finishes what it serves), and a wait until the worker
 * answering runs it. Exit 0: it does; else `haproxy -c`'s verdict on standard error.
 */
export async function clusterGatewayPush(
  config: HaproxyConfig,
  s: ClusterGatewaySettings,
  timeoutSeconds = 20,
): Promise<{ command: string[]; stdin: Buffer }> {
  const files = clusterGatewayFiles(config);
  const tar = pack();
  for (const [name, text] of Object.entries(files)) tar.entry({ name, mode: 0o644 }, text);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const c of tar) chunks.push(c as Buffer);
  const stdin = Buffer.concat(chunks);
  const d = CLUSTER_GATEWAY_DIR;
  const rounds = timeoutSeconds * 50;
  const script = [
    'set -e',
    `in=${d}/.incoming`,
    'rm -rf "$in" && mkdir -p "$in"',
    `head -c ${stdin.length} | tar -x -C "$in"`,
    `for f in $(ls "$in"); do [ "$f" = ${CONFIG_FILE} ] || mv -f "$in/$f" ${d}/$f; done`,
    `mv -f "$in/${CONFIG_FILE}" ${d}/${CONFIG_FILE}`,
    'set +e',
    `running() { wget -q -O - http://127.0.0.1:${s.controlPort}${CONFIG_ID_PATH} 2>/dev/null; }`,
    `[ "$(running)" = ${config.identity} ] && exit 0`,
    // The master is the container's first process once its start-up copy is done.
    '[ "$(cat /proc/1/comm)" = haproxy ] || { echo "HAProxy is not running yet" >&2; exit 5; }',
    'kill -USR2 1',
    'i=0',
    `while [ $i -lt ${rounds} ]; do`,
    `  [ "$(running)" = ${config.identity} ] && exit 0`,
    '  sleep 0.02; i=$((i+1))',
    'done',
    `haproxy -c -q -f ${d}/${CONFIG_FILE} >&2 || exit 3`,
    `echo "HAProxy did not run configuration ${config.identity} within ${timeoutSeconds} s" >&2`,
    'exit 4',
  ].join('\n');
  return { command: ['/bin/sh', '-c', script], stdin };
}
